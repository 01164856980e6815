#include "cellhub/soak/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace cellhub::soak {

std::size_t latency_histogram::bucket_of(std::uint64_t us) noexcept {
  if (us < sub_buckets)
    return static_cast<std::size_t>(us);
  const auto octave = static_cast<std::size_t>(std::bit_width(us) - 1); // >= 3
  const auto sub = static_cast<std::size_t>((us >> (octave - 3)) & (sub_buckets - 1));
  return std::min(octave * sub_buckets + sub, octaves * sub_buckets - 1);
}

std::uint64_t latency_histogram::upper_bound_of(std::size_t bucket) noexcept {
  if (bucket < sub_buckets)
    return bucket + 1;
  const auto octave = bucket / sub_buckets;
  const auto sub = bucket % sub_buckets;
  return (sub_buckets + sub + 1) << (octave - 3);
}

void latency_histogram::add(std::chrono::nanoseconds latency) noexcept {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  ++buckets_[bucket_of(static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)))];
  ++count_;
  max_ = std::max(max_, latency);
}

std::chrono::microseconds latency_histogram::quantile(double fraction) const noexcept {
  if (count_ == 0)
    return std::chrono::microseconds{0};
  const auto wanted = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(
             std::ceil(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(count_))));
  const auto largest = std::chrono::ceil<std::chrono::microseconds>(max_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= wanted)
      // The bucket's upper bound, but never above the largest value seen.
      return std::min(std::chrono::microseconds{static_cast<std::int64_t>(upper_bound_of(i))},
                      largest);
  }
  return largest;
}

} // namespace cellhub::soak
