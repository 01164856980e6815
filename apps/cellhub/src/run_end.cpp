#include "cellhub/cli/run_end.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/cli/commands.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace cellhub::cli {
namespace {

using clock_type = std::chrono::steady_clock;

// Tells what woke the wait.
enum class wake_reason : std::uint8_t { signal, timeout, news };

// Owns one epoll set over the signalfd and the console's eventfd.
class waiter {
public:
  waiter(int signal_fd, int wake_fd)
      : signal_fd_{signal_fd}
      , wake_fd_{wake_fd}
      , epoll_fd_{::epoll_create1(EPOLL_CLOEXEC)} {
    for (int fd : {signal_fd, wake_fd}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
  }
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;
  ~waiter() {
    if (epoll_fd_ >= 0)
      ::close(epoll_fd_);
  }

  // Waits for a signal, news or `deadline`; consumes what woke it, so that each
  // signal counts once.
  wake_reason wait(std::optional<clock_type::time_point> deadline) {
    for (;;) {
      int wait_ms = -1;
      if (deadline) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(*deadline - clock_type::now());
        if (left.count() <= 0)
          return wake_reason::timeout;
        wait_ms = static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30));
      }
      epoll_event ev{};
      const int n = ::epoll_wait(epoll_fd_, &ev, 1, wait_ms);
      if (n <= 0)
        continue; // EINTR, or the deadline, checked above
      if (ev.data.fd == signal_fd_) {
        signalfd_siginfo info{};
        if (::read(signal_fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info)))
          return wake_reason::signal;
        continue;
      }
      std::uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof(count));
      return wake_reason::news;
    }
  }

private:
  int signal_fd_;
  int wake_fd_;
  int epoll_fd_;
};

} // namespace

int run_end::exit_code() const noexcept {
  switch (kind) {
  case run_end_kind::signal:
  case run_end_kind::duration:
  case run_end_kind::remote_stop:
    return exit_ok;
  case run_end_kind::failure:
  case run_end_kind::root_ended:
    return exit_runtime_error;
  case run_end_kind::root_gave_up:
    return exit_supervision_gave_up;
  }
  return exit_runtime_error;
}

run_end await_run_end(actors::supervision_tree& tree, const run_signal& signal, int signal_fd,
                      int wake_fd, std::optional<std::chrono::nanoseconds> duration,
                      const std::function<void(const std::string&)>& say) {
  waiter wait{signal_fd, wake_fd};
  std::optional<clock_type::time_point> deadline;
  if (duration)
    deadline = clock_type::now() + *duration;
  std::optional<run_end_kind> requested;
  bool killed = false;
  const auto begin_stop = [&](run_end_kind kind, const std::string& reason) {
    requested = kind;
    deadline.reset();
    say(fmt::format("stopping ({}); {} to kill every cell now", reason,
                    kind == run_end_kind::signal ? "send it again" : "send SIGINT or SIGTERM"));
    tree.request_stop();
  };
  for (;;) {
    const auto news = signal.news();
    if (news.root_down) {
      if (news.root_gave_up)
        return {run_end_kind::root_gave_up, killed,
                news.escalation.empty() ? news.root_exit : news.escalation};
      if (!news.failure.empty())
        return {run_end_kind::failure, killed, news.failure};
      if (requested)
        return {*requested, killed, {}};
      return {run_end_kind::root_ended, killed,
              "the root supervisor ended on its own: " + news.root_exit};
    }
    if (!requested && !news.failure.empty())
      begin_stop(run_end_kind::failure, news.failure);
    else if (!requested && news.stop_requested)
      begin_stop(run_end_kind::remote_stop, "remote stop");
    switch (wait.wait(deadline)) {
    case wake_reason::signal:
      if (!requested) {
        begin_stop(run_end_kind::signal, "signal");
      } else if (!killed) {
        killed = true;
        say("killing every cell now (SIGKILL)");
        tree.kill();
      }
      break;
    case wake_reason::timeout:
      begin_stop(run_end_kind::duration, "--duration reached");
      break;
    case wake_reason::news:
      break;
    }
  }
}

} // namespace cellhub::cli
