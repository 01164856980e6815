#pragma once

#include "cellhub/actors/fwd.hpp"
#include "cellhub/cli/run_signal.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace cellhub::cli {

/// Names why a `cellhub run` ended.
enum class run_end_kind : std::uint8_t {
  /// SIGINT or SIGTERM asked for a stop.
  signal,
  /// `--duration` ran out.
  duration,
  /// A remote `cellhub stop` asked for a stop.
  remote_stop,
  /// Something failed at run time (the events file could not be written); the tree was
  /// stopped in order because of it.
  failure,
  /// The root supervisor reached its restart intensity and gave up.
  root_gave_up,
  /// The root supervisor ended without being asked and without giving up.
  root_ended,
};

/// Describes how a run ended, and so with which exit code.
struct run_end {
  /// Names why it ended.
  run_end_kind kind = run_end_kind::signal;
  /// Is set when a second stop signal ended every cell at once with SIGKILL.
  bool killed = false;
  /// Explains a failure, a root that gave up (which child broke it, and why) or a root
  /// that ended by itself (its exit reason); empty for a requested stop.
  std::string detail;

  /// Returns the exit code that tells this end truthfully: 0 for a requested stop
  /// (signal, duration, remote stop, also when a second signal killed every cell), 1 for
  /// a failure or a root that ended by itself, 3 for a root that gave up.
  [[nodiscard]] int exit_code() const noexcept;
};

/// Waits until the tree's root has ended, stopping the tree as asked on the way: the
/// first SIGINT/SIGTERM read from `signal_fd` (or `duration` running out, a remote
/// stop, a failure reported to `signal`) asks the root to stop in order, and says so
/// through `say`; a stop signal while that stop is under way kills every cell at once.
/// `wake_fd` is the eventfd `signal` writes to. Only the root's end (reported by the
/// console through `signal`) ends the wait; the caller then finishes the tree with
/// `stop()`.
run_end await_run_end(actors::supervision_tree& tree, const run_signal& signal, int signal_fd,
                      int wake_fd, std::optional<std::chrono::nanoseconds> duration,
                      const std::function<void(const std::string&)>& say);

} // namespace cellhub::cli
