#pragma once

// Whether a supervision tree's cells fit the process's file descriptor limit,
// checked before the first cell starts instead of discovered as EMFILE later.

#include "cellhub/actors/child_spec.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace cellhub::actors {

/// Counts the host fds one running cell costs. The peer transport holds two: the
/// host's end of the doorbell socketpair (transport/doorbell.hpp) and the cell's
/// pidfd (transport/process.hpp). The doorbell watcher holds a duplicate of each in
/// its epoll set (watch_request in messages.hpp), so that its registration outlives
/// no fd it did not open. The cell's end of the socketpair is closed once the cell
/// is spawned, so it costs nothing after the start.
inline constexpr std::size_t fds_per_cell = 4;

/// Counts the fds kept free beyond those open when a budget is planned: the hub
/// file, the watcher's epoll set and eventfd, and the two fds (the cell's doorbell
/// end and its spawn-time copy) each start in flight holds for a moment.
inline constexpr std::uint64_t fd_slack = 32;

/// Says whether a tree's cells fit the fd limit, with the numbers behind it.
struct fd_budget {
  /// Counts the tree's cells, every pool replica included.
  std::size_t cells = 0;
  /// Counts the fds the host needs: `cells * fds_per_cell + reserve + listener`.
  std::uint64_t needed = 0;
  /// Holds the soft RLIMIT_NOFILE after raising it to the hard limit.
  std::uint64_t limit = 0;
  /// Counts the fds kept for the host itself: those open when planned plus `fd_slack`.
  std::uint64_t reserve = 0;
  /// Counts the fds kept for a control port the host listens on (connections in their
  /// handshake, the listening socket, a working connection:
  /// `remote::handshake_limits::listener_fds()`); 0 when it listens on none.
  std::uint64_t listener = 0;

  /// Tells whether `needed` stays within `limit`.
  [[nodiscard]] bool fits() const noexcept { return needed <= limit; }
  /// Describes the numbers in one sentence, and what to do when they do not fit.
  [[nodiscard]] std::string describe() const;
};

/// Counts the cells of the tree below `root`, `replicas` for each pool.
[[nodiscard]] std::size_t count_cells(const supervisor_spec& root) noexcept;

/// Computes the budget of `cells` cells for a host with `open_fds` fds open and a
/// soft limit of `limit`, keeping `listener` fds for a control port, without looking
/// at the process.
[[nodiscard]] fd_budget fd_budget_for(std::size_t cells, std::uint64_t open_fds,
                                      std::uint64_t limit, std::uint64_t listener = 0) noexcept;

/// Raises the soft fd limit to the hard limit (`transport::raise_fd_limit`), then
/// computes the budget of `root`'s cells against it and the fds open now, keeping
/// `listener` fds for a control port. A pool is counted at its starting `replicas`;
/// growing it later is not covered.
[[nodiscard]] fd_budget plan_fd_budget(const supervisor_spec& root, std::uint64_t listener = 0);

} // namespace cellhub::actors
