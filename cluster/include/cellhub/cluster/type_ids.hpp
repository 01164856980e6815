#pragma once

// The cluster layer's CAF type-id block, after the actor layer's. Register it with
// `cellhub::cluster::prepare_config(cfg)` (cluster_node.hpp), after
// `cellhub::actors::prepare_config`. Applications with a block of their own start it at
// `caf::id_block::cellhub_cluster::end`.

#include "cellhub/actors/type_ids.hpp"
#include "cellhub/cluster/fwd.hpp"

#include <caf/type_id.hpp>

#include <vector>

CAF_BEGIN_TYPE_ID_BLOCK(cellhub_cluster, caf::id_block::cellhub::end)

CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::cell_record))
CAF_ADD_TYPE_ID(cellhub_cluster, (std::vector<cellhub::cluster::cell_record>))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::node_info))
CAF_ADD_TYPE_ID(cellhub_cluster, (std::vector<cellhub::cluster::node_info>))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::cluster_status))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::node_hello))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::node_snapshot))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::node_update))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::node_call))
CAF_ADD_TYPE_ID(cellhub_cluster, (cellhub::cluster::node_cast))

// A node's heartbeat, its dialers' work, and the cluster-wide view.
CAF_ADD_ATOM(cellhub_cluster, cellhub::cluster, heartbeat_atom, "heartbeat")
CAF_ADD_ATOM(cellhub_cluster, cellhub::cluster, dial_atom, "dial")
CAF_ADD_ATOM(cellhub_cluster, cellhub::cluster, cluster_atom, "cluster")

CAF_END_TYPE_ID_BLOCK(cellhub_cluster)
