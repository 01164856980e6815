#pragma once

#include "cellhub/transport/result.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace cellhub::transport {

/// Reports what happened on one watched fd.
struct fd_event {
  /// Holds the token the fd was added with.
  std::uint64_t token = 0;
  /// Is set when the fd has data (a doorbell rang, a pidfd's process exited).
  bool readable = false;
  /// Is set when the other end hung up or the fd is in error.
  bool hung_up = false;
};

/// Waits on many fds at once (doorbells, pidfds, an eventfd); the one place a
/// host blocks on file descriptors. Level-triggered, so nothing is ever missed.
class epoll_set {
public:
  /// Creates an empty set.
  static result<epoll_set> create();

  /// Creates a handle that owns nothing.
  epoll_set() noexcept = default;
  epoll_set(epoll_set&& other) noexcept;
  epoll_set& operator=(epoll_set&& other) noexcept;
  epoll_set(const epoll_set&) = delete;
  epoll_set& operator=(const epoll_set&) = delete;
  /// Closes the epoll fd.
  ~epoll_set();

  /// Chooses what a watched fd reports.
  enum class interest : std::uint8_t {
    /// Reports data to read and hang-ups.
    input_and_hangups,
    /// Reports hang-ups and errors only (a doorbell whose rings are someone else's).
    hangups_only,
  };

  /// Watches `fd` for `what` (by default input and hang-ups), reporting it under `token`.
  result<void> add(int fd, std::uint64_t token, interest what = interest::input_and_hangups);

  /// Stops watching `fd` (closing it has the same effect).
  result<void> remove(int fd);

  /// Waits up to `timeout` (negative: forever) and fills `events`; returns how many.
  result<std::size_t> wait(std::span<fd_event> events, std::chrono::milliseconds timeout);

  /// Returns the epoll fd.
  [[nodiscard]] int fd() const noexcept { return fd_; }

private:
  int fd_ = -1;
};

} // namespace cellhub::transport
