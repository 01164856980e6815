#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::cluster {

/// Names a host's cluster port: a host name or address and a TCP port.
struct node_address {
  /// Holds the host name or address (`127.0.0.1`, `::1`, `node-b.example`).
  std::string host;
  /// Holds the TCP port.
  std::uint16_t port = 0;

  /// Returns `host:port` (`[host]:port` for an IPv6 address).
  [[nodiscard]] std::string to_string() const;

  /// Compares host and port.
  friend bool operator==(const node_address&, const node_address&) = default;
};

/// Holds how one host takes part in a cluster: the `[cluster]` table of the
/// configuration, and the same for an embedding application.
struct cluster_options {
  /// Names this node; unique in the cluster (`[A-Za-z0-9_.-]`, 1 to 64 characters).
  std::string node;
  /// Holds the address the node's cluster port listens on; port 0 picks a free one.
  node_address listen{"127.0.0.1", 0};
  /// Lists the other nodes' cluster ports to join. A node retries each one that is
  /// not linked, so nodes may start in any order, and one that restarts is joined again.
  std::vector<node_address> join;
  /// Sets how often a node asks each linked node whether it is alive.
  std::chrono::milliseconds heartbeat_interval{250};
  /// Sets how long a linked node may stay silent before it counts as down (its cells
  /// unreachable, `node_down` published, calls in flight to it failed).
  std::chrono::milliseconds heartbeat_timeout{1000};
  /// Sets how often a node retries the join addresses it is not linked to.
  std::chrono::milliseconds join_retry{500};
};

/// Checks a node name: 1 to 64 characters of `[A-Za-z0-9_.-]`. Returns an empty string
/// when it is valid, else what is wrong with it.
std::string check_node_name(const std::string& name);

/// Reads `HOST:PORT` (`[v6-address]:PORT` for IPv6); returns false when `text` is not one.
bool parse_node_address(const std::string& text, node_address& out);

} // namespace cellhub::cluster
