#pragma once

#include "cellhub/actors/fd_budget.hpp"
#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/transport/hub_site.hpp"
#include "cellhub/transport/memory_budget.hpp"

#include <cellhub/remote/handshake_limits.hpp>

#include <optional>
#include <string>

namespace cellhub::cli {

/// Says whether this machine can run a configuration now: whether its hub path can take
/// a hub (and has the room for it), whether its peer regions can fit in the host's
/// memory, and whether its cells, and the control port of `run --listen`, fit the fd
/// limit. `cellhub check` prints it; `cellhub run` refuses to start
/// anything when it does not fit.
struct preflight_report {
  /// Holds the hub file's size and its filesystem's free space, when the path can take
  /// a hub.
  std::optional<transport::hub_site> site;
  /// Holds the hub file's size the configuration implies (also when `site` is empty).
  std::uint64_t hub_file_size = 0;
  /// Holds the size of one peer region (one cell's shared memory at most).
  std::uint64_t region_size = 0;
  /// Counts the peer entries (live cells) the hub allows.
  std::uint32_t max_peers = 0;
  /// Holds the most memory the peer regions can take (`max_peers x region_size`).
  std::uint64_t region_memory = 0;
  /// Holds the most memory this host can give them (limit 0: unknown, not checked).
  transport::memory_budget memory;
  /// Holds the tree's fd budget (after raising the soft fd limit to the hard one), the
  /// control port's share included when there is one.
  actors::fd_budget fds;
  /// Says what stands in the way; empty when the configuration fits.
  std::string problem;
  /// Holds the exit code of a refusal: `exit_bad_usage` for a hub path that cannot be a
  /// hub (a directory, a missing parent, someone else's file), `exit_runtime_error` for
  /// what the machine lacks (space, fds) or a hub a live host holds; `exit_ok` if it fits.
  int refusal = 0;

  /// Tells whether nothing stands in the way.
  [[nodiscard]] bool fits() const noexcept { return problem.empty(); }

  /// Renders what `check` prints: the hub file's size and the space free for it, the
  /// memory the peer regions may take and the host's, the fds the cells need and the
  /// limit.
  [[nodiscard]] std::string describe() const;
};

/// Checks `config` against this machine (see `preflight_report`); raises the process's
/// soft fd limit to the hard limit on the way. With `control` (the handshake limits of
/// the control port `run --listen` opens), keeps `control->listener_fds()` fds for it.
/// Creates and removes nothing.
preflight_report preflight(const cluster_config& config,
                           std::optional<remote::handshake_limits> control = std::nullopt);

} // namespace cellhub::cli
