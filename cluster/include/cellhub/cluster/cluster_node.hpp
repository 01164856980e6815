#pragma once

#include "cellhub/actors/interfaces.hpp"
#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/cluster/interfaces.hpp"
#include "cellhub/remote/error.hpp"
#include "cellhub/remote/fwd.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>

namespace cellhub::cluster {

/// Registers the cluster layer's message types in `cfg`; call it after
/// `cellhub::actors::prepare_config` and before the actor system is built.
void prepare_config(caf::actor_system_config& cfg);

/// Makes this host a node of a cluster (docs/cluster.md). The node's actor keeps the
/// cluster's namespace from every node's lifecycle events, links to the nodes of
/// `cluster_options::join` (retrying those it cannot reach), answers the other nodes'
/// calls to its own cells, and routes calls by cluster name (`node/name`, or a bare
/// name unique in the cluster) from this host. A node never supervises another node's
/// cells: each host restarts its own.
///
/// Use: `spawn` before the supervision tree and give `subscriber()` to the tree
/// (`tree_options::subscribers`), so that the node sees its cells' first events; once
/// the tree runs, `start` with its registry. The node ends with this object.
class cluster_node {
public:
  /// Spawns the node actor of `options.node`; links between nodes use `security`
  /// (mutual TLS, or plain on loopback only), configured into `sys` beforehand.
  static cluster_node spawn(caf::actor_system& sys, cluster_options options,
                            const remote::link_security& security);

  /// Attaches the local tree's registry, publishes the node on `options.listen`, and
  /// starts joining; returns the port the node listens on.
  remote::result<std::uint16_t> start(actors::registry_actor registry);

  /// Returns the node actor: calls and casts by cluster name, the cluster's status,
  /// subscriptions to `node_up`/`node_down` (see interfaces.hpp).
  [[nodiscard]] const node_actor& actor() const noexcept { return actor_; }

  /// Returns the node actor as an untyped subscriber for `tree_options::subscribers`.
  [[nodiscard]] caf::actor subscriber() const;

  /// Ends the node: its links close, and the other nodes see it down.
  void stop();

  /// Moves a node.
  cluster_node(cluster_node&&) noexcept;
  /// Moves a node; the one replaced is stopped.
  cluster_node& operator=(cluster_node&&) noexcept;
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;
  /// Stops the node.
  ~cluster_node();

private:
  cluster_node(caf::actor_system& sys, node_actor actor, cluster_options options,
               std::shared_ptr<const remote::link_security> security);

  caf::actor_system* sys_ = nullptr;
  node_actor actor_;
  cluster_options options_;
  std::shared_ptr<const remote::link_security> security_;
};

} // namespace cellhub::cluster
