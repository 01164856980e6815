#pragma once

// The messages between the nodes of a cluster, and the cluster's view. Every one of
// them crosses hosts, so each has an `inspect`.

#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/actors/payload.hpp"
#include "cellhub/cluster/cell_record.hpp"
#include "cellhub/cluster/interfaces.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::cluster {

/// Describes one node as another node sees it.
struct node_info {
  /// Names the node.
  std::string name;
  /// Tells whether the node is linked now (false: down or unreachable since `since_ns`).
  bool up = false;
  /// Holds when it last came up or went down (`actors::event_clock_ns`).
  std::int64_t since_ns = 0;
};

/// Serializes a node's description.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_info& x) {
  return f(caf::meta::type_name("cellhub_node_info"), x.name, x.up, x.since_ns);
}

/// Holds the whole cluster as one node sees it: itself, the nodes it knows, every cell.
struct cluster_status {
  /// Names the node that answers.
  std::string node;
  /// Lists the other nodes it knows, by name.
  std::vector<node_info> nodes;
  /// Lists every cell of the cluster, this node's included, by node then name.
  std::vector<cell_record> cells;
};

/// Serializes a cluster status.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status& x) {
  return f(caf::meta::type_name("cellhub_cluster_status"), x.node, x.nodes, x.cells);
}

/// Joins a node: who sends it, its actor, and its cells as it knows them now. The
/// answer is the receiver's `node_snapshot`; from then on, each sends the other its
/// cells' lifecycle events as `node_update`s.
struct node_hello {
  /// Names the node that says hello.
  std::string node;
  /// Holds its node actor.
  node_link_actor actor;
  /// Lists its cells.
  std::vector<cell_record> cells;
};

/// Serializes a hello.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_hello& x) {
  return f(caf::meta::type_name("cellhub_node_hello"), x.node, x.actor, x.cells);
}

/// Answers a hello with the receiver's name and cells.
struct node_snapshot {
  /// Names the node that answers.
  std::string node;
  /// Lists its cells.
  std::vector<cell_record> cells;
};

/// Serializes a snapshot.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_snapshot& x) {
  return f(caf::meta::type_name("cellhub_node_snapshot"), x.node, x.cells);
}

/// Carries one lifecycle event of a node's own cells to the other nodes.
struct node_update {
  /// Names the node whose supervisor published the event.
  std::string node;
  /// Holds the event, unchanged.
  actors::lifecycle_event event;
};

/// Serializes an update.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_update& x) {
  return f(caf::meta::type_name("cellhub_node_update"), x.node, x.event);
}

/// Asks a node to call one of its own cells by name; answered with the cell's reply
/// or the same errors as a local call by name (`cell_died`, `restarting`, ...).
struct node_call {
  /// Names the cell on the receiving node.
  std::string name;
  /// Holds the request.
  actors::payload data;
};

/// Serializes a call.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_call& x) {
  return f(caf::meta::type_name("cellhub_node_call"), x.name, x.data);
}

/// Asks a node to cast to one of its own cells by name.
struct node_cast {
  /// Names the cell on the receiving node.
  std::string name;
  /// Holds the message.
  actors::payload data;
};

/// Serializes a cast.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_cast& x) {
  return f(caf::meta::type_name("cellhub_node_cast"), x.name, x.data);
}

} // namespace cellhub::cluster
