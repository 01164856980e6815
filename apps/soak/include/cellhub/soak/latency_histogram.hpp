#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace cellhub::soak {

/// Counts latencies in log-linear buckets of microseconds (eight per power of two,
/// so a bucket is at most 12.5% wide), so that a run of any length costs the same
/// memory; percentiles are read as a bucket's upper bound.
class latency_histogram {
public:
  /// Counts one latency.
  void add(std::chrono::nanoseconds latency) noexcept;

  /// Returns the upper bound of the bucket holding the `fraction` quantile, at most the
  /// largest latency (0 when empty).
  [[nodiscard]] std::chrono::microseconds quantile(double fraction) const noexcept;

  /// Returns the largest latency counted, exactly.
  [[nodiscard]] std::chrono::nanoseconds max() const noexcept { return max_; }

  /// Counts the latencies added.
  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }

private:
  // Values below 8 us have a bucket each; above, 8 sub-buckets per power of two, up to
  // 2^40 us (12 days); larger values share the last bucket.
  static constexpr std::size_t sub_buckets = 8;
  static constexpr std::size_t octaves = 41;
  static std::size_t bucket_of(std::uint64_t us) noexcept;
  static std::uint64_t upper_bound_of(std::size_t bucket) noexcept;

  std::array<std::uint64_t, octaves * sub_buckets> buckets_{};
  std::uint64_t count_ = 0;
  std::chrono::nanoseconds max_{0};
};

} // namespace cellhub::soak
