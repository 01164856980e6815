#pragma once

// The results as people and programs read them: a table on stdout (plain or
// Markdown) and a JSON file with every number.

#include "cellhub/bench/bench_options.hpp"
#include "cellhub/bench/benchmark_suite.hpp"
#include "cellhub/bench/host_probe.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Prints the machine, then one row per measurement: value, baseline, ratio, target
/// and verdict; as a Markdown table when `markdown` is set.
void print_report(std::FILE* out, const machine_info& machine,
                  const std::vector<benchmark_outcome>& outcomes, bool markdown);

/// Writes every number of the run to `path` as JSON; false if the file cannot be written.
bool write_json_report(const std::string& path, const machine_info& machine,
                       const bench_options& options,
                       const std::vector<benchmark_outcome>& outcomes);

} // namespace cellhub::bench
