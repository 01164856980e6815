#include "cellhub/transport/hub_geometry.hpp"

#include <fmt/format.h>

#include <bit>
#include <cstring>

namespace cellhub::transport {
namespace {

constexpr std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

constexpr std::uint16_t max_peers_limit = 4096;
constexpr std::uint32_t max_ring_capacity = 65536;
constexpr std::uint32_t max_slot_size = 64u << 20;
constexpr std::uint32_t max_slots_per_class = 65536;
constexpr std::uint64_t max_hub_memory = std::uint64_t{1} << 40;

error invalid(std::string what) {
  return make_error(errc::invalid_config, std::move(what));
}

} // namespace

std::vector<slot_class> default_slot_classes() {
  return {{1u << 10, 64}, {16u << 10, 16}, {256u << 10, 4}, {1u << 20, 4}};
}

result<hub_geometry> hub_geometry::compute(const hub_config& config) {
  if (config.max_peers == 0 || config.max_peers > max_peers_limit)
    return invalid(fmt::format("max_peers {} not in 1..{}", config.max_peers, max_peers_limit));
  if (config.ring_capacity < 2 || config.ring_capacity > max_ring_capacity ||
      !std::has_single_bit(config.ring_capacity))
    return invalid(fmt::format("ring_capacity {} is not a power of two in 2..{}",
                               config.ring_capacity, max_ring_capacity));
  if (config.slot_classes.empty() || config.slot_classes.size() > shm::max_slot_classes)
    return invalid(fmt::format("{} slot classes, expected 1..{}", config.slot_classes.size(),
                               shm::max_slot_classes));
  hub_geometry geo;
  geo.max_peers = config.max_peers;
  geo.ring_capacity = config.ring_capacity;
  geo.classes = config.slot_classes;
  std::uint32_t first = 0;
  std::uint64_t offset = 0;
  std::uint32_t previous_size = 0;
  for (const auto& cls : config.slot_classes) {
    if (cls.slot_size < 64 || cls.slot_size % 64 != 0 || cls.slot_size > max_slot_size)
      return invalid(fmt::format("slot size {} is not a multiple of 64 in 64..{}", cls.slot_size,
                                 max_slot_size));
    if (cls.slot_size <= previous_size)
      return invalid(
          fmt::format("slot size {} does not grow past {}", cls.slot_size, previous_size));
    if (cls.slot_count == 0 || cls.slot_count > max_slots_per_class)
      return invalid(
          fmt::format("slot count {} not in 1..{}", cls.slot_count, max_slots_per_class));
    previous_size = cls.slot_size;
    geo.class_first_slot.push_back(first);
    geo.class_offset.push_back(offset);
    first += cls.slot_count;
    offset += std::uint64_t{cls.slot_size} * cls.slot_count;
  }
  geo.class_first_slot.push_back(first);
  geo.arena_size = align_up(offset, shm::page_size);
  geo.return_capacity = std::bit_ceil(first);

  geo.entry_offset = sizeof(shm::region_header);
  geo.control_offset = geo.entry_offset + sizeof(shm::peer_entry);
  const std::uint64_t ring_bytes =
      sizeof(shm::ring_header) + std::uint64_t{geo.ring_capacity} * sizeof(shm::descriptor);
  const std::uint64_t return_bytes = align_up(
      sizeof(shm::ring_header) + std::uint64_t{geo.return_capacity} * sizeof(std::uint32_t),
      shm::cache_line);
  std::uint64_t at = geo.control_offset + sizeof(shm::peer_control);
  geo.to_cell_ring_offset = at;
  at += ring_bytes;
  geo.to_host_ring_offset = at;
  at += ring_bytes;
  geo.to_cell_return_offset = at;
  at += return_bytes;
  geo.to_host_return_offset = at;
  at += return_bytes;
  at = align_up(at, shm::page_size);
  geo.to_cell_arena_offset = at;
  at += geo.arena_size;
  geo.to_host_arena_offset = at;
  at += geo.arena_size;
  geo.region_size = align_up(at, shm::page_size);
  geo.file_size = shm::page_size;
  if (geo.memory_needed() > max_hub_memory)
    return invalid(fmt::format("hub would take {} bytes of memory, more than the {} allowed",
                               geo.memory_needed(), max_hub_memory));
  return geo;
}

result<hub_geometry> hub_geometry::from_layout(const shm::layout_desc& layout,
                                               std::uint64_t actual_region_size) {
  auto bad = [](std::string what) { return make_error(errc::bad_layout, std::move(what)); };
  if (layout.slot_class_count == 0 || layout.slot_class_count > shm::max_slot_classes)
    return bad(fmt::format("layout claims {} slot classes", layout.slot_class_count));
  hub_config config;
  config.max_peers = layout.max_peers;
  config.ring_capacity = layout.ring_capacity;
  config.slot_classes.clear();
  for (std::size_t i = 0; i < layout.slot_class_count; ++i)
    config.slot_classes.push_back(
        {layout.slot_classes[i].slot_size, layout.slot_classes[i].slot_count});
  auto geo = compute(config);
  if (!geo)
    return bad("layout describes an impossible hub: " + geo.error().detail);
  const auto& g = geo.value();
  struct field {
    const char* name;
    std::uint64_t stored;
    std::uint64_t expected;
  };
  const field fields[] = {
      {"region_size", layout.region_size, g.region_size},
      {"entry_offset", layout.entry_offset, g.entry_offset},
      {"control_offset", layout.control_offset, g.control_offset},
      {"to_cell_ring_offset", layout.to_cell_ring_offset, g.to_cell_ring_offset},
      {"to_host_ring_offset", layout.to_host_ring_offset, g.to_host_ring_offset},
      {"to_cell_return_offset", layout.to_cell_return_offset, g.to_cell_return_offset},
      {"to_host_return_offset", layout.to_host_return_offset, g.to_host_return_offset},
      {"to_cell_arena_offset", layout.to_cell_arena_offset, g.to_cell_arena_offset},
      {"to_host_arena_offset", layout.to_host_arena_offset, g.to_host_arena_offset},
      {"return_capacity", layout.return_capacity, g.return_capacity},
      {"actual region size", actual_region_size == 0 ? g.region_size : actual_region_size,
       g.region_size},
  };
  for (const auto& f : fields)
    if (f.stored != f.expected)
      return bad(fmt::format("{} is {}, the layout needs {}", f.name, f.stored, f.expected));
  return geo;
}

void hub_geometry::store(shm::layout_desc& layout) const {
  layout.max_peers = max_peers;
  layout.ring_capacity = ring_capacity;
  layout.return_capacity = return_capacity;
  layout.slot_class_count = static_cast<std::uint16_t>(classes.size());
  std::memset(layout.slot_classes, 0, sizeof(layout.slot_classes));
  for (std::size_t i = 0; i < classes.size(); ++i)
    layout.slot_classes[i] = {classes[i].slot_size, classes[i].slot_count};
  layout.region_size = region_size;
  layout.entry_offset = entry_offset;
  layout.control_offset = control_offset;
  layout.to_cell_ring_offset = to_cell_ring_offset;
  layout.to_host_ring_offset = to_host_ring_offset;
  layout.to_cell_return_offset = to_cell_return_offset;
  layout.to_host_return_offset = to_host_return_offset;
  layout.to_cell_arena_offset = to_cell_arena_offset;
  layout.to_host_arena_offset = to_host_arena_offset;
}

std::uint32_t hub_geometry::class_of(std::uint32_t slot) const noexcept {
  std::uint32_t cls = 0;
  while (cls + 1 < classes.size() && slot >= class_first_slot[cls + 1])
    ++cls;
  return cls;
}

std::uint64_t hub_geometry::slot_offset(std::uint32_t slot) const noexcept {
  const auto cls = class_of(slot);
  return class_offset[cls] + std::uint64_t{slot - class_first_slot[cls]} * classes[cls].slot_size;
}

std::uint32_t hub_geometry::slot_size(std::uint32_t slot) const noexcept {
  return classes[class_of(slot)].slot_size;
}

} // namespace cellhub::transport
