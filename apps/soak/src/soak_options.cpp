#include "cellhub/soak/soak_options.hpp"

#include <algorithm>

namespace cellhub::soak {

std::chrono::milliseconds soak_options::effective_warmup() const noexcept {
  if (warmup.count() > 0)
    return std::min(warmup, duration);
  // Long enough for the allocator and CAF's pools to reach their working size, short
  // enough to leave most of a short run measured.
  return std::min(duration / 6, std::chrono::milliseconds{std::chrono::seconds{10}});
}

} // namespace cellhub::soak
