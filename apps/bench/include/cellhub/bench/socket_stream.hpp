#pragma once

// The socket side of the baselines: frames written afresh and sent back to back to a
// socket sink, and the sink's totals (throughput, pipeline, cluster); a request sent
// to a socket echo and its reply awaited (rtt, cluster).

#include "cellhub/bench/frame_socket.hpp"
#include "cellhub/bench/rate_run.hpp"

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

/// Streams `message_size`-byte marked frames to a socket sink for `window` (its totals
/// emptied first), then asks for the count, which must match; the count's round trip
/// is inside the time. Throws `bench_failure`.
rate_run timed_socket_stream(frame_socket& link, std::size_t message_size,
                             std::chrono::milliseconds window);

/// Sends `source` to a socket echo as one request frame, copied afresh into
/// `outgoing` (of its size) first, as a call's bytes are built for each call, and
/// waits for the reply of the same size into `buffer`. Throws `bench_failure` when
/// the send fails or the reply does not match.
void socket_round_trip(frame_socket& link, std::span<const std::byte> source,
                       std::span<std::byte> outgoing, std::vector<std::byte>& buffer);

} // namespace cellhub::bench
