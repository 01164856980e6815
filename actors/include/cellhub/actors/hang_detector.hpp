#pragma once

#include <chrono>
#include <cstdint>

namespace cellhub::actors {

/// Decides when a cell counts as hung: it has made no progress (its heartbeat has not
/// moved) for `timeout` while work waited for it (requests it has not read, calls it
/// has not answered). A cell with nothing to do is never hung, however long it
/// sleeps, and a cell that is not ready yet is the start timeout's business, not this.
///
/// Owns no clock: every call takes the current time, which should not decrease
/// between calls (a `steady_clock` reading guarantees that), so tests drive it with
/// injected time.
class hang_detector {
public:
  /// Names the clock whose readings the caller passes in.
  using clock = std::chrono::steady_clock;
  /// Names the type of the `now` arguments.
  using time_point = clock::time_point;

  /// Constructs a detector with `timeout`; 0 or less turns detection off.
  explicit hang_detector(std::chrono::milliseconds timeout) noexcept
      : timeout_{timeout} {}

  /// Tells whether the detector can ever report a hang.
  [[nodiscard]] bool enabled() const noexcept { return timeout_.count() > 0; }

  /// Returns how often to observe: an eighth of the timeout (at least 1 ms), which
  /// keeps detection within 25 % above the timeout (one period to see the last
  /// progress, one to see the timeout pass).
  [[nodiscard]] std::chrono::milliseconds check_period() const noexcept;

  /// Takes one observation at `now`: the cell's heartbeat counter and whether work
  /// waits for it. Returns true when the cell has made no progress for `timeout`
  /// with work waiting the whole time since its last progress.
  bool observe(time_point now, std::uint64_t heartbeat, bool work_waits) noexcept;

  /// Returns the timeout.
  [[nodiscard]] std::chrono::milliseconds timeout() const noexcept { return timeout_; }

private:
  std::chrono::milliseconds timeout_;
  bool observed_ = false;
  std::uint64_t last_heartbeat_ = 0;
  // When the cell last made progress or had nothing to do.
  time_point last_progress_{};
};

} // namespace cellhub::actors
