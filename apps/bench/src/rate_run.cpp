#include "cellhub/bench/rate_run.hpp"

#include <algorithm>

namespace cellhub::bench {

rate_run finished(std::uint64_t count, std::chrono::steady_clock::time_point start) {
  return {count, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

rate_run median_run(std::vector<rate_run> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const rate_run& a, const rate_run& b) { return a.per_second() < b.per_second(); });
  return runs[runs.size() / 2];
}

measurement rate_row(std::string benchmark, std::string name, std::string unit, const rate_run& run,
                     std::string baseline_name, const rate_run& baseline, std::string note) {
  measurement row;
  row.benchmark = std::move(benchmark);
  row.name = std::move(name);
  row.unit = std::move(unit);
  row.value = run.per_second();
  row.baseline_name = std::move(baseline_name);
  row.baseline = baseline.per_second();
  row.note = std::move(note);
  return row;
}

} // namespace cellhub::bench
