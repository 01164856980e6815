#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>

namespace cellhub::actors {

/// Decides whether one more restart fits a budget of `max_restarts` within `period`,
/// following Erlang/OTP's `supervisor:add_restart/3` exactly.
///
/// The rule: drop every earlier restart `R` with `R < now - period` (a restart exactly
/// `period` old still counts), record `now`, and allow the restart iff the number of
/// recorded restarts is `<= max_restarts`. A refused restart stays recorded, as in OTP,
/// so a crash loop that keeps going keeps being refused until it calms down.
///
/// Differences from OTP: OTP stamps restarts with `erlang:monotonic_time(second)`, so its
/// window has whole-second granularity; this class compares full `steady_clock`
/// resolution. It also keeps at most `max_restarts + 1` restarts (the oldest go first),
/// which never changes a verdict because every count above `max_restarts` refuses alike.
///
/// Owns no clock: every call takes the current time, which should not decrease between
/// calls (a `steady_clock` reading guarantees that).
class restart_intensity {
public:
  /// Names the clock whose readings the caller passes in.
  using clock = std::chrono::steady_clock;
  /// Names the type of `period`.
  using duration = clock::duration;
  /// Names the type of the `now` arguments.
  using time_point = clock::time_point;

  /// Constructs OTP's default budget: 1 restart within 5 seconds.
  restart_intensity();

  /// Constructs a budget of `max_restarts` within `period`; throws `std::invalid_argument`
  /// with `validate`'s message when `max_restarts < 0` or `period <= 0`.
  restart_intensity(int max_restarts, duration period);

  /// Returns why `max_restarts` and `period` cannot form a budget, or nothing if they can.
  static std::optional<std::string> validate(int max_restarts, duration period);

  /// Records a restart at `now` and returns whether it stays within the budget.
  bool add_restart(time_point now);

  /// Counts the recorded restarts at or after `now - period`, without recording one;
  /// saturates at `max_restarts + 1` because no more are kept.
  std::size_t restarts_in_window(time_point now) const;

  /// Forgets every recorded restart.
  void reset() noexcept;

  /// Returns the number of restarts allowed within `period`.
  int max_restarts() const noexcept { return max_restarts_; }

  /// Returns the length of the sliding window.
  duration period() const noexcept { return period_; }

private:
  // Returns `now - period_`, saturated at the clock's minimum instead of wrapping.
  time_point window_start(time_point now) const noexcept;

  // Holds the bound on `restarts_.size()`: one more than allowed is enough to refuse.
  std::size_t capacity() const noexcept;

  int max_restarts_;
  duration period_;
  // Holds recorded restarts in ascending order, oldest first.
  std::deque<time_point> restarts_;
};

} // namespace cellhub::actors
