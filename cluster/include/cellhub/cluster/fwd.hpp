#pragma once

/// Forward declarations of the cluster layer's public types.
namespace cellhub::cluster {

struct cell_record;
struct node_info;
struct cluster_status;
struct node_hello;
struct node_snapshot;
struct node_update;
struct node_call;
struct node_cast;
struct cluster_options;
struct node_address;
class node_table;
class cluster_node;

} // namespace cellhub::cluster
