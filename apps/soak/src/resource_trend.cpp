#include "cellhub/soak/resource_trend.hpp"

#include "cellhub/bench/host_probe.hpp"
#include "cellhub/transport/fd_limit.hpp"

#include <algorithm>

namespace cellhub::soak {

resource_sample sample_resources(std::chrono::milliseconds at) {
  return {at, bench::resident_kib().value_or(0), transport::count_open_fds()};
}

resource_trend::resource_trend(std::size_t capacity)
    : capacity_{std::max<std::size_t>(capacity, 2)} {
  kept_.reserve(capacity_);
}

void resource_trend::add(const resource_sample& sample) {
  max_rss_kib_ = std::max(max_rss_kib_, sample.rss_kib);
  max_fds_ = std::max(max_fds_, sample.fds);
  const auto index = added_++;
  if (index % stride_ != 0)
    return;
  if (kept_.size() == capacity_) {
    // Keep the samples at even positions: they are the ones a doubled stride keeps.
    std::size_t out = 0;
    for (std::size_t i = 0; i < kept_.size(); i += 2)
      kept_[out++] = kept_[i];
    kept_.resize(out);
    stride_ *= 2;
    if (index % stride_ != 0)
      return;
  }
  kept_.push_back(sample);
}

} // namespace cellhub::soak
