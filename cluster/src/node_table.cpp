#include "cellhub/cluster/node_table.hpp"

namespace cellhub::cluster {

using actors::child_state;
using actors::event_kind;

node_table::node_table(std::string self)
    : self_{std::move(self)} {
  nodes_[self_].up = true;
}

void node_table::apply(const std::string& node, const actors::lifecycle_event& event) {
  auto& entry = nodes_[node];
  auto& cells = entry.cells;
  if (event.kind == event_kind::removed) {
    cells.erase(event.name);
    return;
  }
  auto found = cells.find(event.name);
  if (found == cells.end()) {
    // A cell enters the namespace when it starts; a supervisor's start has no peer id.
    if (event.kind != event_kind::started && event.kind != event_kind::ready)
      return;
    if (event.peer_id < 0 || cells.size() >= max_cells_per_node)
      return;
    found = cells.emplace(event.name, cell_record{.node = node, .name = event.name}).first;
  }
  auto& cell = found->second;
  cell.supervisor = event.supervisor;
  cell.reachable = entry.up;
  switch (event.kind) {
  case event_kind::started:
  case event_kind::ready:
    cell.state = event.kind == event_kind::ready ? child_state::running : child_state::starting;
    cell.peer_id = event.peer_id;
    cell.incarnation = event.incarnation;
    cell.pid = event.pid;
    cell.ready_ns = event.kind == event_kind::ready ? event.ts_ns : 0;
    break;
  case event_kind::died:
    cell.state = child_state::idle;
    cell.last_end = event.end;
    cell.ready_ns = 0;
    break;
  case event_kind::restarting:
    cell.state = child_state::restarting;
    ++cell.restarts;
    break;
  case event_kind::remapped:
    cell.peer_id = event.peer_id;
    cell.incarnation = event.incarnation;
    break;
  case event_kind::quarantined:
    cell.state = child_state::quarantined;
    break;
  case event_kind::stopped:
    cell.state = child_state::stopped;
    cell.last_end = event.end;
    cell.ready_ns = 0;
    break;
  case event_kind::escalated:
  case event_kind::removed:
  case event_kind::node_down:
  case event_kind::node_up:
    break;
  }
}

bool node_table::node_up(const std::string& node, std::vector<cell_record> cells,
                         std::int64_t now_ns) {
  auto& entry = nodes_[node];
  const bool was_up = entry.up;
  entry.cells.clear();
  for (auto& cell : cells) {
    if (entry.cells.size() >= max_cells_per_node)
      break;
    cell.node = node; // the sender's word for its own name is the link's, not the record's
    cell.reachable = true;
    auto name = cell.name;
    entry.cells.insert_or_assign(std::move(name), std::move(cell));
  }
  if (!was_up) {
    entry.up = true;
    entry.since_ns = now_ns;
  }
  return !was_up;
}

bool node_table::node_down(const std::string& node, std::int64_t now_ns) {
  if (node == self_)
    return false;
  const auto found = nodes_.find(node);
  if (found == nodes_.end() || !found->second.up)
    return false;
  found->second.up = false;
  found->second.since_ns = now_ns;
  for (auto& [name, cell] : found->second.cells)
    cell.reachable = false;
  return true;
}

bool node_table::is_up(const std::string& node) const {
  const auto found = nodes_.find(node);
  return found != nodes_.end() && found->second.up;
}

std::variant<cell_target, actors::errc> node_table::resolve(std::string_view cluster_name) const {
  if (const auto slash = cluster_name.find('/'); slash != std::string_view::npos) {
    const auto node = cluster_name.substr(0, slash);
    const auto name = cluster_name.substr(slash + 1);
    if (node == self_)
      return cell_target{self_, std::string{name}};
    const auto found = nodes_.find(node);
    if (found == nodes_.end())
      return actors::errc::unknown_node;
    if (!found->second.up)
      return actors::errc::node_down;
    if (!found->second.cells.contains(name))
      return actors::errc::unknown_name;
    return cell_target{std::string{node}, std::string{name}};
  }
  const std::string* holder = nullptr;
  for (const auto& [node, entry] : nodes_) {
    if (!entry.cells.contains(cluster_name))
      continue;
    if (holder != nullptr)
      return actors::errc::ambiguous_name;
    holder = &node;
  }
  if (holder == nullptr)
    return actors::errc::unknown_name;
  if (!is_up(*holder))
    return actors::errc::node_down;
  return cell_target{*holder, std::string{cluster_name}};
}

std::vector<cell_record> node_table::own_cells() const {
  std::vector<cell_record> out;
  for (const auto& [name, cell] : nodes_.at(self_).cells)
    out.push_back(cell);
  return out;
}

cluster_status node_table::status() const {
  cluster_status out{.node = self_};
  for (const auto& [node, entry] : nodes_) {
    if (node != self_)
      out.nodes.push_back({.name = node, .up = entry.up, .since_ns = entry.since_ns});
    for (const auto& [name, cell] : entry.cells)
      out.cells.push_back(cell);
  }
  return out;
}

} // namespace cellhub::cluster
