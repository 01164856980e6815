// cellhub-bench — measures detection, restart, round trips, throughput, scale and
// calls, casts and node loss across cluster nodes, each against a baseline measured
// in the same run, and prints a table (plus JSON with --json). Exit codes: 0 every
// benchmark produced its numbers, 1 one did not, 2 bad usage.
#include "cellhub/bench/bench_cli.hpp"
#include "cellhub/bench/benchmark_suite.hpp"
#include "cellhub/bench/host_probe.hpp"
#include "cellhub/bench/node_helper.hpp"
#include "cellhub/bench/report.hpp"

#include "cellhub/transport/fd_limit.hpp"
#include "cellhub/transport/log.hpp"

#include <algorithm>
#include <cstdio>

int main(int argc, char** argv) {
  namespace bench = cellhub::bench;
  int exit_code = bench::bench_exit_ok;
  auto options = bench::parse_bench_command_line(argc, argv, exit_code);
  if (!options)
    return exit_code;
  // Every SIGKILL is logged as a warning by design; hundreds of them are noise here.
  if (!options->verbose)
    cellhub::transport::logger()->set_level(spdlog::level::err);
  // A thousand cells need a few thousand fds (doorbells, pidfds, the watcher's copies).
  cellhub::transport::raise_fd_limit();
  // The cluster benchmark starts this program again as a node of its own.
  if (options->node_helper_join != 0)
    return bench::run_node_helper(*options);

  auto machine = bench::describe_machine();
  bench::bench_context ctx{*options};
  const auto outcomes = bench::run_benchmarks(ctx);
  machine.load_average_end = bench::load_average();
  bench::print_report(stdout, machine, outcomes, options->markdown);
  if (!options->json_path.empty() &&
      !bench::write_json_report(options->json_path, machine, *options, outcomes)) {
    std::fprintf(stderr, "cellhub-bench: cannot write %s\n", options->json_path.c_str());
    return bench::bench_exit_failed;
  }
  const bool all_ok = std::all_of(outcomes.begin(), outcomes.end(),
                                  [](const bench::benchmark_outcome& o) { return o.ok; });
  return all_ok ? bench::bench_exit_ok : bench::bench_exit_failed;
}
