#include "cellhub/transport/epoll_set.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <sys/epoll.h>
#include <unistd.h>
#include <utility>

namespace cellhub::transport {
namespace {

// Bounds the events taken per wait; more are simply reported by the next wait.
constexpr std::size_t max_events_per_wait = 256;

} // namespace

result<epoll_set> epoll_set::create() {
  epoll_set set;
  set.fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (set.fd_ < 0)
    return make_sys_error("epoll_create1");
  return set;
}

epoll_set::epoll_set(epoll_set&& other) noexcept
    : fd_{std::exchange(other.fd_, -1)} {}

epoll_set& epoll_set::operator=(epoll_set&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

epoll_set::~epoll_set() {
  if (fd_ >= 0)
    ::close(fd_);
}

result<void> epoll_set::add(int fd, std::uint64_t token, interest what) {
  epoll_event ev{};
  // EPOLLHUP and EPOLLERR are always reported.
  ev.events = what == interest::input_and_hangups ? EPOLLIN | EPOLLRDHUP : EPOLLRDHUP;
  ev.data.u64 = token;
  if (::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    return make_sys_error(fmt::format("epoll_ctl add fd {}", fd));
  return success();
}

result<void> epoll_set::remove(int fd) {
  if (::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF)
    return make_sys_error(fmt::format("epoll_ctl del fd {}", fd));
  return success();
}

result<std::size_t> epoll_set::wait(std::span<fd_event> events, std::chrono::milliseconds timeout) {
  epoll_event raw[max_events_per_wait];
  const int capacity = static_cast<int>(std::min(events.size(), max_events_per_wait));
  constexpr std::chrono::milliseconds longest{std::numeric_limits<int>::max()};
  const int wait_ms =
      timeout.count() < 0 ? -1 : static_cast<int>(std::min(timeout, longest).count());
  int n = 0;
  do {
    n = ::epoll_wait(fd_, raw, capacity, wait_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return make_sys_error("epoll_wait");
  for (int i = 0; i < n; ++i) {
    auto& out = events[static_cast<std::size_t>(i)];
    out.token = raw[i].data.u64;
    out.readable = (raw[i].events & EPOLLIN) != 0;
    out.hung_up = (raw[i].events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) != 0;
  }
  return static_cast<std::size_t>(n);
}

} // namespace cellhub::transport
