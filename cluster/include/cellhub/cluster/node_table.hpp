#pragma once

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/cluster/cell_record.hpp"
#include "cellhub/cluster/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cellhub::cluster {

/// Names the cell a cluster name resolved to.
struct cell_target {
  /// Names the node that runs it.
  std::string node;
  /// Names the cell on that node.
  std::string name;
};

/// Holds one node's view of the cluster: the nodes it knows, whether each is up, and
/// every cell of every node, kept current from lifecycle events. No actor, no clock, no
/// I/O: the node actor feeds it, and the tests drive it directly.
class node_table {
public:
  /// Bounds the cells kept per node: one hub has at most 65535 peers, so a node that
  /// announces more names is faulty, and the names past the bound are left out.
  static constexpr std::size_t max_cells_per_node = 65536;

  /// Creates the table of the node named `self`, which is always up.
  explicit node_table(std::string self);

  /// Returns this node's name.
  [[nodiscard]] const std::string& self() const noexcept { return self_; }

  /// Applies one lifecycle event of `node`'s own tree (`self()` for this node's).
  /// Supervisors' events are left out: the namespace holds cells.
  void apply(const std::string& node, const actors::lifecycle_event& event);

  /// Records that `node` is linked, with its cells as its snapshot tells them
  /// (replacing what was known); returns whether it was not up before (a `node_up`).
  bool node_up(const std::string& node, std::vector<cell_record> cells, std::int64_t now_ns);

  /// Records that `node` is down or unreachable: its cells stay, unreachable. Returns
  /// whether it was up before (a `node_down`).
  bool node_down(const std::string& node, std::int64_t now_ns);

  /// Tells whether `node` is this node or a linked one.
  [[nodiscard]] bool is_up(const std::string& node) const;

  /// Resolves a cluster name: `node/name`, or a bare `name` that exactly one node
  /// carries. Fails with `unknown_node`, `unknown_name`, `ambiguous_name`, or
  /// `node_down` when the cell's node is not linked. A name on this node resolves
  /// without a look at its cells: the local registry decides.
  [[nodiscard]] std::variant<cell_target, actors::errc>
  resolve(std::string_view cluster_name) const;

  /// Returns this node's own cells (what its hello and snapshot carry).
  [[nodiscard]] std::vector<cell_record> own_cells() const;

  /// Returns the whole view: the other nodes, and every cell by node then name.
  [[nodiscard]] cluster_status status() const;

private:
  struct node_entry {
    bool up = false;
    std::int64_t since_ns = 0;
    std::map<std::string, cell_record, std::less<>> cells;
  };

  std::string self_;
  std::map<std::string, node_entry, std::less<>> nodes_;
};

} // namespace cellhub::cluster
