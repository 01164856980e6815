#include "cellhub/transport/slot_pool.hpp"

#include "cellhub/transport/detail/crash_point.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cellhub::transport {

slot_pool::slot_pool(const hub_geometry& geometry, ring_consumer<std::uint32_t> returns)
    : geometry_{&geometry}
    , returns_{returns}
    , free_(geometry.classes.size())
    , in_flight_(geometry.slot_total(), 0) {
  for (std::uint32_t cls = 0; cls < geometry.classes.size(); ++cls) {
    auto& stack = free_[cls];
    // Highest index at the bottom, so the lowest slots (warm pages) are reused first.
    for (auto slot = geometry.class_first_slot[cls + 1]; slot > geometry.class_first_slot[cls];)
      stack.push_back(--slot);
  }
}

result<std::optional<std::uint32_t>> slot_pool::allocate(std::size_t length) noexcept {
  const auto& classes = geometry_->classes;
  if (length > classes.back().slot_size)
    return make_error(errc::payload_too_large,
                      fmt::format("{} bytes exceed the largest slot ({} bytes)", length,
                                  classes.back().slot_size));
  // Returned slots go on top of their class's stack, so collecting them first keeps
  // a stream on the few slots it cycles through, still warm in the caches, rather
  // than on cold slots of its class or of larger ones (16 slots of 1 MiB streamed
  // at a third of the rate of 4 before). Looking costs one read of the return
  // ring's head.
  BOOST_OUTCOME_TRY(collect_returns());
  const auto cls = class_with_free_slot(length);
  if (cls == free_.size())
    return std::optional<std::uint32_t>{};
  const auto slot = free_[cls].back();
  free_[cls].pop_back();
  detail::crash_point();
  in_flight_[slot] = 1;
  ++in_flight_count_;
  return std::optional<std::uint32_t>{slot};
}

bool slot_pool::has_free(std::size_t length) const noexcept {
  return length <= geometry_->classes.back().slot_size &&
         class_with_free_slot(length) != free_.size();
}

std::size_t slot_pool::class_with_free_slot(std::size_t length) const noexcept {
  const auto& classes = geometry_->classes;
  std::size_t cls = 0;
  while (classes[cls].slot_size < length)
    ++cls;
  while (cls < free_.size() && free_[cls].empty())
    ++cls;
  return cls;
}

std::uint32_t slot_pool::in_flight() const noexcept {
  const auto returned = std::min<std::uint64_t>(returns_.pending(), in_flight_count_);
  return in_flight_count_ - static_cast<std::uint32_t>(returned);
}

void slot_pool::give_back(std::uint32_t slot) noexcept {
  if (slot >= in_flight_.size() || in_flight_[slot] == 0)
    return;
  in_flight_[slot] = 0;
  --in_flight_count_;
  free_[geometry_->class_of(slot)].push_back(slot);
}

result<void> slot_pool::collect_returns() noexcept {
  for (;;) {
    BOOST_OUTCOME_TRY(slot, returns_.pop());
    if (!slot)
      return success();
    detail::crash_point();
    if (*slot >= in_flight_.size() || in_flight_[*slot] == 0)
      return make_error(errc::protocol_violation,
                        fmt::format("returned slot {} was not in flight", *slot));
    give_back(*slot);
  }
}

} // namespace cellhub::transport
