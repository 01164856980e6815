#pragma once

#include "cellhub/transport/cell_ticket.hpp"
#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/process.hpp"

namespace cellhub::transport {

/// Hands a new cell its way into the hub: the ticket's numbers plus the cell's end
/// of the doorbell. Destroying it closes the host's copy of that end, which must
/// happen once the cell is spawned so that the cell's death can be seen.
struct hub_peer_ticket : cell_ticket {
  /// Names the fd number the doorbell gets inside the cell.
  static constexpr int doorbell_fd_in_cell = 3;

  /// Holds the cell's end of the doorbell until the cell is spawned.
  doorbell cell_doorbell;

  /// Adds the ticket's arguments to `command` and makes the child inherit the doorbell
  /// at fd 3 (appended to `command.inherit`, beside the fds already there, which must
  /// use other numbers).
  void apply_to_command(spawn_options& command) const;

  /// Adds the ticket as `CELLHUB_*` variables to `command` and makes the child
  /// inherit the doorbell at fd 3, as `apply_to_command` does.
  void apply_to_environment(spawn_options& command) const;

  /// Applies the ticket to `command`, spawns the cell and closes the host's copy of
  /// its doorbell end (which must not stay open, or the cell's death goes unseen).
  /// The process handle owns the cell: adopt it into the transport, keep it, or
  /// `detach` it; dropping it kills the cell.
  [[nodiscard]] result<process> spawn(spawn_options command);
};

} // namespace cellhub::transport
