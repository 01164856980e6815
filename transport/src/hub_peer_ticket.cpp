#include "cellhub/transport/hub_peer_ticket.hpp"

#include <algorithm>

namespace cellhub::transport {
namespace {

cell_ticket as_seen_by_cell(const hub_peer_ticket& ticket) {
  cell_ticket seen = ticket;
  seen.doorbell_fd = hub_peer_ticket::doorbell_fd_in_cell;
  return seen;
}

void inherit_doorbell(const hub_peer_ticket& ticket, spawn_options& command) {
  const inherited_fd doorbell{ticket.cell_doorbell.fd(), hub_peer_ticket::doorbell_fd_in_cell};
  // Applying the ticket twice (arguments and environment) hands the doorbell once.
  if (std::find(command.inherit.begin(), command.inherit.end(), doorbell) == command.inherit.end())
    command.inherit.push_back(doorbell);
}

} // namespace

void hub_peer_ticket::apply_to_command(spawn_options& command) const {
  for (auto& arg : as_seen_by_cell(*this).to_arguments())
    command.args.push_back(std::move(arg));
  inherit_doorbell(*this, command);
}

void hub_peer_ticket::apply_to_environment(spawn_options& command) const {
  for (auto& var : as_seen_by_cell(*this).to_environment())
    command.env.push_back(std::move(var));
  inherit_doorbell(*this, command);
}

result<process> hub_peer_ticket::spawn(spawn_options command) {
  apply_to_command(command);
  auto child = process::spawn(command);
  cell_doorbell.close();
  return child;
}

} // namespace cellhub::transport
