#pragma once

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/messages.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>

namespace cellhub::transport {
class hub_host;
}

namespace cellhub::actors {

/// Holds what a peer actor needs to run one cell life.
struct peer_config {
  /// Describes the cell.
  cell_spec spec;
  /// Hosts the cell's peer entry.
  std::shared_ptr<transport::hub_host> hub;
  /// Watches the cell's doorbell and pidfd.
  caf::actor watcher;
  /// Receives `(started_atom, child, peer_id, incarnation, pid)` and
  /// `(ready_atom, child, peer_id, incarnation, pid)`; stops the cell by `stop_atom`.
  caf::actor supervisor;
  /// Receives `(cell_msg_atom, name, peer_id, payload)` for one-way messages from
  /// the cell (optional).
  caf::actor sink;
  /// Identifies this child to its supervisor.
  std::uint64_t child = 0;
};

/// Spawns the actor that shadows one cell life. It creates the peer entry, spawns
/// the process, counts the start only once READY arrives within `start_timeout`,
/// forwards `(call_atom, payload) -> payload` and `(cast_atom, payload)` to the cell,
/// hands the cell's payloads out as zero-copy leases, kills a cell that hangs with
/// work waiting, stops it gracefully on `stop_atom` (goodbye, SIGTERM, SIGKILL), and
/// fails every pending request with `cell_died` the moment the cell dies. It exits
/// with `exit_reason::normal` (goodbye and clean exit), `exit_reason::user_shutdown`
/// (asked to stop), or an `errc` (crashed, hung, start_failed, protocol_violation)
/// whose context is a `cell_end`. It is linked to its supervisor.
caf::actor spawn_peer_actor(caf::local_actor* parent, peer_config config);

/// Returns the `cell_end` inside a peer actor's exit reason, if it carries one.
std::optional<cell_end> cell_end_of(const caf::error& reason);

} // namespace cellhub::actors
