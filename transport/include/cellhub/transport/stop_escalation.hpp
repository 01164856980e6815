#pragma once

#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/result.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cellhub::transport {

/// Lists the steps of stopping a cell, mildest first.
enum class stop_step : std::uint8_t {
  /// Asks the cell to exit cleanly (a goodbye message).
  goodbye,
  /// Sends SIGTERM to the cell's process.
  sigterm,
  /// Sends SIGKILL to the cell's process.
  sigkill,
};

/// Returns the step's name: `goodbye`, `SIGTERM` or `SIGKILL`.
std::string_view describe(stop_step step) noexcept;

/// Plans how a cell is stopped: goodbye, then SIGTERM when it still runs `grace`
/// later, then SIGKILL `grace` after that. The one place that escalation is decided;
/// the peer actor and the cell_manager example both follow it.
///
/// Pure: it owns no clock and sends nothing. The caller takes each step it hands out
/// (`take_step` does it on a transport), asks for the next one when `next_at` comes,
/// and stops asking once the process has exited.
class stop_escalation {
public:
  /// Names the clock whose readings the caller passes in.
  using clock = std::chrono::steady_clock;
  /// Names the type of the `now` arguments.
  using time_point = clock::time_point;

  /// Constructs an escalation that has not begun, with `grace` between steps.
  explicit stop_escalation(std::chrono::milliseconds grace) noexcept
      : grace_{grace} {}

  /// Begins at `now`: returns `goodbye`, the step to take now; SIGTERM is due
  /// `grace` later.
  stop_step begin(time_point now) noexcept;

  /// Begins at `now` as if `taken` had just been taken (a cell that said goodbye on
  /// its own has taken the first step itself): the step after it is due `grace` later.
  /// After `sigkill` nothing is due.
  void begin_after(stop_step taken, time_point now) noexcept;

  /// Returns the step due at `now`, if one is, and schedules the one after it.
  std::optional<stop_step> due(time_point now) noexcept;

  /// Returns when the next step is due; nothing before `begin` and after SIGKILL.
  [[nodiscard]] std::optional<time_point> next_at() const noexcept;

  /// Tells whether the escalation has begun.
  [[nodiscard]] bool begun() const noexcept { return reached_.has_value(); }

  /// Returns the last step taken (or counted as taken), if any.
  [[nodiscard]] std::optional<stop_step> reached() const noexcept { return reached_; }

  /// Returns the time between steps.
  [[nodiscard]] std::chrono::milliseconds grace() const noexcept { return grace_; }

private:
  std::chrono::milliseconds grace_;
  std::optional<stop_step> reached_;
  std::optional<time_point> next_at_;
};

/// Takes `step` on the cell of `cell`: sends it a goodbye, or signals its process.
/// A cell without a process (none adopted) or one already reaped has nothing to signal;
/// that is success. Fails as `request_goodbye` or `send_signal` do.
result<void> take_step(peer_transport& cell, stop_step step);

} // namespace cellhub::transport
