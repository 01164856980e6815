#pragma once

// The socket side of the one-way stream baselines (throughput, pipeline): frames
// written afresh and sent back to back to a socket sink, and the sink's totals.

#include "cellhub/bench/frame_socket.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cellhub::bench {

/// Sends `source` as one data frame after another over `link` until `stop`, copying
/// it into the send buffer before each send (as the hub's payload is written into its
/// slot); sends in whole batches of 16 and returns how many it sent. The kernel's
/// socket buffer is the flow control. Throws `bench_failure` when a send fails.
std::uint64_t stream_frames(frame_socket& link, std::span<const std::byte> source,
                            std::chrono::steady_clock::time_point stop);

/// Asks a socket sink for its totals, which also resets them, and returns the
/// reply's bytes. Throws `bench_failure` when the sink does not answer.
std::vector<std::byte> ask_socket_totals(frame_socket& link);

} // namespace cellhub::bench
