#include "cellhub/bench/latency_summary.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cellhub::bench {

latency_summary latency_samples::summarise(double nanoseconds_per_unit) const {
  latency_summary out;
  if (samples_.empty())
    return out;
  auto sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  const auto in_unit = [&](long long ns) { return static_cast<double>(ns) / nanoseconds_per_unit; };
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  const auto rank = [&](double q) {
    const auto n = static_cast<double>(sorted.size());
    const auto index = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n))) - 1;
    return in_unit(sorted[std::min(index, sorted.size() - 1)]);
  };
  out.count = sorted.size();
  out.min = in_unit(sorted.front());
  out.p50 = rank(0.50);
  out.p90 = rank(0.90);
  out.p99 = rank(0.99);
  out.max = in_unit(sorted.back());
  const long double total = std::accumulate(sorted.begin(), sorted.end(), 0.0L);
  out.mean =
      static_cast<double>(total / static_cast<long double>(sorted.size())) / nanoseconds_per_unit;
  return out;
}

} // namespace cellhub::bench
