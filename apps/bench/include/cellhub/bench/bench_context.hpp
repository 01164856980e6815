#pragma once

#include "cellhub/bench/bench_options.hpp"
#include "cellhub/bench/measurement.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cellhub::bench {

/// Reports a benchmark that could not produce its numbers (a cell that did not
/// start, a reply that never came); the runner records it and goes on.
struct bench_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Holds what every benchmark of one run shares.
class bench_context {
public:
  /// Creates the context of a run with `options`.
  explicit bench_context(bench_options options)
      : options_{std::move(options)} {}

  /// Returns the run's options.
  [[nodiscard]] const bench_options& options() const noexcept { return options_; }

  /// Returns a hub path no other hub of this run (or another process) uses.
  [[nodiscard]] std::string hub_path(std::string_view purpose);

  /// Returns the placements rtt and throughput measure: -1 for unpinned, else the
  /// host's CPU (cells take the next one).
  [[nodiscard]] std::vector<int> placements() const;

  /// Holds the kill cycles' rows once measured: detect and restart share one run.
  std::optional<std::vector<measurement>> lifecycle_rows;

private:
  bench_options options_;
  int next_hub_ = 0;
};

/// Names a placement for table rows: "unpinned" or "pinned 0/1".
std::string placement_label(int host_cpu);

} // namespace cellhub::bench
