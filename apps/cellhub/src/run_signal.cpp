#include "cellhub/cli/run_signal.hpp"

#include <cstdint>
#include <unistd.h>
#include <utility>

namespace cellhub::cli {

void run_signal::request_stop() {
  {
    std::lock_guard guard{mutex_};
    news_.stop_requested = true;
  }
  wake();
}

void run_signal::report_root_down(bool gave_up, std::string exit_reason) {
  {
    std::lock_guard guard{mutex_};
    news_.root_down = true;
    news_.root_gave_up = gave_up;
    news_.root_exit = std::move(exit_reason);
  }
  wake();
}

void run_signal::report_escalation(std::string text) {
  {
    std::lock_guard guard{mutex_};
    news_.escalation = std::move(text);
  }
  wake();
}

void run_signal::report_failure(std::string text) {
  {
    std::lock_guard guard{mutex_};
    if (news_.failure.empty())
      news_.failure = std::move(text);
  }
  wake();
}

run_news run_signal::news() const {
  std::lock_guard guard{mutex_};
  return news_;
}

void run_signal::wake() const noexcept {
  const std::uint64_t one = 1;
  if (wake_fd_ >= 0)
    (void)!::write(wake_fd_, &one, sizeof(one));
}

} // namespace cellhub::cli
