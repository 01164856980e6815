#pragma once

#include "cellhub/transport/cell.hpp"
#include "cellhub/transport/hub_host.hpp"

namespace cellhub::test {

/// Returns cell options for a cell living inside the test process (no parent-death signal).
inline transport::cell_options in_process_options() {
  transport::cell_options options;
  options.parent_death_signal = 0;
  return options;
}

/// Turns a host ticket into the ticket an in-process cell attaches with; the
/// cell takes over the doorbell end.
inline transport::cell_ticket in_process_ticket(transport::hub_peer_ticket& ticket) {
  transport::cell_ticket seen = ticket;
  seen.doorbell_fd = ticket.cell_doorbell.release();
  return seen;
}

/// Attaches an in-process cell to a freshly added peer.
inline transport::result<transport::cell> attach_in_process(transport::hub_peer_ticket& ticket) {
  return transport::cell::attach(in_process_ticket(ticket), in_process_options());
}

} // namespace cellhub::test
