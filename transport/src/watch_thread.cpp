#include "watch_thread.hpp"

#include "unique_fd.hpp"

#include "cellhub/transport/log.hpp"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace cellhub::transport::detail {
namespace {

// Is the token of the stop eventfd; no caller token is ever this large.
constexpr std::uint64_t stop_token = ~std::uint64_t{0};

// Bounds the events taken per wait; more are simply reported by the next wait.
constexpr int max_events_per_wait = 64;

} // namespace

// Lives as long as its longest user: the owner, or a detached thread finishing.
struct watch_thread::shared_state {
  unique_fd epoll;
  unique_fd stop;
  handler on_ready;
  std::atomic<bool> stopping{false};

  void run() noexcept {
    std::array<epoll_event, max_events_per_wait> events{};
    while (!stopping.load(std::memory_order_acquire)) {
      const int n = ::epoll_wait(epoll.get(), events.data(), max_events_per_wait, -1);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        // Only EBADF/EINVAL (a bug) can get here; nothing would ever be reported again.
        logger()->error("watch thread: epoll_wait failed: {}; stopping", std::strerror(errno));
        return;
      }
      for (int i = 0; i < n && !stopping.load(std::memory_order_acquire); ++i) {
        const auto token = events[static_cast<std::size_t>(i)].data.u64;
        if (token == stop_token)
          return;
        try {
          on_ready(token, events[static_cast<std::size_t>(i)].events);
        } catch (const std::exception& e) {
          logger()->error("watch thread: handler failed: {}", e.what());
        }
      }
    }
  }
};

result<std::unique_ptr<watch_thread>> watch_thread::start(handler on_ready) {
  auto state = std::make_shared<shared_state>();
  state->on_ready = std::move(on_ready);
  state->epoll = unique_fd{::epoll_create1(EPOLL_CLOEXEC)};
  if (state->epoll.get() < 0)
    return make_sys_error("epoll_create1 for a watch thread");
  state->stop = unique_fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  if (state->stop.get() < 0)
    return make_sys_error("eventfd for a watch thread");
  epoll_event stop_event{};
  stop_event.events = EPOLLIN;
  stop_event.data.u64 = stop_token;
  if (::epoll_ctl(state->epoll.get(), EPOLL_CTL_ADD, state->stop.get(), &stop_event) != 0)
    return make_sys_error("epoll_ctl add of a watch thread's eventfd");
  std::thread thread;
  try {
    thread = std::thread{[state] { state->run(); }};
  } catch (const std::system_error& e) {
    return make_sys_error("starting a watch thread", e.code().value());
  }
  return std::unique_ptr<watch_thread>(new watch_thread(std::move(state), std::move(thread)));
}

watch_thread::watch_thread(std::shared_ptr<shared_state> state, std::thread thread) noexcept
    : state_{std::move(state)}
    , thread_{std::move(thread)} {}

watch_thread::~watch_thread() {
  state_->stopping.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  // Cannot fail but with EAGAIN (the counter is full), which wakes the thread anyway.
  (void)!::write(state_->stop.get(), &one, sizeof one);
  if (on_this_thread())
    thread_.detach(); // the handler is still on the stack; `state_` outlives it
  else
    thread_.join();
}

result<void> watch_thread::add(int fd, std::uint32_t events, std::uint64_t token) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = token;
  if (::epoll_ctl(state_->epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0)
    return make_sys_error(fmt::format("epoll_ctl add fd {} to a watch thread", fd));
  return success();
}

void watch_thread::remove(int fd) noexcept {
  // ENOENT/EBADF: not watched (any more); nothing to undo.
  (void)::epoll_ctl(state_->epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
}

} // namespace cellhub::transport::detail
