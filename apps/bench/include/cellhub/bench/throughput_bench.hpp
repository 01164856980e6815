#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Measures pipelined one-way messages host → cell (zero-copy prepare/commit,
/// back-pressure through wait_for_space) against the same stream over a Unix
/// socket; throws `bench_failure`.
std::vector<measurement> run_throughput(bench_context& ctx);

} // namespace cellhub::bench
