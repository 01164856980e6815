#pragma once

// The host's RSS and open fds over a run: samples kept in bounded memory however
// long the run (every other sample is dropped when full, so they stay evenly spread),
// plus the extremes over every sample taken.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cellhub::soak {

/// Holds one reading of the host's resources.
struct resource_sample {
  /// Holds the time since the loaded phase began (negative before it).
  std::chrono::milliseconds at{0};
  /// Holds the resident set in KiB.
  std::uint64_t rss_kib = 0;
  /// Holds the open file descriptors.
  std::uint64_t fds = 0;
};

/// Reads the host's resources now (RSS from /proc/self/status, fds from /proc/self/fd).
resource_sample sample_resources(std::chrono::milliseconds at);

/// Keeps an evenly thinned series of samples.
class resource_trend {
public:
  /// Keeps at most `capacity` samples (at least 2).
  explicit resource_trend(std::size_t capacity = 128);

  /// Adds a sample; when the series is full, keeps every other sample and from then
  /// on keeps one sample in twice as many.
  void add(const resource_sample& sample);

  /// Returns the samples kept, oldest first.
  [[nodiscard]] const std::vector<resource_sample>& samples() const noexcept { return kept_; }
  /// Returns the largest RSS over every sample added.
  [[nodiscard]] std::uint64_t max_rss_kib() const noexcept { return max_rss_kib_; }
  /// Returns the largest fd count over every sample added.
  [[nodiscard]] std::uint64_t max_fds() const noexcept { return max_fds_; }
  /// Counts every sample added.
  [[nodiscard]] std::uint64_t count() const noexcept { return added_; }

private:
  std::size_t capacity_;
  std::uint64_t stride_ = 1;
  std::uint64_t added_ = 0;
  std::uint64_t max_rss_kib_ = 0;
  std::uint64_t max_fds_ = 0;
  std::vector<resource_sample> kept_;
};

} // namespace cellhub::soak
