#pragma once

#include "cellhub/remote/handshake_limits.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

namespace cellhub::remote {

/// Enforces `handshake_limits` on the connections of one node: it watches every
/// connection until its TLS handshake ends, shuts down the oldest accepted one when
/// one more than `max_pending` would be in its handshake, and shuts down any still
/// in it at its deadline. Thread-safe; one thread of its own waits for deadlines.
///
/// "Shuts down" is `shutdown(fd, SHUT_RDWR)`: the peer sees the end at once, and
/// the connection's owner reads EOF and closes it on its usual path. The guard
/// never closes an fd, and touches one only between `admit`/`watch` and `release`,
/// under its lock: the owner must release a connection before it closes the fd,
/// so that the guard never shuts down an fd number the system has given to
/// something else.
class handshake_guard {
public:
  /// Identifies one watched connection.
  using ticket = std::uint64_t;

  /// Starts the thread that waits for deadlines.
  explicit handshake_guard(handshake_limits limits);

  /// Stops that thread; leaves every connection as it is.
  ~handshake_guard();

  handshake_guard(const handshake_guard&) = delete;
  handshake_guard& operator=(const handshake_guard&) = delete;

  /// Starts watching the handshake of the accepted connection `fd`. When
  /// `max_pending` accepted connections are in their handshake already, first
  /// shuts down the oldest of them (a peer that stalls is the one that waited
  /// longest; a new client gets its chance).
  ticket admit(int fd);

  /// Starts watching the handshake of the connection `fd` this node opened: it
  /// has the same deadline, but never counts toward `max_pending` (no peer can
  /// open such connections).
  ticket watch(int fd);

  /// Stops watching `t`: its handshake ended, or its connection is about to be
  /// closed. Releasing a ticket again, or one already shut down, does nothing.
  void release(ticket t) noexcept;

  /// Counts the accepted connections in their handshake now.
  [[nodiscard]] std::size_t pending() const;

  /// Counts the accepted connections shut down for `max_pending` so far.
  [[nodiscard]] std::uint64_t evicted() const;

  /// Counts the connections shut down at their deadline so far.
  [[nodiscard]] std::uint64_t expired() const;

  /// Returns the limits this guard enforces.
  [[nodiscard]] const handshake_limits& limits() const noexcept { return limits_; }

private:
  using clock_type = std::chrono::steady_clock;

  struct entry {
    int fd = -1;
    bool accepted = false;
    clock_type::time_point deadline;
  };

  ticket add(int fd, bool accepted);
  void run();

  const handshake_limits limits_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  // Ordered by ticket, which is also the order of admission and of deadlines
  // (one deadline for all, on a monotonic clock).
  std::map<ticket, entry> entries_;
  ticket next_ = 1;
  std::size_t accepted_ = 0;
  std::uint64_t evicted_ = 0;
  std::uint64_t expired_ = 0;
  bool stopping_ = false;
  std::thread watcher_;
};

} // namespace cellhub::remote
