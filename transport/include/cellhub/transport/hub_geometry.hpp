#pragma once

#include "cellhub/transport/hub_config.hpp"
#include "cellhub/transport/result.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <cstdint>
#include <vector>

namespace cellhub::transport {

/// Computes where everything lives in a peer region, and the sizes of the hub file
/// and of the memory the hub may use. Host and cell derive it from the same numbers,
/// so a cell can check every offset its region header claims.
struct hub_geometry {
  /// Counts peer entries (live cells).
  std::uint16_t max_peers = 0;
  /// Counts descriptors per ring.
  std::uint32_t ring_capacity = 0;
  /// Counts indices per return ring.
  std::uint32_t return_capacity = 0;
  /// Lists the size classes.
  std::vector<slot_class> classes;
  /// Holds the first global slot index of each class (and the total at the end).
  std::vector<std::uint32_t> class_first_slot;
  /// Holds the byte offset of each class inside an arena.
  std::vector<std::uint64_t> class_offset;
  /// Holds the offset of the peer entry in a region (after the region header).
  std::uint64_t entry_offset = 0;
  /// Holds the offset of the wake wishes (`peer_control`) in a region.
  std::uint64_t control_offset = 0;
  /// Holds the offset of the host→cell descriptor ring in a region.
  std::uint64_t to_cell_ring_offset = 0;
  /// Holds the offset of the cell→host descriptor ring in a region.
  std::uint64_t to_host_ring_offset = 0;
  /// Holds the offset of the return ring for host→cell slots in a region.
  std::uint64_t to_cell_return_offset = 0;
  /// Holds the offset of the return ring for cell→host slots in a region.
  std::uint64_t to_host_return_offset = 0;
  /// Holds the offset of the host→cell arena in a region.
  std::uint64_t to_cell_arena_offset = 0;
  /// Holds the offset of the cell→host arena in a region.
  std::uint64_t to_host_arena_offset = 0;
  /// Holds the size of one arena.
  std::uint64_t arena_size = 0;
  /// Holds the size of one peer region (one peer life's memory object).
  std::uint64_t region_size = 0;
  /// Holds the size of the hub file (its header, one page).
  std::uint64_t file_size = 0;

  /// Validates `config` and computes the layout it implies.
  static result<hub_geometry> compute(const hub_config& config);

  /// Recomputes the layout from a stored description and checks every stored offset
  /// and size against it, and the region's `actual_region_size` (0: not checked);
  /// anything that disagrees is `bad_layout`.
  static result<hub_geometry> from_layout(const shm::layout_desc& layout,
                                          std::uint64_t actual_region_size);

  /// Writes the layout's numbers into `layout`.
  void store(shm::layout_desc& layout) const;

  /// Returns the most memory the hub's regions can take: every peer entry live with
  /// every page of its region touched.
  [[nodiscard]] std::uint64_t memory_needed() const noexcept {
    return std::uint64_t{max_peers} * region_size;
  }

  /// Counts the slots of one arena.
  [[nodiscard]] std::uint32_t slot_total() const noexcept { return class_first_slot.back(); }

  /// Returns the class of global slot index `slot` (which must be < slot_total()).
  [[nodiscard]] std::uint32_t class_of(std::uint32_t slot) const noexcept;

  /// Returns the byte offset of global slot `slot` inside an arena.
  [[nodiscard]] std::uint64_t slot_offset(std::uint32_t slot) const noexcept;

  /// Returns the size of global slot `slot`.
  [[nodiscard]] std::uint32_t slot_size(std::uint32_t slot) const noexcept;
};

} // namespace cellhub::transport
