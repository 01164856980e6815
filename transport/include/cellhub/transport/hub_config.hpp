#pragma once

#include <cstdint>
#include <vector>

namespace cellhub::transport {

/// Describes one payload size class: `slot_count` slots of `slot_size` bytes per arena.
struct slot_class {
  /// Bytes per slot; a multiple of 64.
  std::uint32_t slot_size = 0;
  /// Slots of this size in each of a peer's two arenas.
  std::uint32_t slot_count = 0;
};

/// Returns the default size classes: 64×1 KiB, 16×16 KiB, 4×256 KiB and 4×1 MiB per arena.
std::vector<slot_class> default_slot_classes();

/// Sizes a hub. Each peer gets two descriptor rings and two payload arenas (one per
/// direction) laid out with these numbers. The whole file is reserved when the hub is
/// created (tmpfs memory: 682.3 MiB for the defaults), so a full filesystem fails
/// creation instead of a later write.
struct hub_config {
  /// Counts peer entries (1..4096); ids are recycled, so this bounds live cells only.
  std::uint16_t max_peers = 64;
  /// Counts descriptors per ring; a power of two from 2 to 65536.
  std::uint32_t ring_capacity = 256;
  /// Lists the payload size classes, strictly increasing in size (1..8 classes).
  std::vector<slot_class> slot_classes = default_slot_classes();
};

} // namespace cellhub::transport
