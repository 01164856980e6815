#pragma once

// The benchmarks cellhub-bench knows, and running a selection of them so that
// one that fails is recorded and the others still run.

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/measurement.hpp"

#include <functional>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Names one benchmark and how to run it.
struct benchmark_entry {
  /// Names it for --only (detect, restart, rtt, throughput, pipeline, scale, cluster).
  std::string name;
  /// Says in a line what it measures.
  std::string summary;
  /// Runs it.
  std::function<std::vector<measurement>(bench_context&)> run;
};

/// Tells how one benchmark went.
struct benchmark_outcome {
  /// Names the benchmark.
  std::string name;
  /// Tells whether it produced every number it promises.
  bool ok = false;
  /// Explains a failure.
  std::string error;
  /// Holds how long it ran, in seconds.
  double seconds = 0;
  /// Holds its rows.
  std::vector<measurement> rows;
};

/// Lists every benchmark, in the order a full run takes them.
std::vector<benchmark_entry> all_benchmarks();

/// Returns the names in `only` that name no benchmark.
std::vector<std::string> unknown_benchmarks(const std::vector<std::string>& only);

/// Runs the benchmarks `ctx.options().only` selects (all when empty), printing
/// progress to stderr.
std::vector<benchmark_outcome> run_benchmarks(bench_context& ctx);

} // namespace cellhub::bench
