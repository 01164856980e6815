#pragma once

// The rate benchmarks' windows (pipeline, cluster): how many calls or messages one
// window completed, the median of a few windows, and the row that sets one rate
// beside its baseline.

#include "cellhub/bench/measurement.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Counts how many calls or messages one window completed, and in how long.
struct rate_run {
  /// Counts what the window completed.
  std::uint64_t count = 0;
  /// Holds how long it took, in seconds.
  double seconds = 0;
  /// Counts casts refused with `overloaded` and sent again (not in `count`).
  std::uint64_t refused = 0;

  /// Returns the rate: `count` per second.
  [[nodiscard]] double per_second() const { return static_cast<double>(count) / seconds; }
};

/// Returns a window that completed `count` since `start`, ending now.
rate_run finished(std::uint64_t count, std::chrono::steady_clock::time_point start);

/// Returns the window with the median rate of `runs` (not empty).
rate_run median_run(std::vector<rate_run> runs);

/// Makes a row of `benchmark`: `run`'s rate against `baseline`'s, in `unit` (calls/s
/// or msg/s), with `note`.
measurement rate_row(std::string benchmark, std::string name, std::string unit, const rate_run& run,
                     std::string baseline_name, const rate_run& baseline, std::string note);

} // namespace cellhub::bench
