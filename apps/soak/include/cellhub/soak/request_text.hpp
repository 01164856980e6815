#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cellhub::soak {

/// Builds `size` bytes of text for one request, a function of `seed` alone: words of
/// 1..12 letters and digits separated by runs of every kind of demo whitespace, so
/// that the demo cell's word count is exercised as much as its checksum.
std::vector<std::byte> make_request_text(std::size_t size, std::uint64_t seed);

} // namespace cellhub::soak
