#pragma once

#include "cellhub/cli/cluster_config.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cellhub::cli {

/// Tells `cellhub run`'s main thread why it should end (filled by the console).
struct run_signal {
  /// Guards the fields below.
  std::mutex mutex;
  /// Is set when a remote `stop` asked for a clean stop.
  bool stop_requested = false;
  /// Is set when the root supervisor ended on its own.
  bool root_down = false;
  /// Holds the cause of the last escalation seen (which child broke the tree, why).
  std::string escalation;
  /// Is written to wake the main thread (an eventfd).
  int wake_fd = -1;

  /// Records a stop request or the root's end, then wakes the main thread.
  void notify(bool stop, bool down, std::string cause = {});
};

/// Chooses what the console does besides keeping the view.
struct console_options {
  /// Holds the cluster's configuration (load settings, names).
  cluster_config config;
  /// Names the JSON-lines events file, or empty.
  std::string events_file;
  /// Redraws a table on a terminal (else prints one plain line per second).
  bool terminal = false;
  /// Kills this many random cells per second with SIGKILL (0: no chaos).
  double chaos_rate = 0;
  /// Sets how often the view is shown.
  std::chrono::milliseconds refresh{250};
};

/// Spawns the console of `cellhub run`: it follows every lifecycle event of the
/// tree (live view, events file), drives the demo's request load and its chaos,
/// and answers remote control: `(which_atom)` → the cells' status as
/// `std::vector<child_info>`, `(restart_atom, name)` → `ok` once the cell runs a
/// new life, `(stop_atom)` → `ok`, then the cluster stops in order; `(caf::get_atom)`
/// → a one-line summary. It monitors the root supervisor and reports its end
/// through `signal`.
caf::actor spawn_console(caf::actor_system& sys, caf::actor root, caf::actor registry,
                         console_options options, std::shared_ptr<run_signal> signal);

} // namespace cellhub::cli
