#pragma once

// Private to the transport library: what `hub_host::keep_until_death` hands its
// transports to.

#include "watch_thread.hpp"

#include "cellhub/transport/peer_transport.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace cellhub::transport {

/// Holds the transports a hub keeps until their cells die, and watches them on one
/// thread of its own: each kept doorbell for a hang-up (not for wake-ups, which are
/// for whoever does traffic) and the pidfd of an adopted process for its exit. A
/// death is reported through the transport (`report_death`: one line, closed,
/// `on_death` once, on the keeper's thread), then the keeper drops its reference,
/// which frees the peer entry once nobody else holds the transport.
class hub_keeper {
public:
  /// Starts the keeper's thread; fails with `io_error` if it cannot run.
  static result<std::unique_ptr<hub_keeper>> start();

  hub_keeper(const hub_keeper&) = delete;
  hub_keeper& operator=(const hub_keeper&) = delete;
  /// Stops the thread. A hub is destroyed only once its kept transports are gone
  /// (each holds the hub), so nothing is kept by then.
  ~hub_keeper();

  /// Keeps `transport` until its cell dies; a transport already reported dead is not
  /// kept. Fails with `io_error` when its fds cannot be watched (then it is not kept).
  result<void> keep(const std::shared_ptr<peer_transport>& transport);

  /// Counts the transports kept now.
  [[nodiscard]] std::size_t kept() const;

private:
  struct kept_transport {
    std::shared_ptr<peer_transport> transport;
    int doorbell_fd = -1;
    int pidfd = -1;
  };

  hub_keeper() = default;
  void on_ready(std::uint64_t token) noexcept;

  mutable std::mutex mutex_;
  std::uint64_t next_id_ = 0;
  std::map<std::uint64_t, kept_transport> kept_;
  std::unique_ptr<detail::watch_thread> thread_;
};

} // namespace cellhub::transport
