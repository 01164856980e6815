// Fuzzes the layout a cell reads from the head of the peer region it was handed:
// hub_geometry::from_layout on any 152 bytes of layout_desc and any region size.
//
// A layout from_layout accepts must give a geometry whose every part lies inside the
// region, in order, aligned and without overlap, whose region is page-aligned and exactly
// as large as the memory object, and whose memory_needed() is max_peers regions
// (layout_checks.hpp); store() must give the layout back, and reading that back must give
// the same geometry. A layout it refuses must be refused as `bad_layout`, and only if no
// host could have written it for a region of that size (the model in layout_checks.hpp):
// a sound layout refused is a finding too.

#include "layout_checks.hpp"

#include <string>

namespace {

using namespace cellhub::fuzz;

// Reads the region size to check against: none, the layout's own claim, near it (a page
// or a few bytes off), or anything.
std::uint64_t region_size_for(const shm::layout_desc& layout, fuzz_input& in) {
  switch (in.take<std::uint8_t>() % 4) {
  case 0:
    return 0;
  case 1:
    return layout.region_size;
  case 2: {
    const std::int64_t delta = in.take<std::int16_t>();
    const std::int64_t unit = (in.take<std::uint8_t>() & 1u) ? 1 : 4096;
    return layout.region_size + static_cast<std::uint64_t>(delta * unit);
  }
  default:
    return in.take<std::uint64_t>();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in{data, size};
  shm::layout_desc layout{};
  in.take_bytes({reinterpret_cast<std::byte*>(&layout), sizeof(layout)});
  const auto actual = region_size_for(layout, in);

  const bool expected = model_accepts(layout, actual);
  auto geometry = tr::hub_geometry::from_layout(layout, actual);
  if (!geometry) {
    FUZZ_CHECK(geometry.error().code == tr::errc::bad_layout && !geometry.error().detail.empty(),
               "from_layout refused with {}", geometry.error().message());
    FUZZ_CHECK(!expected, "from_layout refused a layout a host writes: {}",
               geometry.error().message());
    return 0;
  }
  FUZZ_CHECK(expected, "from_layout accepted a layout no host writes for a region of {} bytes",
             actual);
  const auto& g = geometry.value();
  check_geometry(g, actual);
  // store() gives back the layout it was read from (what a cell does not read aside).
  shm::layout_desc back{};
  g.store(back);
  FUZZ_CHECK(same_layout(back, layout), "store() does not give the layout back");
  auto again = tr::hub_geometry::from_layout(back, g.region_size);
  FUZZ_CHECK(again && same_geometry(again.value(), g), "the stored layout reads back as {}",
             again ? std::string{"another geometry"} : again.error().message());
  return 0;
}
