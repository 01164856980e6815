#include "cellhub/soak/chaos_plan.hpp"

#include <algorithm>

namespace cellhub::soak {

chaos_plan::chaos_plan(const std::array<double, all_chaos_kinds.size()>& rates, std::uint64_t seed,
                       clock::time_point start)
    : rates_{rates}
    , random_{seed} {
  for (const auto kind : all_chaos_kinds)
    next_[index_of(kind)] = next_after(kind, start);
}

std::optional<chaos_plan::clock::time_point> chaos_plan::next_after(chaos_kind kind,
                                                                    clock::time_point from) {
  const double rate = rates_[index_of(kind)];
  if (!(rate > 0))
    return std::nullopt;
  std::exponential_distribution<double> gap{rate};
  // Saturate: a tiny rate must not overflow the clock (an hour is "not in this run").
  const double seconds = std::min(gap(random_), 3600.0 * 24 * 365);
  return from + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
}

std::vector<chaos_kind> chaos_plan::due(clock::time_point now) {
  std::vector<std::pair<clock::time_point, chaos_kind>> strikes;
  for (const auto kind : all_chaos_kinds) {
    auto& next = next_[index_of(kind)];
    while (next && *next <= now) {
      strikes.emplace_back(*next, kind);
      next = next_after(kind, *next);
    }
  }
  std::sort(strikes.begin(), strikes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<chaos_kind> out;
  out.reserve(strikes.size());
  for (const auto& strike : strikes)
    out.push_back(strike.second);
  return out;
}

std::size_t chaos_plan::pick(std::size_t n) {
  return std::uniform_int_distribution<std::size_t>{0, n - 1}(random_);
}

std::chrono::milliseconds chaos_plan::length(std::chrono::milliseconds min,
                                             std::chrono::milliseconds max) {
  return std::chrono::milliseconds{
      std::uniform_int_distribution<std::int64_t>{min.count(), max.count()}(random_)};
}

std::uint64_t chaos_plan::number(std::uint64_t min, std::uint64_t max) {
  return std::uniform_int_distribution<std::uint64_t>{min, max}(random_);
}

} // namespace cellhub::soak
