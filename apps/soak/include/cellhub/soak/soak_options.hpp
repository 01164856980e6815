#pragma once

// What one soak run does: how long, how many cells, how much load, how much chaos,
// and the bounds its invariants are held to (docs/soak.md).

#include "cellhub/soak/chaos_kind.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::soak {

/// Holds the options of one soak run; every field has a documented default.
struct soak_options {
  /// Runs load and chaos this long (after every cell is READY).
  std::chrono::milliseconds duration{std::chrono::seconds{60}};
  /// Counts the permanent demo cells: half (rounded up) in a one_for_one group, the
  /// rest in a simple_one_for_one pool.
  std::size_t cells = 8;
  /// Holds each chaos kind's rate in strikes per second over the whole tree, indexed
  /// by `index_of(kind)`.
  std::array<double, all_chaos_kinds.size()> rates{0.5, 0.2, 0.2, 0.1};
  /// Sends this many checked requests per second, by name, round robin over the cells.
  double load = 200;
  /// Bounds the payload of one request: each carries 1..payload bytes of text.
  std::size_t payload = 1024;
  /// Seeds every random choice (chaos times and victims, stop lengths, payloads).
  std::uint64_t seed = 0;
  /// Writes the summary as JSON here, if not empty.
  std::string json_path;
  /// Creates the hub here; empty: /dev/shm/cellhub-soak-<pid>.
  std::string hub_path;
  /// Runs this cell program; empty: cellhub-demo-cell next to cellhub-soak.
  std::string cell_binary;
  /// Passes these arguments to every cell (before the ticket's).
  std::vector<std::string> cell_args;
  /// Prints only the final summary (no progress lines, no live violations).
  bool quiet = false;
  /// Lets the transport and actor logs through at INFO (default: errors are muted too,
  /// since the chaos provokes them on purpose).
  bool verbose = false;
  /// Ends the loaded phase at the first violation.
  bool fail_fast = false;

  /// Gives each request this long to be answered or failed.
  std::chrono::milliseconds deadline{std::chrono::seconds{5}};
  /// Tolerates this much lateness before an open request is a violation.
  std::chrono::milliseconds grace{std::chrono::seconds{1}};
  /// Takes the RSS baseline this long into the loaded phase (0: a sixth of the
  /// duration, at most 10 s).
  std::chrono::milliseconds warmup{0};
  /// Bounds the wait, once chaos stops, for every cell to be READY and answer.
  std::chrono::milliseconds settle{std::chrono::seconds{30}};
  /// Sets each cell's hang timeout (work waiting, heartbeat frozen).
  std::chrono::milliseconds hang_timeout{std::chrono::seconds{1}};
  /// Sets each cell's shutdown timeout (goodbye, then SIGTERM, then SIGKILL).
  std::chrono::milliseconds shutdown_timeout{std::chrono::milliseconds{500}};
  /// Bounds how long a stopped cell stays stopped: drawn uniformly from [min, max].
  std::chrono::milliseconds stop_min{std::chrono::milliseconds{100}};
  /// Bounds how long a stopped cell stays stopped, from above (see `stop_min`).
  std::chrono::milliseconds stop_max{std::chrono::seconds{2}};
  /// Bounds the host's RSS growth from the end of warm-up to the end of the load, KiB.
  std::uint64_t rss_growth_kib = 8 * 1024;
  /// Bounds the growth of the host's open fds between the two moments at rest (every
  /// cell READY, no chaos): before the first strike and after the settle.
  std::uint64_t fd_growth = 0;
  /// Samples RSS and fds this often.
  std::chrono::milliseconds sample_every{std::chrono::seconds{1}};
  /// Prints a progress line this often (unless quiet).
  std::chrono::milliseconds progress_every{std::chrono::seconds{5}};

  /// Returns the strike rate of `kind`.
  [[nodiscard]] double rate(chaos_kind kind) const noexcept { return rates[index_of(kind)]; }

  /// Returns the warm-up actually used (resolves the 0 default).
  [[nodiscard]] std::chrono::milliseconds effective_warmup() const noexcept;
};

} // namespace cellhub::soak
