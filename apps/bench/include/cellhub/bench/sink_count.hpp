#pragma once

// A bench sink's answer to a request for its totals (bench_cell.cpp): three 64-bit
// words, the messages, the bytes and the checksum since the previous request.

#include <cstddef>
#include <cstdint>
#include <span>

namespace cellhub::bench {

/// Checks a sink's totals `answer` against `sent` messages of `message_size` bytes
/// each (count and bytes; the checksum is the throughput benchmark's to check).
/// Throws `bench_failure` for a malformed answer or a count that does not match.
void confirm_sink_count(std::span<const std::byte> answer, std::uint64_t sent,
                        std::size_t message_size);

} // namespace cellhub::bench
