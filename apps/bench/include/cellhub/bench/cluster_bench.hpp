#pragma once

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <vector>

namespace cellhub::bench {

/// Measures calls and casts by name across two cluster nodes on loopback (two actor
/// systems in this process; node b runs the cells, node a calls `b/NAME`), with plain
/// and with mutual-TLS links, beside the local call by name on b and a TCP ping-pong
/// and stream over loopback between two processes; then node loss
/// (`run_node_loss`). Throws `bench_failure`.
std::vector<measurement> run_cluster(bench_context& ctx);

} // namespace cellhub::bench
