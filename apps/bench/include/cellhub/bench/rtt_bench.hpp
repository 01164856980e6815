#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Times request/reply host ↔ cell through the hub (peer_transport) for 64 B to
/// 1 MiB, and through the actor layer (a call by name) for 64 B, against a Unix
/// socket ping-pong of the same sizes between the same two programs; throws
/// `bench_failure`.
std::vector<measurement> run_rtt(bench_context& ctx);

} // namespace cellhub::bench
