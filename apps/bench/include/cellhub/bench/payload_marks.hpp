#pragma once

// The bench's payload convention, shared by host and cell: a payload starts with
// 0x5a and ends with 0xa5, so a sink can check it arrived without reading it all;
// a sink that does read it all sums its 64-bit words.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cellhub::bench {

/// Returns `size` bytes carrying the marker (0x5a first, 0xa5 last, 0x11 between).
std::vector<std::byte> marked_payload(std::size_t size);

/// Tells whether `bytes` carries the marker (an empty payload does).
bool carries_marker(std::span<const std::byte> bytes) noexcept;

/// Returns the wrapping sum of the 64-bit words of `bytes` (a partial last word is
/// zero-padded): reading every byte, as a consumer of the payload would.
std::uint64_t payload_checksum(std::span<const std::byte> bytes) noexcept;

} // namespace cellhub::bench
