#pragma once

// life_end — how one child life ended. Made once, where the end is seen (the peer
// actor for a cell, the supervisor for a child supervisor), and carried unchanged
// through the supervisor, its core, the events, `which_children` and the CLI; words
// are made from it only where it is logged or written as JSON (`describe`).

#include "cellhub/transport/process.hpp"
#include "cellhub/transport/stop_escalation.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cellhub::transport {

/// Serializes an exit status (CAF's inspect protocol, found by argument-dependent lookup).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exit_status& x) {
  return f(caf::meta::type_name("cellhub_exit_status"), x.signaled, x.code, x.signal,
           x.core_dumped);
}

} // namespace cellhub::transport

namespace cellhub::actors {

/// Lists how a child's life ended.
enum class ending : std::uint8_t {
  /// The cell said goodbye and exited with code 0 (a child supervisor: it ended
  /// normally). The one ending of its own that a `transient` child is not restarted for.
  goodbye,
  /// The child was stopped on request (terminate, a group restart, a pool shrink, the
  /// shutdown), however its process ended; `last_step` tells how far the stop went.
  stopped,
  /// The process exited by itself without a goodbye (with any code, 0 included).
  exited,
  /// A signal the host did not send ended the process.
  killed,
  /// The process could not be started (the spawn or the exec failed); `spawn_error` says why.
  exec_failed,
  /// The cell sent no READY within its start timeout (it was killed), or ended before READY.
  no_ready,
  /// Work waited for the cell while its heartbeat stood still for its hang timeout; killed.
  hung,
  /// The cell wrote invalid shared-memory content; killed.
  protocol_violation,
  /// The cell said goodbye unasked but still ran its shutdown timeout later; the stop
  /// escalation ended it.
  lingered,
  /// A child supervisor gave up (it reached its restart intensity), or the actor
  /// shadowing the child failed.
  gave_up,
};

/// Returns the ending's word ("goodbye", "killed", ...), as events and logs show it.
std::string_view to_string(ending how) noexcept;

/// Tells whether `how` is an end that does not count as a failure: a goodbye, or a
/// stop someone asked for.
bool is_clean(ending how) noexcept;

/// Describes one ended life.
struct life_end {
  /// Tells how the life ended.
  ending how = ending::exited;
  /// Holds the process id, or 0 if there was no process.
  std::int32_t pid = 0;
  /// Holds how the process ended, when it was seen (empty without a process).
  caf::optional<transport::exit_status> status;
  /// Holds how long the life had been ready, in milliseconds (0 if it never was).
  std::int64_t uptime_ms = 0;
  /// Holds the timeout that decided the end, in milliseconds: the start timeout for
  /// `no_ready` (when the host killed it), the hang timeout for `hung`, the shutdown
  /// timeout for `lingered`; 0 otherwise.
  std::int64_t timeout_ms = 0;
  /// Holds the last step of the stop escalation the host took (`stopped`, `lingered`,
  /// or a cell that hung up while its process ran on), if any.
  caf::optional<transport::stop_step> last_step;
  /// Holds the spawn's error for `exec_failed`, as the transport reported it.
  std::string spawn_error;

  /// Compares every field.
  bool operator==(const life_end&) const = default;
};

/// Serializes a life's end.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, life_end& x) {
  return f(caf::meta::type_name("cellhub_life_end"), x.how, x.pid, x.status, x.uptime_ms,
           x.timeout_ms, x.last_step, x.spawn_error);
}

/// Describes `end` in words: its ending's word, then what is known of it
/// ("killed: signal 9 (SIGKILL)", "no_ready: no READY within 2000 ms",
/// "stopped: killed (signal 9) after ignoring goodbye and SIGTERM").
std::string describe(const life_end& end);

} // namespace cellhub::actors
