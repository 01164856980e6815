#pragma once

// Private to the transport library: one thread that waits on a set of fds and hands
// each ready one to a handler. The hub's keeper (kept transports) and the reaper of
// detached processes run on it.

#include "cellhub/transport/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

namespace cellhub::transport::detail {

/// Runs one thread over an epoll set: each fd added under a token is reported to the
/// handler, on that thread, while it is ready (level-triggered). Stopped when
/// destroyed: joined, or, when the handler itself led to the destruction (its thread
/// dropped the last owner), detached to finish the handler and end without touching
/// anything but its own shared state.
class watch_thread {
public:
  /// Is called on the thread with the token of a ready fd and its epoll events.
  using handler = std::function<void(std::uint64_t token, std::uint32_t events)>;

  /// Creates the epoll set and starts the thread; fails with `io_error` when the
  /// epoll set, its wake-up eventfd or the thread cannot be created.
  static result<std::unique_ptr<watch_thread>> start(handler on_ready);

  watch_thread(const watch_thread&) = delete;
  watch_thread& operator=(const watch_thread&) = delete;
  /// Stops the thread: joins it, or detaches it when called on the thread itself.
  ~watch_thread();

  /// Watches `fd` for `events` (EPOLLIN, EPOLLRDHUP, ...; hang-ups and errors are
  /// always reported), reported under `token`. Safe from any thread, the handler's too.
  result<void> add(int fd, std::uint32_t events, std::uint64_t token);

  /// Stops watching `fd`; call it before the fd is closed. Safe from any thread.
  void remove(int fd) noexcept;

  /// Tells whether the caller runs on the watch thread.
  [[nodiscard]] bool on_this_thread() const noexcept {
    return std::this_thread::get_id() == thread_.get_id();
  }

private:
  struct shared_state;

  watch_thread(std::shared_ptr<shared_state> state, std::thread thread) noexcept;

  std::shared_ptr<shared_state> state_;
  std::thread thread_;
};

} // namespace cellhub::transport::detail
