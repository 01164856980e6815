#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace cellhub::bench {

/// Summarises a set of latency samples, in one unit (the caller's choice).
struct latency_summary {
  /// Counts the samples.
  std::size_t count = 0;
  /// Holds the smallest sample.
  double min = 0;
  /// Holds the median.
  double p50 = 0;
  /// Holds the 90th percentile.
  double p90 = 0;
  /// Holds the 99th percentile.
  double p99 = 0;
  /// Holds the largest sample.
  double max = 0;
  /// Holds the arithmetic mean.
  double mean = 0;
};

/// Collects durations and summarises them.
class latency_samples {
public:
  /// Reserves room for `expected` samples, so recording never allocates mid-run.
  explicit latency_samples(std::size_t expected = 0) { samples_.reserve(expected); }

  /// Records one duration.
  void add(std::chrono::nanoseconds sample) { samples_.push_back(sample.count()); }

  /// Counts the recorded samples.
  [[nodiscard]] std::size_t size() const noexcept { return samples_.size(); }

  /// Summarises the samples in units of `Unit` (nearest-rank percentiles).
  template <class Unit>
  [[nodiscard]] latency_summary summary() const {
    constexpr double per_unit =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(Unit{1}).count());
    return summarise(per_unit);
  }

private:
  [[nodiscard]] latency_summary summarise(double nanoseconds_per_unit) const;

  std::vector<long long> samples_;
};

} // namespace cellhub::bench
