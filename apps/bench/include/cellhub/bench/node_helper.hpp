#pragma once

// The far node of the node-loss rows: cellhub-bench started again in a process of
// its own, so that a SIGKILL takes a whole node down (its actor system, middleman,
// tree and cell) as a crash of its host would.

#include "cellhub/bench/bench_options.hpp"

#include "cellhub/transport/process.hpp"

#include <cstdint>
#include <string>

namespace cellhub::bench {

/// Names the helper's node.
inline const std::string node_helper_name = "b";

/// Starts `cellhub-bench` (this program) as node `node_helper_name`: one idle bench
/// cell on a hub at `hub_path`, plain links, joining the node at `join_port` on
/// 127.0.0.1; it stays until killed (or until this process ends). Its hub file is
/// the caller's to remove. Throws `bench_failure`.
transport::process spawn_node_helper(const bench_options& opts, std::uint16_t join_port,
                                     const std::string& hub_path);

/// Runs this process as that node (`opts.node_helper_join` set); returns an exit
/// code only when it cannot start (1), else runs until killed.
int run_node_helper(const bench_options& opts);

} // namespace cellhub::bench
