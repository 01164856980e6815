#include "cellhub/actors/fd_budget.hpp"

#include "cellhub/transport/fd_limit.hpp"

#include <fmt/format.h>

#include <limits>
#include <variant>

namespace cellhub::actors {

std::size_t count_cells(const supervisor_spec& root) noexcept {
  if (root.strategy == restart_strategy::simple_one_for_one)
    return root.replicas;
  std::size_t cells = 0;
  for (const auto& child : root.children) {
    if (const auto* group = std::get_if<supervisor_spec>(&child.what))
      cells += count_cells(*group);
    else
      ++cells;
  }
  return cells;
}

fd_budget fd_budget_for(std::size_t cells, std::uint64_t open_fds, std::uint64_t limit,
                        std::uint64_t listener) noexcept {
  constexpr auto most = std::numeric_limits<std::uint64_t>::max();
  const auto sum = [](std::uint64_t a, std::uint64_t b) { return a > most - b ? most : a + b; };
  fd_budget budget;
  budget.cells = cells;
  budget.limit = limit;
  budget.reserve = sum(open_fds, fd_slack);
  budget.listener = listener;
  const auto per_cells =
      cells > most / fds_per_cell ? most : static_cast<std::uint64_t>(cells) * fds_per_cell;
  budget.needed = sum(sum(per_cells, budget.reserve), listener);
  return budget;
}

std::string fd_budget::describe() const {
  const auto numbers = fmt::format(
      "{} cells need {} file descriptors ({} per cell + {} kept for the host{})", cells, needed,
      fds_per_cell, reserve,
      listener > 0 ? fmt::format(" + {} for the control port", listener) : std::string{});
  if (fits())
    return fmt::format("{}; the limit is {}", numbers, limit);
  return fmt::format("{}, but the limit is {} even after raising the soft limit to the hard "
                     "one; raise the hard limit (ulimit -Hn, systemd's LimitNOFILE=) or run "
                     "fewer cells",
                     numbers, limit);
}

fd_budget plan_fd_budget(const supervisor_spec& root, std::uint64_t listener) {
  const auto limit = transport::raise_fd_limit();
  return fd_budget_for(count_cells(root), transport::count_open_fds(), limit, listener);
}

} // namespace cellhub::actors
