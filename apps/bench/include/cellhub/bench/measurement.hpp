#pragma once

#include "cellhub/bench/latency_summary.hpp"

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellhub::bench {

/// Is one row of the results: a value, the baseline it is compared with in the same
/// run, their ratio, and the DESIGN.md target it answers (if any).
struct measurement {
  /// Names the benchmark that produced it (detect, restart, rtt, throughput, pipeline, scale,
  /// cluster).
  std::string benchmark;
  /// Says what was measured.
  std::string name;
  /// Names the unit of `value` and `baseline` (ms, us, msg/s, MB/s, KiB, ...).
  std::string unit;
  /// Holds the headline number: the median of a latency, or a rate, size or count.
  double value = std::numeric_limits<double>::quiet_NaN();
  /// Holds the latency distribution behind `value`, if it is one.
  std::optional<latency_summary> distribution;
  /// Names the baseline (empty when the row has none).
  std::string baseline_name;
  /// Holds the baseline's headline number.
  double baseline = std::numeric_limits<double>::quiet_NaN();
  /// Holds the baseline's distribution, if it is a latency.
  std::optional<latency_summary> baseline_distribution;
  /// Quotes the DESIGN.md target this row answers, or is empty.
  std::string target;
  /// Tells whether the target was met (nothing when the row has no target).
  std::optional<bool> met;
  /// Holds the same result in a second unit (a rate in msg/s beside MB/s), or NaN.
  double alt_value = std::numeric_limits<double>::quiet_NaN();
  /// Holds the baseline in the second unit, or NaN.
  double alt_baseline = std::numeric_limits<double>::quiet_NaN();
  /// Names the second unit, or is empty.
  std::string alt_unit;
  /// Adds notes for the reader (placement, spin, what the baseline did).
  std::string note;

  /// Returns value ÷ baseline, or NaN without a baseline.
  [[nodiscard]] double ratio() const noexcept {
    if (baseline_name.empty() || !(baseline > 0))
      return std::numeric_limits<double>::quiet_NaN();
    return value / baseline;
  }

  /// Tells whether the row carries every number it promises.
  [[nodiscard]] bool complete() const noexcept {
    return std::isfinite(value) && (baseline_name.empty() || std::isfinite(baseline));
  }
};

/// Builds a latency row from two sample sets (value and baseline), in `Unit`.
template <class Unit>
measurement latency_row(std::string benchmark, std::string name, std::string unit,
                        const latency_samples& value, std::string baseline_name,
                        const latency_samples* baseline) {
  measurement row;
  row.benchmark = std::move(benchmark);
  row.name = std::move(name);
  row.unit = std::move(unit);
  if (value.size() > 0) {
    row.distribution = value.summary<Unit>();
    row.value = row.distribution->p50;
  }
  row.baseline_name = std::move(baseline_name);
  if (baseline != nullptr && baseline->size() > 0) {
    row.baseline_distribution = baseline->summary<Unit>();
    row.baseline = row.baseline_distribution->p50;
  }
  return row;
}

} // namespace cellhub::bench
