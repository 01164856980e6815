#pragma once

#include "cellhub/actors/interfaces.hpp"
#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/cli/console_types.hpp"
#include "cellhub/cli/events_file.hpp"
#include "cellhub/cli/run_signal.hpp"
#include "cellhub/cluster/interfaces.hpp"
#include "cellhub/cluster/messages.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace cellhub::cli {

/// Chooses what the console does besides keeping the view.
struct console_options {
  /// Holds the cluster's configuration (load settings, names, the root's name).
  cluster_config config;
  /// Receives every lifecycle event as a JSON line, if set (opened by the caller).
  std::shared_ptr<events_file> events;
  /// Redraws a table on a terminal (else prints one plain line per second).
  bool terminal = false;
  /// Kills this many random cells per second with SIGKILL (0: no chaos).
  double chaos_rate = 0;
  /// Sets how often the view is shown.
  std::chrono::milliseconds refresh{250};
};

/// Names the console's protocol: the control actor of `cellhub run`, published to
/// remote clients (`--listen`), and its own timers (`tick`, `load`, `chaos`).
using console_actor = caf::typed_actor<
    caf::reacts_to<caf::join_atom, actors::supervisor_actor, actors::registry_actor>,
    caf::reacts_to<caf::join_atom, cluster::node_actor>,
    caf::reacts_to<caf::update_atom, std::string>, caf::reacts_to<actors::lifecycle_event>,
    caf::reacts_to<caf::tick_atom>, caf::reacts_to<load_atom>, caf::reacts_to<chaos_atom>,
    caf::replies_to<actors::which_atom>::with<std::vector<actors::child_info>>,
    caf::replies_to<actors::restart_atom, std::string>::with<caf::ok_atom>,
    caf::replies_to<caf::get_atom>::with<std::string>,
    caf::replies_to<actors::stop_atom>::with<caf::ok_atom>,
    caf::replies_to<cluster::cluster_atom>::with<cluster::cluster_status>,
    caf::replies_to<actors::call_atom, std::string, actors::payload>::with<actors::payload>>;

/// Spawns the console of `cellhub run`. Spawn it before the tree and give it to the tree
/// as a subscriber (`tree_options::subscribers`), so that it sees the very first event;
/// then send it `(caf::join_atom, root, registry)`. `(caf::update_atom, note)` shows a
/// line under the live table (what the stop is doing). It follows every lifecycle event
/// (live view, events file), and once joined drives the demo's request load and its
/// chaos, and answers remote control: `(which_atom)` → the cells' status as
/// `std::vector<child_info>`, `(restart_atom, name)` → `ok` once the cell runs a new
/// life, `(stop_atom)` → `ok`, then the cluster stops in order; `(caf::get_atom)` → a
/// one-line summary; `(cluster_atom)` → the cluster's status (empty, with no node name,
/// unless the host is a node of a cluster: give it its node with
/// `(caf::join_atom, node_actor)`); `(call_atom, name, payload)` → the cell's reply, by
/// cluster name on a node, else by the local registry's name. It monitors the root and reports to
/// `signal` a remote stop, the root's own escalation, the root's end and a failed write of the
/// events file.
console_actor spawn_console(caf::actor_system& sys, console_options options,
                            std::shared_ptr<run_signal> signal);

} // namespace cellhub::cli
