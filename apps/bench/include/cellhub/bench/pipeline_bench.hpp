#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Measures the actor layer's fast paths at 64 B: calls by name with 64 in flight
/// (calls/s) against 64 requests in flight over a Unix socket to an echo, and
/// one-way casts by name (msg/s, every one counted by the sink cell) against the
/// same frames streamed over a Unix socket to a sink; throws `bench_failure`.
std::vector<measurement> run_pipeline(bench_context& ctx);

} // namespace cellhub::bench
