#pragma once

// When chaos strikes and whom it hits: each kind arrives as a Poisson process at its
// own rate, drawn from one seeded generator so that a run can be replayed.

#include "cellhub/soak/chaos_kind.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace cellhub::soak {

/// Draws strike times, victims and stop lengths.
class chaos_plan {
public:
  /// Names the clock of every time given to the plan.
  using clock = std::chrono::steady_clock;

  /// Creates a plan striking each kind at `rates[index_of(kind)]` per second (0:
  /// never), from `start` on.
  chaos_plan(const std::array<double, all_chaos_kinds.size()>& rates, std::uint64_t seed,
             clock::time_point start);

  /// Returns every strike due by `now`, oldest first, and draws each kind's next time.
  std::vector<chaos_kind> due(clock::time_point now);

  /// Picks an index below `n` (`n` > 0).
  std::size_t pick(std::size_t n);

  /// Draws a length uniformly from [`min`, `max`].
  std::chrono::milliseconds length(std::chrono::milliseconds min, std::chrono::milliseconds max);

  /// Draws a whole number uniformly from [`min`, `max`].
  std::uint64_t number(std::uint64_t min, std::uint64_t max);

private:
  std::optional<clock::time_point> next_after(chaos_kind kind, clock::time_point from);

  std::array<double, all_chaos_kinds.size()> rates_;
  std::mt19937_64 random_;
  std::array<std::optional<clock::time_point>, all_chaos_kinds.size()> next_;
};

} // namespace cellhub::soak
