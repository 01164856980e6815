#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Kills one idle supervised cell again and again: SIGKILL → `died` (detect) and
/// → the next life's `ready` (restart), against a plain child's pidfd and a bare
/// spawn-until-one-byte, measured interleaved with it. Unpinned: the supervisor
/// runs where the scheduler puts it. Returns the rows of both benchmarks (tagged
/// detect and restart); throws `bench_failure`.
std::vector<measurement> run_lifecycle(bench_context& ctx);

} // namespace cellhub::bench
