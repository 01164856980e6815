#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Starts pools of 10, 100 and 1000 cells under a simple_one_for_one supervisor,
/// reports host RSS per cell and the hub bytes reserved per peer, then kills 10 % at
/// once and times the recovery, against the same done with plain children and
/// pidfds; throws `bench_failure`.
std::vector<measurement> run_scale(bench_context& ctx);

} // namespace cellhub::bench
