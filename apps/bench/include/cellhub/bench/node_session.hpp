#pragma once

// The cluster benchmark's harness: one node of a cluster — an actor system of its
// own with CAF's middleman (plain or TLS), a supervision tree, the node's cluster
// actor, and a scoped actor that receives the tree's and the node's events.

#include "cellhub/bench/actor_session.hpp"

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/payload.hpp"
#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/remote/link_security.hpp"
#include "cellhub/transport/hub_config.hpp"

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Describes one node of a benchmark's cluster.
struct node_session_options {
  /// Names the node (`a`, `b`).
  std::string node;
  /// Names the hub file of its tree.
  std::string hub_path;
  /// Describes its tree; a root without children (the default) makes a node that
  /// only calls.
  actors::supervisor_spec root{.name = "bench"};
  /// Shapes its hub (by default room for a few cells).
  transport::hub_config hub{.max_peers = 4};
  /// Protects its links: plain (on loopback), or mutual TLS.
  remote::link_security security = remote::link_security::insecure();
  /// Lists the cluster ports it joins (it listens on 127.0.0.1, a free port).
  std::vector<cluster::node_address> join;
  /// Lists CAF settings (`key=value`) applied after `actors::prepare_config`.
  std::vector<std::string> caf_settings;
};

/// Runs one cluster node in an actor system of its own, as an application embeds
/// one: `cluster_node::spawn`, the tree with the node among its subscribers, then
/// `cluster_node::start`. The inherited `call` calls a cell of this node through its
/// tree's registry, as a host without a cluster does.
class node_session : public actor_session {
public:
  /// Starts the node described by `options`: its scoped actor receives the tree's
  /// lifecycle events from the first on and the node's `node_up`/`node_down`. Throws
  /// `bench_failure`.
  explicit node_session(node_session_options options);
  /// Stops the node, the tree and the actor system.
  ~node_session();

  /// Returns the node's name.
  [[nodiscard]] const std::string& name() const;

  /// Returns the node's cluster port on 127.0.0.1.
  [[nodiscard]] std::uint16_t port() const;

  /// Calls `cluster_name` (`node/name`, or a bare name unique in the cluster) with
  /// `bytes` through the node actor and waits for the answer or the error (CAF's
  /// `request_timeout` after `timeout`).
  caf::expected<actors::payload> cluster_call(const std::string& cluster_name,
                                              const actors::payload& bytes,
                                              std::chrono::milliseconds timeout);

  /// Casts `bytes` to `cluster_name` through the node actor in batches of `batch`,
  /// each closed by a call to the same name with an empty payload; `check` reads that
  /// call's answer (a sink's count since the previous one) and throws unless it
  /// counts the batch. Keeps `depth` batches unconfirmed, sending the next as the
  /// oldest is confirmed, until `stop`; then confirms the rest. The node actor
  /// acknowledges a cast to another node once that node's registry accepted it (or
  /// with its error: overloaded, node_down, ...); the closing calls check that the
  /// cell counted every cast acknowledged. Returns how many casts were confirmed;
  /// throws `bench_failure` on an error or no answer within `timeout`.
  std::uint64_t
  confirmed_casts(const std::string& cluster_name, const actors::payload& bytes, std::size_t batch,
                  std::size_t depth, std::chrono::steady_clock::time_point stop,
                  std::chrono::milliseconds timeout,
                  const std::function<void(const actors::payload&, std::size_t)>& check);

  /// Stops the node (the other nodes see it down), then the tree (done by the
  /// destructor otherwise).
  void stop();

private:
  struct node_parts;
  std::unique_ptr<node_parts> node_;
};

} // namespace cellhub::bench
