#pragma once

// Private to the transport library: the process-wide reaper of detached children.

#include "watch_thread.hpp"

#include "cellhub/transport/process.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace cellhub::transport::detail {

/// Owns every detached child of this process until it exits, then reaps it (after
/// ending its process group, as `process` does), so that no zombie is left. One watch
/// thread over the children's pidfds, started by the first detach; at process exit
/// the children still running are left running (and unreaped).
class child_reaper {
public:
  /// Returns the process-wide reaper.
  static child_reaper& instance();

  child_reaper(const child_reaper&) = delete;
  child_reaper& operator=(const child_reaper&) = delete;
  /// Stops the watch thread and lets go of the children without killing them.
  ~child_reaper();

  /// Takes `child` over (it must own a child that is not reaped). If the watch
  /// thread cannot run, logs a warning and retries each later time a child is taken.
  void take(process child) noexcept;

  /// Counts the children taken and not reaped yet.
  [[nodiscard]] std::size_t pending() const;

private:
  child_reaper();
  void on_ready(std::uint64_t token) noexcept;
  bool watch(std::uint64_t token, const process& child) noexcept;

  mutable std::mutex mutex_;
  std::uint64_t next_token_ = 0;
  std::map<std::uint64_t, process> children_;
  // Children taken while no watch thread could run (or watch them); reaped by a sweep
  // at the next `take`.
  std::vector<std::uint64_t> unwatched_;
  // Set when the process exits (the reaper is destroyed): nothing is taken any more.
  bool stopped_ = false;
  // Declared last: destroyed (stopped) first, while the children are still there.
  std::unique_ptr<watch_thread> thread_;
};

} // namespace cellhub::transport::detail
