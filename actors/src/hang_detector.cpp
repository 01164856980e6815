#include "cellhub/actors/hang_detector.hpp"

#include <algorithm>

namespace cellhub::actors {

std::chrono::milliseconds hang_detector::check_period() const noexcept {
  return std::max(std::chrono::milliseconds{1}, timeout_ / 8);
}

bool hang_detector::observe(time_point now, std::uint64_t heartbeat, bool work_waits) noexcept {
  if (!enabled())
    return false;
  if (!observed_ || !work_waits || heartbeat != last_heartbeat_) {
    observed_ = true;
    last_heartbeat_ = heartbeat;
    last_progress_ = now;
    return false;
  }
  return now - last_progress_ >= timeout_;
}

} // namespace cellhub::actors
