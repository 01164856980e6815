#include "cellhub/transport/detail/crash_point.hpp"

#include <csignal>
#include <cstdlib>

namespace cellhub::transport::detail {

std::atomic<long> crash_countdown{0};

void arm_crash_points_from_environment() noexcept {
  if (const char* text = std::getenv("CELLHUB_TEST_CRASH_AT_STEP")) {
    char* end = nullptr;
    const long step = std::strtol(text, &end, 10);
    if (end != text && *end == '\0' && step > 0)
      crash_countdown.store(step, std::memory_order_relaxed);
  }
}

void crash_now() noexcept {
  std::raise(SIGKILL);
  std::abort(); // unreachable: SIGKILL cannot be caught
}

} // namespace cellhub::transport::detail
