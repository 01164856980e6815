#pragma once

#include "cellhub/transport/result.hpp"

#include <cstdint>
#include <string>

namespace cellhub::transport {

/// Holds the most memory this process could ever get for the hub's peer regions.
struct memory_budget {
  /// Counts the bytes: RAM plus swap, or the process's cgroup limit when lower.
  std::uint64_t limit = 0;
  /// Names where `limit` comes from, for messages ("RAM + swap", "cgroup memory.max").
  std::string source;
};

/// Reads the budget from /proc/meminfo (MemTotal + SwapTotal) and, under cgroup v2,
/// from the process's cgroup (`memory.max` plus `memory.swap.max`) when that is lower.
result<memory_budget> read_memory_budget();

/// Fails with `no_space` when `needed` bytes of peer regions (every peer entry live,
/// every page touched) can never fit in `budget`: the detail gives both numbers.
result<void> check_memory_budget(std::uint64_t needed, const memory_budget& budget);

} // namespace cellhub::transport
