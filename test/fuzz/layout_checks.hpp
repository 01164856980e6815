#pragma once

// What the region targets check about a peer region's layout: the invariants every
// geometry a cell accepts must hold (each part inside the region, in order, without
// overlap, aligned; the sizes consistent), and a model of which stored layouts a cell
// must accept, so that a refusal of a sound layout is a finding too.

#include "fuzz_input.hpp"

#include "cellhub/transport/hub_geometry.hpp"

#include <bit>
#include <cstring>
#include <optional>

namespace cellhub::fuzz {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

/// Names a type wide enough that no sum or product of the layout's numbers wraps.
__extension__ typedef unsigned __int128 u128;

/// Returns `layout` as the cell compares it: the reserved word and the class entries
/// past `slot_class_count` (which nobody reads) zeroed.
inline shm::layout_desc normalized(const shm::layout_desc& layout) noexcept {
  shm::layout_desc out{};
  std::memcpy(&out, &layout, sizeof(out));
  out.reserved0 = 0;
  for (std::size_t i = std::min<std::size_t>(out.slot_class_count, shm::max_slot_classes);
       i < shm::max_slot_classes; ++i)
    out.slot_classes[i] = {0, 0};
  return out;
}

/// Tells whether two layouts say the same to a cell.
inline bool same_layout(const shm::layout_desc& a, const shm::layout_desc& b) noexcept {
  const auto x = normalized(a);
  const auto y = normalized(b);
  return std::memcmp(&x, &y, sizeof(x)) == 0;
}

/// Tells whether two geometries lay a region out the same way.
inline bool same_geometry(const tr::hub_geometry& a, const tr::hub_geometry& b) {
  shm::layout_desc x{};
  shm::layout_desc y{};
  a.store(x);
  b.store(y);
  return same_layout(x, y) && a.arena_size == b.arena_size && a.file_size == b.file_size &&
         a.class_first_slot == b.class_first_slot && a.class_offset == b.class_offset;
}

/// Returns the geometry the host would lay out for the numbers `layout` was computed
/// from (peers, ring capacity, slot classes), if the host would accept them.
inline std::optional<tr::hub_geometry> host_geometry(const shm::layout_desc& layout) {
  if (layout.slot_class_count == 0 || layout.slot_class_count > shm::max_slot_classes)
    return std::nullopt;
  tr::hub_config config;
  config.max_peers = layout.max_peers;
  config.ring_capacity = layout.ring_capacity;
  config.slot_classes.clear();
  for (std::size_t i = 0; i < layout.slot_class_count; ++i)
    config.slot_classes.push_back(
        {layout.slot_classes[i].slot_size, layout.slot_classes[i].slot_count});
  auto computed = tr::hub_geometry::compute(config);
  if (!computed)
    return std::nullopt;
  return std::move(computed).value();
}

/// Tells whether a cell must accept `layout` for a region of `actual_size` bytes (0: not
/// checked): exactly when a host could have written it, i.e. its offsets and sizes are
/// the ones its numbers give, and the region is as large as it says.
inline bool model_accepts(const shm::layout_desc& layout, std::uint64_t actual_size) {
  const auto geometry = host_geometry(layout);
  if (!geometry)
    return false;
  shm::layout_desc written{};
  geometry->store(written);
  return same_layout(written, layout) && (actual_size == 0 || actual_size == geometry->region_size);
}

/// Checks what every accepted geometry must hold, without trusting `compute()`: every
/// part of the region inside it, in order, aligned and without overlap; the slot classes
/// inside their arena; the sizes consistent with each other and with `actual_size`.
inline void check_geometry(const tr::hub_geometry& g, std::uint64_t actual_size) {
  FUZZ_CHECK(g.max_peers >= 1, "max_peers {}", g.max_peers);
  FUZZ_CHECK(g.ring_capacity >= 2 && std::has_single_bit(g.ring_capacity), "ring capacity {}",
             g.ring_capacity);
  FUZZ_CHECK(!g.classes.empty() && g.classes.size() <= shm::max_slot_classes &&
                 g.class_first_slot.size() == g.classes.size() + 1 &&
                 g.class_offset.size() == g.classes.size(),
             "{} classes", g.classes.size());
  std::uint64_t slots = 0;
  for (std::size_t c = 0; c < g.classes.size(); ++c) {
    const auto& cls = g.classes[c];
    FUZZ_CHECK(cls.slot_size >= 64 && cls.slot_size % 64 == 0 && cls.slot_count >= 1,
               "class {}: {} x {}", c, cls.slot_count, cls.slot_size);
    FUZZ_CHECK(c == 0 || cls.slot_size > g.classes[c - 1].slot_size, "class {} does not grow", c);
    FUZZ_CHECK(g.class_first_slot[c] == slots, "class {} starts at slot {}", c,
               g.class_first_slot[c]);
    const u128 end = u128{g.class_offset[c]} + u128{cls.slot_size} * cls.slot_count;
    FUZZ_CHECK(end <= g.arena_size, "class {} ends past the arena of {}", c, g.arena_size);
    FUZZ_CHECK(c == 0 || g.class_offset[c] >=
                             g.class_offset[c - 1] + std::uint64_t{g.classes[c - 1].slot_size} *
                                                         g.classes[c - 1].slot_count,
               "class {} overlaps the one before", c);
    // The first and last slot of the class map back to it, aligned, inside the arena.
    for (const auto slot : {g.class_first_slot[c], g.class_first_slot[c] + cls.slot_count - 1}) {
      FUZZ_CHECK(g.class_of(slot) == c && g.slot_size(slot) == cls.slot_size, "slot {} in class {}",
                 slot, g.class_of(slot));
      FUZZ_CHECK(g.slot_offset(slot) % shm::cache_line == 0 &&
                     g.slot_offset(slot) + cls.slot_size <= g.arena_size,
                 "slot {} at {} misaligned or past the arena", slot, g.slot_offset(slot));
    }
    slots += cls.slot_count;
  }
  FUZZ_CHECK(g.slot_total() == slots && g.return_capacity >= slots &&
                 std::has_single_bit(g.return_capacity),
             "{} slots, return ring of {}", g.slot_total(), g.return_capacity);

  // The region: header, entry, flags, two rings, two return rings, two arenas, in order.
  const u128 ring_bytes =
      sizeof(shm::ring_header) + u128{g.ring_capacity} * sizeof(shm::descriptor);
  const u128 return_bytes =
      sizeof(shm::ring_header) + u128{g.return_capacity} * sizeof(std::uint32_t);
  struct part {
    const char* name;
    std::uint64_t offset;
    u128 size;
    std::uint64_t alignment;
  };
  const part parts[] = {
      {"entry", g.entry_offset, sizeof(shm::peer_entry), alignof(shm::peer_entry)},
      {"control", g.control_offset, sizeof(shm::peer_control), alignof(shm::peer_control)},
      {"to_cell ring", g.to_cell_ring_offset, ring_bytes, alignof(shm::ring_header)},
      {"to_host ring", g.to_host_ring_offset, ring_bytes, alignof(shm::ring_header)},
      {"to_cell returns", g.to_cell_return_offset, return_bytes, alignof(shm::ring_header)},
      {"to_host returns", g.to_host_return_offset, return_bytes, alignof(shm::ring_header)},
      {"to_cell arena", g.to_cell_arena_offset, g.arena_size, shm::page_size},
      {"to_host arena", g.to_host_arena_offset, g.arena_size, shm::page_size},
  };
  u128 end = sizeof(shm::region_header);
  for (const auto& p : parts) {
    FUZZ_CHECK(p.offset >= end, "{} at {} overlaps what comes before it (up to {})", p.name,
               p.offset, static_cast<std::uint64_t>(end));
    FUZZ_CHECK(p.offset % p.alignment == 0, "{} at {} not aligned to {}", p.name, p.offset,
               p.alignment);
    end = u128{p.offset} + p.size;
  }
  FUZZ_CHECK(end <= g.region_size, "the region's parts end at {}, past its {} bytes",
             static_cast<std::uint64_t>(end), g.region_size);
  FUZZ_CHECK(g.arena_size % shm::page_size == 0 && g.region_size % shm::page_size == 0,
             "arena {} / region {} not page-aligned", g.arena_size, g.region_size);
  FUZZ_CHECK(actual_size == 0 || g.region_size == actual_size, "region of {} accepted as {}",
             actual_size, g.region_size);
  FUZZ_CHECK(u128{g.memory_needed()} == u128{g.max_peers} * g.region_size,
             "memory needed {} for {} peers of {}", g.memory_needed(), g.max_peers, g.region_size);
  FUZZ_CHECK(g.file_size == shm::page_size, "hub file of {}", g.file_size);
}

} // namespace cellhub::fuzz
