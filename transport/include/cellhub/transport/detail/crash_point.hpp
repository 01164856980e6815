#pragma once

#include <atomic>

namespace cellhub::transport::detail {

/// Counts crash points left before the process kills itself; 0 disarms (test hook).
extern std::atomic<long> crash_countdown;

/// Arms the countdown from the environment variable `CELLHUB_TEST_CRASH_AT_STEP`
/// (a positive step number). Only cells call this; tests use it to kill a cell at
/// a chosen step inside slot allocation, enqueue, dequeue or free.
void arm_crash_points_from_environment() noexcept;

/// Raises SIGKILL when the armed countdown reaches this point.
void crash_now() noexcept;

/// Marks a step boundary inside a transport operation.
inline void crash_point() noexcept {
  if (crash_countdown.load(std::memory_order_relaxed) > 0) [[unlikely]]
    if (crash_countdown.fetch_sub(1, std::memory_order_relaxed) == 1)
      crash_now();
}

} // namespace cellhub::transport::detail
