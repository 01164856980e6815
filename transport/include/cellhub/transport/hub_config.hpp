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

/// Sizes a hub. Each peer life gets a memory object of its own (its peer region)
/// holding two descriptor rings and two payload arenas (one per direction) laid out
/// with these numbers: 10.7 MiB for the defaults, pages allocated when first touched.
/// Creation refuses a hub whose regions could never fit in the host's memory.
struct hub_config {
  /// Counts peer entries (1..4096); ids are recycled, so this bounds live cells only.
  std::uint16_t max_peers = 64;
  /// Counts descriptors per ring; a power of two from 2 to 65536.
  std::uint32_t ring_capacity = 256;
  /// Lists the payload size classes, strictly increasing in size (1..8 classes).
  std::vector<slot_class> slot_classes = default_slot_classes();
  /// Leaves the host process dumpable. By default `hub_host::create` makes it
  /// non-dumpable (`PR_SET_DUMPABLE` 0, for the whole process): another process of
  /// the same user (a cell) then cannot open the host's descriptors (every live peer
  /// region) through /proc/PID/fd or map_files, nor ptrace it. It also writes no core
  /// dump and needs root (CAP_SYS_PTRACE) to attach a debugger.
  bool dumpable = false;
};

} // namespace cellhub::transport
