#include "cellhub/bench/bench_context.hpp"

#include "cellhub/bench/cpu_pinning.hpp"

#include <fmt/format.h>

#include <unistd.h>

namespace cellhub::bench {

std::string bench_context::hub_path(std::string_view purpose) {
  return fmt::format("{}/cellhub-bench-{}-{}-{}", options_.hub_dir, ::getpid(), purpose,
                     next_hub_++);
}

std::vector<int> bench_context::placements() const {
  // Pinning needs two CPUs: one for the host, one for the cell.
  const bool can_pin = usable_cpus() >= 2;
  switch (options_.pin) {
  case pin_mode::off:
    return {-1};
  case pin_mode::on:
    return {can_pin ? 0 : -1};
  case pin_mode::both:
    if (can_pin)
      return {-1, 0};
    return {-1};
  }
  return {-1};
}

std::string placement_label(int host_cpu) {
  if (host_cpu < 0)
    return "unpinned";
  return fmt::format("pinned {}/{}", host_cpu, host_cpu + 1);
}

} // namespace cellhub::bench
