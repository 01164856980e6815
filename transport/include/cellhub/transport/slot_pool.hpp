#pragma once

#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/result.hpp"
#include "cellhub/transport/spsc_ring.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace cellhub::transport {

/// Allocates the payload slots of one arena for its only writer (the sending side).
/// Free slots live in private stacks; slots the receiver is done with come back
/// through a return ring, whose every index is checked against what is in flight.
class slot_pool {
public:
  /// Creates an empty pool that owns nothing.
  slot_pool() = default;

  /// Creates a pool over `geometry`'s classes with every slot free, fed by `returns`.
  slot_pool(const hub_geometry& geometry, ring_consumer<std::uint32_t> returns);

  /// Collects the slots the receiver returned, then takes the most recently freed
  /// slot of the smallest class that holds `length` bytes (of a larger class if that
  /// one has none); nothing when every fitting slot is in flight.
  result<std::optional<std::uint32_t>> allocate(std::size_t length) noexcept;

  /// Puts back a slot that was allocated but never sent.
  void give_back(std::uint32_t slot) noexcept;

  /// Counts slots sent and not returned yet (returned but uncollected ones count as back).
  [[nodiscard]] std::uint32_t in_flight() const noexcept;

  /// Tells whether the receiver has returned slots not collected yet.
  [[nodiscard]] bool returns_pending() const noexcept { return returns_.has_pending(); }

  /// Tells whether a slot that holds `length` bytes is free without collecting
  /// returns (one given back unsent, say).
  [[nodiscard]] bool has_free(std::size_t length) const noexcept;

private:
  // Returns the smallest class that holds `length` bytes and has a free slot, or
  // the number of classes when none has; `length` must fit the largest class.
  [[nodiscard]] std::size_t class_with_free_slot(std::size_t length) const noexcept;
  result<void> collect_returns() noexcept;

  const hub_geometry* geometry_ = nullptr;
  ring_consumer<std::uint32_t> returns_;
  std::vector<std::vector<std::uint32_t>> free_;
  std::vector<std::uint8_t> in_flight_;
  std::uint32_t in_flight_count_ = 0;
};

} // namespace cellhub::transport
