#pragma once

#include <chrono>
#include <cstddef>

namespace cellhub::remote {

/// Bounds what peers that have not proven who they are can cost a node: how many
/// accepted connections may be in their TLS handshake at once, and how long any
/// connection (accepted or opened by this node) may take to finish it.
struct handshake_limits {
  /// Counts the accepted connections that may be in their TLS handshake at once;
  /// one more makes the node close the oldest of them at once. Each costs the node
  /// one file descriptor and a few KiB until it is closed.
  std::size_t max_pending = 32;
  /// Bounds the time from accepting (or opening) a connection to the end of its
  /// TLS handshake; a connection still in its handshake then is closed.
  std::chrono::milliseconds deadline{5000};
};

} // namespace cellhub::remote
