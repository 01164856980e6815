#pragma once

#include <chrono>
#include <concepts>
#include <optional>
#include <random>
#include <string>

namespace cellhub::actors {

/// Holds the parameters of a child's restart backoff; see `backoff` for the formula.
struct backoff_config {
  /// Names the type of every delay and of the uptime threshold.
  using duration = std::chrono::steady_clock::duration;

  /// Holds the delay before the first restart; zero disables delays altogether.
  duration min_delay{std::chrono::milliseconds{10}};
  /// Holds the cap on the doubled delay, before jitter is applied on top.
  duration max_delay{std::chrono::seconds{5}};
  /// Holds the random factor in [0, 1]: a delay grows by up to this fraction.
  double jitter{0.2};
  /// Holds how long a child must stay up for its restart count to start over at zero.
  duration reset_after{std::chrono::seconds{30}};

  /// Returns every reason the values are impossible, joined by "; ", or nothing if valid.
  std::optional<std::string> validate() const;
};

/// Computes the delay before each consecutive restart of one child, as in Akka's
/// `BackoffSupervisor`: `delay = min(max_delay, min_delay * 2^n) * (1 + jitter * u)`, where
/// `n` counts the restarts since the last reset and `u` is uniform in [0, 1).
///
/// Jitter is applied on top of the cap, so a delay may exceed `max_delay` by up to the
/// jitter fraction (5 s with 0.2 jitter gives up to 6 s); Akka does the same. Unlike Akka,
/// which returns plain `maxBackoff` once `n >= 30`, jitter also applies at huge `n`: that
/// is where many children sit at the cap and must not restart in lockstep.
///
/// Owns no clock and no random source: times and the uniform draw are passed in, so the
/// sequence is deterministic for given inputs.
class backoff {
public:
  /// Names the type of every delay.
  using duration = backoff_config::duration;
  /// Names the type of the times passed to `on_started` and `on_stopped`.
  using time_point = std::chrono::steady_clock::time_point;

  /// Constructs a backoff for `config`; throws `std::invalid_argument` with the message of
  /// `config.validate()` when the config is impossible.
  explicit backoff(const backoff_config& config);

  /// Computes the delay for restart number `attempt` (0 for the first) and the draw
  /// `uniform01`, without any state; expects a valid `config`.
  ///
  /// `uniform01` is clamped into [0, 1] and NaN counts as 0, so the result always lies in
  /// [base, base * (1 + jitter)]; it saturates at `duration::max()` instead of overflowing.
  static duration delay_for(const backoff_config& config, unsigned attempt,
                            double uniform01) noexcept;

  /// Returns the delay before the next restart for the draw `uniform01` and counts the
  /// restart, so the following call doubles the base delay (until the cap).
  duration next_delay(double uniform01) noexcept;

  /// Returns the delay before the next restart, drawing `u` from `engine`, and counts it.
  template <std::uniform_random_bit_generator Engine>
  duration next_delay(Engine& engine) {
    std::uniform_real_distribution<double> draw{0.0, 1.0};
    return next_delay(draw(engine));
  }

  /// Notes that the child became ready at `now`; `on_stopped` measures uptime from here.
  void on_started(time_point now) noexcept;

  /// Notes that the child stopped at `now`; resets the count if it was up for at least
  /// `reset_after` since `on_started`. Does nothing without a preceding `on_started`,
  /// because a child that never became ready has shown no stable run.
  void on_stopped(time_point now) noexcept;

  /// Resets the count if `up` (how long the child ran) is at least `reset_after`.
  void note_uptime(duration up) noexcept;

  /// Forgets every counted restart, so the next delay is the base `min_delay` again.
  void reset() noexcept;

  /// Returns `n`: the restarts counted since construction or the last reset.
  unsigned attempt() const noexcept { return attempt_; }

  /// Returns the config this backoff was built with.
  const backoff_config& config() const noexcept { return config_; }

private:
  backoff_config config_;
  unsigned attempt_ = 0;
  std::optional<time_point> started_;
};

} // namespace cellhub::actors
