#pragma once

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/doorbell_watcher.hpp"
#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/transport/fwd.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>

namespace cellhub::actors {

/// Holds what a peer actor needs to run one cell life.
struct peer_config {
  /// Describes the cell.
  cell_spec spec;
  /// Hosts the cell's peer entry.
  std::shared_ptr<transport::hub_host> hub;
  /// Watches the cell's doorbell and pidfd.
  doorbell_watcher_actor watcher;
  /// Starts the cell's process.
  cell_spawner_actor spawner;
  /// Receives `child_started` and `child_ready`; stops the cell by `stop_atom`.
  supervisor_actor supervisor;
  /// Receives a `cell_message` for each one-way message from
  /// the cell (optional).
  caf::actor sink;
  /// Identifies this child to its supervisor.
  std::uint64_t child = 0;
};

/// Spawns the actor that shadows one cell life. It has the spawner create the peer
/// entry and start the process (calls and casts that come before are queued), counts
/// the start only once READY arrives within `start_timeout` of the spawn,
/// forwards `(call_atom, payload) -> payload` and `(cast_atom, payload) -> void` to
/// the cell, hands the cell's payloads out as zero-copy leases, kills a cell that
/// hangs with work waiting, stops it gracefully on `stop_atom` (goodbye, SIGTERM,
/// SIGKILL), and fails every pending request with `cell_died` the moment the cell dies.
///
/// Bounds: calls not answered plus casts waiting for ring space never exceed the
/// spec's `max_pending`; past it a call or cast fails at once with `overloaded`. A call
/// not answered within `request_timeout` fails with `request_timeout` and is forgotten
/// (its send is dropped if it still waited for space); one timer, for the oldest
/// deadline, serves every call.
///
/// A cell that says goodbye unasked gets the stop escalation: calls fail at once with
/// `cell_died`, and after `shutdown_timeout` it gets SIGTERM, then SIGKILL.
///
/// It decides how the life ended (a `life_end`, once) and exits with
/// `exit_reason::normal` for a `goodbye`, `exit_reason::user_shutdown` for `stopped`,
/// or an `errc` (`hung`, `start_failed` for `exec_failed` and `no_ready`,
/// `protocol_violation`, else `crashed`); every reason but `normal` carries the
/// `life_end` as its context (`life_end_of`). It is linked to its supervisor.
peer_actor spawn_peer_actor(caf::local_actor* parent, peer_config config);

/// Returns the `life_end` inside a peer actor's exit reason (of any category), if it
/// carries one.
std::optional<life_end> life_end_of(const caf::error& reason);

} // namespace cellhub::actors
