#include "cellhub/bench/benchmark_suite.hpp"

#include "cellhub/bench/cluster_bench.hpp"
#include "cellhub/bench/lifecycle_bench.hpp"
#include "cellhub/bench/pipeline_bench.hpp"
#include "cellhub/bench/rtt_bench.hpp"
#include "cellhub/bench/scale_bench.hpp"
#include "cellhub/bench/throughput_bench.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

namespace cellhub::bench {
namespace {

// Detect and restart come from the same kill cycles: run them once, hand out each
// benchmark's rows.
std::vector<measurement> lifecycle_part(bench_context& ctx, const std::string& which) {
  if (!ctx.lifecycle_rows)
    ctx.lifecycle_rows = run_lifecycle(ctx);
  std::vector<measurement> rows;
  for (const auto& row : *ctx.lifecycle_rows)
    if (row.benchmark == which)
      rows.push_back(row);
  return rows;
}

bool selected(const std::vector<std::string>& only, const std::string& name) {
  return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
}

} // namespace

std::vector<benchmark_entry> all_benchmarks() {
  return {
      {"detect", "SIGKILL of an idle cell -> `died` at the supervisor, vs a bare pidfd",
       [](bench_context& ctx) { return lifecycle_part(ctx, "detect"); }},
      {"restart", "death -> next life READY (backoff 0), vs spawn until one byte",
       [](bench_context& ctx) { return lifecycle_part(ctx, "restart"); }},
      {"rtt", "request/reply 64 B..1 MiB through the hub and the actor layer, vs a Unix socket",
       run_rtt},
      {"throughput", "pipelined one-way messages 64 B..1 MiB, vs a Unix socket", run_throughput},
      {"pipeline", "64 B calls by name (64 in flight) and casts by name, vs a Unix socket",
       run_pipeline},
      {"scale", "10/100/1000 cells READY, memory per cell, kill 10 % -> all READY", run_scale},
      {"cluster",
       "64 B calls and casts by name across two nodes (plain, TLS), node loss, vs loopback TCP",
       run_cluster},
  };
}

std::vector<std::string> unknown_benchmarks(const std::vector<std::string>& only) {
  const auto known = all_benchmarks();
  std::vector<std::string> out;
  for (const auto& name : only)
    if (std::none_of(known.begin(), known.end(),
                     [&](const benchmark_entry& entry) { return entry.name == name; }))
      out.push_back(name);
  return out;
}

std::vector<benchmark_outcome> run_benchmarks(bench_context& ctx) {
  std::vector<benchmark_outcome> outcomes;
  for (const auto& entry : all_benchmarks()) {
    if (!selected(ctx.options().only, entry.name))
      continue;
    benchmark_outcome outcome;
    outcome.name = entry.name;
    std::fprintf(stderr, "cellhub-bench: %s ...\n", entry.name.c_str());
    const auto start = std::chrono::steady_clock::now();
    try {
      outcome.rows = entry.run(ctx);
      outcome.ok = !outcome.rows.empty() &&
                   std::all_of(outcome.rows.begin(), outcome.rows.end(),
                               [](const measurement& row) { return row.complete(); });
      if (!outcome.ok)
        outcome.error = outcome.rows.empty() ? "no rows" : "a row lacks a number";
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "cellhub-bench: %s %s in %.1f s%s%s\n", entry.name.c_str(),
                 outcome.ok ? "done" : "FAILED", outcome.seconds, outcome.ok ? "" : ": ",
                 outcome.error.c_str());
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

} // namespace cellhub::bench
