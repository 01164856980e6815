#pragma once

#include "cellhub/actors/life_end.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cellhub::actors {

/// Lists the lifecycle events a supervisor publishes.
enum class event_kind : std::uint8_t {
  /// A child's process (or supervisor) was started.
  started,
  /// A cell sent READY; its start counts.
  ready,
  /// A child ended (crash, hang, failed start, violation, or a clean exit).
  died,
  /// A child will be started again after `delay_ms`.
  restarting,
  /// A logical name now points at a new peer id.
  remapped,
  /// A crash-looping child was parked until `restart_child`.
  quarantined,
  /// The supervisor exceeded its intensity and gives up to its parent.
  escalated,
  /// A child was stopped on request (or as part of a group restart or shutdown).
  stopped,
  /// A child's spec was dropped (a temporary child ended, `delete_child`, a pool
  /// shrink); it follows the child's `died` or `stopped`, and the name is gone from
  /// `which_children` from then on.
  removed,
  /// A node of the cluster went down or became unreachable (`name` is that node): its
  /// cells are unreachable and calls in flight to it failed with `node_down`.
  node_down,
  /// A node of the cluster joined, or came back (`name` is that node).
  node_up,
};

/// Returns the event's JSON name ("started", ...).
std::string_view to_string(event_kind kind) noexcept;

/// Reads the clock of `lifecycle_event::ts_ns`: CLOCK_REALTIME in nanoseconds.
std::int64_t event_clock_ns() noexcept;

/// Describes one lifecycle event; the JSON-lines schema of `--events`.
struct lifecycle_event {
  /// Holds when the supervisor built the event, by `event_clock_ns()`.
  std::int64_t ts_ns = 0;
  /// Names what happened.
  event_kind kind = event_kind::started;
  /// Holds the child's logical name.
  std::string name;
  /// Holds the supervisor that reports it.
  std::string supervisor;
  /// Holds the cell's peer id (the new one for `remapped`), or -1.
  std::int32_t peer_id = -1;
  /// Holds the previous peer id for `remapped`, or -1.
  std::int32_t old_peer_id = -1;
  /// Holds the cell's incarnation, or 0.
  std::uint32_t incarnation = 0;
  /// Holds the process id, or 0.
  std::int32_t pid = 0;
  /// Tells how the life ended, for `died` and `stopped`; for `quarantined` and
  /// `escalated`, the end that caused it. Empty for the other kinds.
  caf::optional<life_end> end;
  /// Holds the restart delay for `restarting`, in milliseconds.
  std::int64_t delay_ms = 0;
};

/// Serializes a lifecycle event.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lifecycle_event& x) {
  return f(caf::meta::type_name("cellhub_lifecycle_event"), x.ts_ns, x.kind, x.name, x.supervisor,
           x.peer_id, x.old_peer_id, x.incarnation, x.pid, x.end, x.delay_ms);
}

} // namespace cellhub::actors
