#include "cellhub/actors/restart_intensity.hpp"

#include <algorithm>
#include <stdexcept>

namespace cellhub::actors {

restart_intensity::restart_intensity()
    : restart_intensity(1, std::chrono::seconds{5}) {}

restart_intensity::restart_intensity(int max_restarts, duration period)
    : max_restarts_(max_restarts)
    , period_(period) {
  if (auto problem = validate(max_restarts, period))
    throw std::invalid_argument(*problem);
}

std::optional<std::string> restart_intensity::validate(int max_restarts, duration period) {
  std::string problems;
  auto add = [&problems](const std::string& problem) {
    if (!problems.empty())
      problems += "; ";
    problems += problem;
  };
  if (max_restarts < 0)
    add("max_restarts (" + std::to_string(max_restarts) + ") is negative");
  // A zero period would make every window empty, so no restart could ever be refused
  // for being too frequent; OTP also requires a positive period.
  if (period <= duration::zero())
    add("period (" + std::to_string(period.count()) + "ns) is not positive");
  if (problems.empty())
    return std::nullopt;
  return "restart intensity: " + problems;
}

bool restart_intensity::add_restart(time_point now) {
  const auto start = window_start(now);
  while (!restarts_.empty() && restarts_.front() < start)
    restarts_.pop_front();
  // Inserting in order keeps the window a suffix of the deque even if a caller passes
  // an earlier `now`; with a steady clock this is always the back.
  restarts_.insert(std::upper_bound(restarts_.begin(), restarts_.end(), now), now);
  // The window is always the newest entries, so dropping the oldest beyond the capacity
  // only lowers counts that were already above `max_restarts` to `max_restarts + 1`.
  while (restarts_.size() > capacity())
    restarts_.pop_front();
  return restarts_.size() <= static_cast<std::size_t>(max_restarts_);
}

std::size_t restart_intensity::restarts_in_window(time_point now) const {
  const auto first = std::lower_bound(restarts_.begin(), restarts_.end(), window_start(now));
  return static_cast<std::size_t>(restarts_.end() - first);
}

void restart_intensity::reset() noexcept {
  restarts_.clear();
}

restart_intensity::time_point restart_intensity::window_start(time_point now) const noexcept {
  if (now.time_since_epoch() < duration::min() + period_)
    return time_point::min();
  return now - period_;
}

std::size_t restart_intensity::capacity() const noexcept {
  return static_cast<std::size_t>(max_restarts_) + 1;
}

} // namespace cellhub::actors
