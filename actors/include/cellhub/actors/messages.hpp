#pragma once

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/child_state.hpp"
#include "cellhub/actors/error.hpp"
#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/life_end.hpp"
#include "cellhub/actors/payload.hpp"
#include "cellhub/transport/death_cause.hpp"

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>

namespace cellhub::actors {

/// Asks the doorbell watcher to watch one cell life. The fds are duplicates the
/// watcher takes over (and closes when it unwatches).
struct watch_request {
  /// Names the peer entry.
  std::uint16_t peer_id = 0;
  /// Names the life.
  std::uint32_t incarnation = 0;
  /// Holds a duplicate of the host's doorbell end.
  std::int32_t doorbell_fd = -1;
  /// Holds a duplicate of the cell's pidfd, or -1.
  std::int32_t pidfd = -1;
  /// Receives `doorbell_rang` and `peer_dead` messages.
  life_listener owner;
};

/// Serializes a watch request (fds only mean something inside one process).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, watch_request& x) {
  return f(caf::meta::type_name("cellhub_watch_request"), x.peer_id, x.incarnation, x.doorbell_fd,
           x.pidfd, x.owner);
}

/// Asks the doorbell watcher to stop watching one cell life and close its fds.
struct unwatch_request {
  /// Names the peer entry.
  std::uint16_t peer_id = 0;
  /// Names the life.
  std::uint32_t incarnation = 0;
};

/// Serializes an unwatch request.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unwatch_request& x) {
  return f(caf::meta::type_name("cellhub_unwatch_request"), x.peer_id, x.incarnation);
}

/// Tells a peer actor that its cell's doorbell rang (many rings make one message).
struct doorbell_rang {
  /// Names the peer entry.
  std::uint16_t peer_id = 0;
  /// Names the life.
  std::uint32_t incarnation = 0;
};

/// Serializes a ring notice.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, doorbell_rang& x) {
  return f(caf::meta::type_name("cellhub_doorbell_rang"), x.peer_id, x.incarnation);
}

/// Tells a peer actor that its cell is gone, and how the watcher learned it.
struct peer_dead {
  /// Names the peer entry.
  std::uint16_t peer_id = 0;
  /// Names the life.
  std::uint32_t incarnation = 0;
  /// Tells how the death was seen: `hung_up` or `process_exited`.
  transport::death_cause cause = transport::death_cause::hung_up;
  /// Holds how the process ended, when it had exited by then; peeked, not reaped.
  caf::optional<transport::exit_status> exit;
  /// Is set on the watcher's last message about this life: it has nothing left to
  /// watch, has closed its fds and forgotten the registration (no unwatch needed).
  bool last = false;
};

/// Serializes a death notice.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_dead& x) {
  return f(caf::meta::type_name("cellhub_peer_dead"), x.peer_id, x.incarnation, x.cause, x.exit,
           x.last);
}

/// Names one cell life: its peer entry, the entry's incarnation and the process.
struct cell_life {
  /// Names the peer entry.
  std::uint16_t peer_id = 0;
  /// Names the life of the entry.
  std::uint32_t incarnation = 0;
  /// Holds the cell's process id.
  std::int32_t pid = 0;
};

/// Serializes a cell life.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cell_life& x) {
  return f(caf::meta::type_name("cellhub_cell_life"), x.peer_id, x.incarnation, x.pid);
}

/// Tells a supervisor that its child `child` started a cell life (not ready yet).
struct child_started {
  /// Names the child in its supervisor.
  std::uint64_t child = 0;
  /// Names the life that started.
  cell_life life;
};

/// Serializes a start notice.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_started& x) {
  return f(caf::meta::type_name("cellhub_child_started"), x.child, x.life);
}

/// Tells a supervisor that its child `child` is ready: a cell sent READY (`life` names
/// that life), or a child supervisor has every child of its own started (no `life`).
struct child_ready {
  /// Names the child in its supervisor.
  std::uint64_t child = 0;
  /// Names the cell life that became ready; empty for a supervisor child.
  caf::optional<cell_life> life;
};

/// Serializes a ready notice.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_ready& x) {
  return f(caf::meta::type_name("cellhub_child_ready"), x.child, x.life);
}

/// Carries a one-way message a cell sent to its host, to the tree's sink.
struct cell_message {
  /// Holds the cell's logical name.
  std::string name;
  /// Names the life that sent it: its peer entry, incarnation and process.
  cell_life from;
  /// Holds the bytes (a zero-copy lease of the cell's slot).
  payload bytes;
};

/// Serializes a cell's message.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cell_message& x) {
  return f(caf::meta::type_name("cellhub_cell_message"), x.name, x.from, x.bytes);
}

/// Tells subscribers that a logical name now reaches a new life.
struct remapped {
  /// Holds the logical name.
  std::string name;
  /// Holds the previous life's peer id (-1 for the first life).
  std::int32_t old_peer_id = -1;
  /// Holds the new life's peer id.
  std::int32_t new_peer_id = -1;
  /// Holds the new life's incarnation.
  std::uint32_t incarnation = 0;
};

/// Serializes a remap notice.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, remapped& x) {
  return f(caf::meta::type_name("cellhub_remapped"), x.name, x.old_peer_id, x.new_peer_id,
           x.incarnation);
}

/// Describes where a logical name currently leads.
struct registry_entry {
  /// Holds the logical name.
  std::string name;
  /// Holds the current peer id, or -1 while restarting.
  std::int32_t peer_id = -1;
  /// Holds the current incarnation.
  std::uint32_t incarnation = 0;
  /// Holds the current process id.
  std::int32_t pid = 0;
  /// Holds the current peer actor (invalid while restarting).
  peer_actor actor;
};

/// Serializes a registry entry.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registry_entry& x) {
  return f(caf::meta::type_name("cellhub_registry_entry"), x.name, x.peer_id, x.incarnation, x.pid,
           x.actor);
}

/// Asks the registry to route a name to a life that is ready.
struct bind_request {
  /// Names the life and the actor that shadows it.
  registry_entry entry;
  /// Rules what the name's messages do while this life restarts.
  restart_delivery delivery = restart_delivery::hold;
  /// Bounds the messages held while this life restarts.
  std::uint64_t hold_capacity = 0;
};

/// Serializes a bind request.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, bind_request& x) {
  return f(caf::meta::type_name("cellhub_bind_request"), x.entry, x.delivery, x.hold_capacity);
}

/// Tells the registry that the life behind a name ended, and what comes next.
struct unbind_request {
  /// Names the logical name.
  std::string name;
  /// Says what comes next: `restarting`, `quarantined`, `unknown_name` (gone for good).
  errc reason = errc::unknown_name;
};

/// Serializes an unbind request.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unbind_request& x) {
  return f(caf::meta::type_name("cellhub_unbind_request"), x.name, x.reason);
}

/// Describes one child of a supervisor, as `which_children` reports it.
struct child_info {
  /// Holds the child's name.
  std::string name;
  /// Is set for a supervisor child.
  bool supervisor = false;
  /// Holds the state.
  child_state state = child_state::idle;
  /// Holds the current peer id, or -1.
  std::int32_t peer_id = -1;
  /// Holds the current incarnation, or 0.
  std::uint32_t incarnation = 0;
  /// Holds the current process id, or 0.
  std::int32_t pid = 0;
  /// Counts restarts so far.
  std::uint32_t restarts = 0;
  /// Tells how its last life ended, if one did.
  caf::optional<life_end> last_end;
  /// Holds milliseconds since the current life became ready (0 if not running).
  std::int64_t uptime_ms = 0;
  /// Holds a cell child's peer actor (invalid for a supervisor child, and unless running).
  peer_actor cell_handle;
  /// Holds a supervisor child's handle (invalid for a cell child, and unless running).
  supervisor_actor supervisor_handle;
};

/// Serializes child information.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("cellhub_child_info"), x.name, x.supervisor, x.state, x.peer_id,
           x.incarnation, x.pid, x.restarts, x.last_end, x.uptime_ms, x.cell_handle,
           x.supervisor_handle);
}

/// Counts a supervisor's children, as OTP's `count_children`.
struct child_counts {
  /// Counts child specs.
  std::uint32_t specs = 0;
  /// Counts children that run.
  std::uint32_t active = 0;
  /// Counts supervisor children.
  std::uint32_t supervisors = 0;
  /// Counts cell children.
  std::uint32_t workers = 0;
};

/// Serializes child counts.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_counts& x) {
  return f(caf::meta::type_name("cellhub_child_counts"), x.specs, x.active, x.supervisors,
           x.workers);
}

} // namespace cellhub::actors
