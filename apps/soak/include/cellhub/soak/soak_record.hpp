#pragma once

// Everything one soak run measured, filled by the driver while the tree runs and by
// the end checks after it stopped; the summary and the JSON are printed from it.

#include "cellhub/bench/host_probe.hpp"
#include "cellhub/soak/cell_census.hpp"
#include "cellhub/soak/invariant_book.hpp"
#include "cellhub/soak/request_ledger.hpp"
#include "cellhub/soak/resource_trend.hpp"
#include "cellhub/soak/soak_options.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cellhub::soak {

/// Holds what the end checks found after the tree stopped.
struct end_state {
  /// Tells whether the tree (and its hub) was created at all.
  bool tree_started = false;
  /// Holds how long `supervision_tree::stop` took.
  std::chrono::milliseconds stop_took{0};
  /// Holds the root's exit reason as text ("user_shutdown" after a clean stop).
  std::string stop_reason;
  /// Holds the hub audit taken after the stop (once it matched, or at its deadline).
  std::optional<transport::hub_audit> audit;
  /// Holds the audit of a fresh hub of the same size.
  transport::hub_audit audit_baseline;
  /// Tells whether the hub object was destroyed once the tree and actor system were
  /// (nothing held a reference to it any more).
  bool hub_released = false;
  /// Tells whether the hub file was gone once the tree and actor system were.
  bool hub_file_gone = false;
  /// Counts the cell processes checked at the end.
  std::uint64_t processes_checked = 0;
  /// Describes the cell processes still there at the end.
  std::vector<std::string> processes_left;
  /// Describes the host's children still there at the end.
  std::vector<std::string> children_left;
};

/// Holds a soak run's measurements and verdicts.
struct soak_record {
  /// Creates the record of a run with `options` over the cells `names`.
  soak_record(soak_options run_options, std::vector<std::string> names, census_bounds bounds,
              std::FILE* live_violations);

  /// Holds the options the run used (seed included).
  soak_options options;
  /// Describes the machine and the build.
  bench::machine_info machine;
  /// Holds the hub path used.
  std::string hub_path;
  /// Holds the cell program used.
  std::string cell_binary;
  /// Records the invariants.
  invariant_book book;
  /// Tracks every request.
  request_ledger ledger;
  /// Tracks every cell life.
  cell_census census;
  /// Holds the RSS/fd series.
  resource_trend trend;
  /// Holds the sample at rest before the first strike (every cell READY).
  std::optional<resource_sample> rest_before;
  /// Holds the sample at the end of warm-up.
  std::optional<resource_sample> warmup_end;
  /// Holds the sample at the end of the loaded phase.
  std::optional<resource_sample> load_end;
  /// Holds the sample at rest after the settle (every cell READY and verified).
  std::optional<resource_sample> rest_after;
  /// Holds how long every cell took to be READY at the start.
  std::chrono::milliseconds startup_took{0};
  /// Holds how long load and chaos actually ran.
  std::chrono::milliseconds loaded_for{0};
  /// Holds how long the settle took (chaos stopped → every cell verified).
  std::chrono::milliseconds settle_took{0};
  /// Counts the cells verified by a checked call at the end.
  std::uint64_t cells_verified = 0;
  /// Holds the largest gap between two driver ticks (a stalled host shows here).
  std::chrono::milliseconds max_tick_gap{0};
  /// Tells whether SIGINT/SIGTERM cut the loaded phase short.
  bool interrupted = false;
  /// Holds why the run could not be carried out, if it could not.
  std::optional<std::string> runtime_error;
  /// Holds what the end checks found.
  end_state end;
};

} // namespace cellhub::soak
