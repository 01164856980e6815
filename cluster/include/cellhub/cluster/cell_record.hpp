#pragma once

#include "cellhub/actors/child_state.hpp"
#include "cellhub/actors/life_end.hpp"

#include <caf/meta/type_name.hpp>
#include <caf/optional.hpp>

#include <cstdint>
#include <string>

namespace cellhub::cluster {

/// Describes one cell of the cluster as every node sees it: kept current from the
/// lifecycle events of the node that supervises it.
struct cell_record {
  /// Names the node that runs and supervises the cell.
  std::string node;
  /// Holds the cell's logical name (unique on its node).
  std::string name;
  /// Names the supervisor the cell belongs to.
  std::string supervisor;
  /// Holds the cell's state on its node.
  actors::child_state state = actors::child_state::idle;
  /// Tells whether the cell's node is linked: false once the node is down or
  /// unreachable, and its other fields are then the last ones known.
  bool reachable = true;
  /// Holds the current peer id on its node's hub, or -1.
  std::int32_t peer_id = -1;
  /// Holds the current incarnation, or 0.
  std::uint32_t incarnation = 0;
  /// Holds the current process id on its node, or 0.
  std::int32_t pid = 0;
  /// Counts the restarts its node announced.
  std::uint32_t restarts = 0;
  /// Tells how its last life ended, if one did.
  caf::optional<actors::life_end> last_end;
  /// Holds when the current life became ready (`actors::event_clock_ns`, its node's
  /// clock), or 0 unless it runs.
  std::int64_t ready_ns = 0;
};

/// Serializes a cell record.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cell_record& x) {
  return f(caf::meta::type_name("cellhub_cell_record"), x.node, x.name, x.supervisor, x.state,
           x.reachable, x.peer_id, x.incarnation, x.pid, x.restarts, x.last_end, x.ready_ns);
}

} // namespace cellhub::cluster
