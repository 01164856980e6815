#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Kills a whole node again and again: node `b` (cellhub-bench in a process of its
/// own, one idle cell) joins node `a` (this process) over loopback, is SIGKILLed, and
/// `a`'s `node_down` is timed, against a plain process's TCP connection seen closed
/// by its peer, measured interleaved with it. Unpinned. Returns the cluster
/// benchmark's node-loss rows; throws `bench_failure`.
std::vector<measurement> run_node_loss(bench_context& ctx);

} // namespace cellhub::bench
