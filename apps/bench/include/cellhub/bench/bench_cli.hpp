#pragma once

#include "cellhub/bench/bench_options.hpp"

#include <optional>

namespace cellhub::bench {

/// Names cellhub-bench's exit codes.
enum bench_exit : int {
  /// Reports that every selected benchmark produced its numbers.
  bench_exit_ok = 0,
  /// Reports a benchmark that produced no number (or a JSON file that could not be written).
  bench_exit_failed = 1,
  /// Reports a wrong command line.
  bench_exit_usage = 2,
};

/// Parses cellhub-bench's command line; nothing when the program should exit at
/// once with `exit_code` (help, or a usage error).
std::optional<bench_options> parse_bench_command_line(int argc, char** argv, int& exit_code);

} // namespace cellhub::bench
