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

  /// Counts the fds a node that listens may hold for its port beyond its own: one for
  /// each connection in its handshake (`max_pending`, 0 counting as 1), the listening
  /// socket, and a connection that has passed its handshake.
  [[nodiscard]] constexpr std::size_t listener_fds() const noexcept {
    return (max_pending == 0 ? 1 : max_pending) + 2;
  }
};

} // namespace cellhub::remote
