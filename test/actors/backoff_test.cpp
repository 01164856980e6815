// backoff: the delay before each restart, doubling up to a cap, with jitter and a reset after a
// stable run.

#include "cellhub/actors/backoff.hpp"
#include "cellhub/actors/restart_intensity.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

namespace ac = cellhub::actors;

using namespace std::chrono_literals;

namespace {

using time_point = ac::restart_intensity::time_point;
using duration = ac::restart_intensity::duration;

// Any fixed origin works because the classes never read a clock; a non-zero one keeps
// `now - period` away from the epoch.
const time_point t0 = time_point{} + 1000h;

// Returns the largest double below 1, the highest draw `uniform_real_distribution` gives.
double almost_one() {
  return std::nextafter(1.0, 0.0);
}

ac::backoff_config no_jitter(duration min_delay, duration max_delay) {
  ac::backoff_config config;
  config.min_delay = min_delay;
  config.max_delay = max_delay;
  config.jitter = 0.0;
  return config;
}

bool contains(const std::optional<std::string>& text, const std::string& part) {
  return text && text->find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(default_config_is_valid_and_matches_the_design) {
  const ac::backoff_config config;
  BOOST_TEST(!config.validate());
  BOOST_TEST((config.min_delay == 10ms));
  BOOST_TEST((config.max_delay == 5s));
  BOOST_TEST(config.jitter == 0.2);
  BOOST_TEST((config.reset_after == 30s));
}

BOOST_AUTO_TEST_CASE(delays_double_from_min_delay_until_max_delay_caps_them) {
  ac::backoff policy{no_jitter(10ms, 5s)};
  const duration expected[] = {10ms,  20ms,   40ms,   80ms, 160ms, 320ms,
                               640ms, 1280ms, 2560ms, 5s,   5s,    5s};
  for (const auto want : expected) {
    BOOST_TEST_CONTEXT("attempt " << policy.attempt()) {
      BOOST_TEST(policy.next_delay(0.5).count() == want.count());
    }
  }
}

BOOST_AUTO_TEST_CASE(delay_reaching_max_exactly_stays_at_max) {
  ac::backoff policy{no_jitter(1s, 4s)};
  BOOST_TEST(policy.next_delay(0.0).count() == duration{1s}.count());
  BOOST_TEST(policy.next_delay(0.0).count() == duration{2s}.count());
  BOOST_TEST(policy.next_delay(0.0).count() == duration{4s}.count());
  BOOST_TEST(policy.next_delay(0.0).count() == duration{4s}.count());
}

BOOST_AUTO_TEST_CASE(equal_min_and_max_delay_give_a_constant_delay) {
  ac::backoff policy{no_jitter(250ms, 250ms)};
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(policy.next_delay(0.0).count() == duration{250ms}.count());
}

BOOST_AUTO_TEST_CASE(attempt_counts_next_delay_calls_from_zero) {
  ac::backoff policy{ac::backoff_config{}};
  BOOST_TEST(policy.attempt() == 0u);
  policy.next_delay(0.0);
  policy.next_delay(0.0);
  BOOST_TEST(policy.attempt() == 2u);
}

BOOST_AUTO_TEST_CASE(uptime_of_exactly_reset_after_restarts_the_sequence) {
  auto config = no_jitter(10ms, 5s);
  config.reset_after = 30s;
  ac::backoff policy{config};
  policy.next_delay(0.0);
  policy.next_delay(0.0);
  policy.note_uptime(30s);
  BOOST_TEST(policy.attempt() == 0u);
  BOOST_TEST(policy.next_delay(0.0).count() == duration{10ms}.count());
}

BOOST_AUTO_TEST_CASE(uptime_just_below_reset_after_keeps_the_sequence) {
  auto config = no_jitter(10ms, 5s);
  config.reset_after = 30s;
  ac::backoff policy{config};
  policy.next_delay(0.0);
  policy.next_delay(0.0);
  policy.note_uptime(30s - 1ns);
  BOOST_TEST(policy.attempt() == 2u);
  BOOST_TEST(policy.next_delay(0.0).count() == duration{40ms}.count());
}

BOOST_AUTO_TEST_CASE(stop_after_reset_after_since_start_restarts_the_sequence) {
  auto config = no_jitter(10ms, 5s);
  config.reset_after = 30s;
  ac::backoff policy{config};
  policy.next_delay(0.0);
  policy.on_started(t0);
  policy.on_stopped(t0 + 30s);
  BOOST_TEST(policy.attempt() == 0u);
}

BOOST_AUTO_TEST_CASE(stop_just_before_reset_after_since_start_keeps_the_sequence) {
  auto config = no_jitter(10ms, 5s);
  config.reset_after = 30s;
  ac::backoff policy{config};
  policy.next_delay(0.0);
  policy.on_started(t0);
  policy.on_stopped(t0 + 30s - 1ns);
  BOOST_TEST(policy.attempt() == 1u);
}

BOOST_AUTO_TEST_CASE(stop_without_a_start_does_not_reset) {
  auto config = no_jitter(10ms, 5s);
  config.reset_after = 30s;
  ac::backoff policy{config};
  policy.next_delay(0.0);
  policy.on_stopped(t0 + 1h);
  BOOST_TEST(policy.attempt() == 1u);
  // A stop consumes its start: a second stop has nothing to measure from.
  policy.on_started(t0);
  policy.on_stopped(t0 + 1s);
  policy.on_stopped(t0 + 1h);
  BOOST_TEST(policy.attempt() == 1u);
}

BOOST_AUTO_TEST_CASE(zero_reset_after_resets_after_any_uptime) {
  auto config = no_jitter(10ms, 5s);
  config.reset_after = 0s;
  ac::backoff policy{config};
  policy.next_delay(0.0);
  policy.note_uptime(0s);
  BOOST_TEST(policy.attempt() == 0u);
}

BOOST_AUTO_TEST_CASE(manual_reset_restarts_the_sequence) {
  ac::backoff policy{no_jitter(10ms, 5s)};
  policy.next_delay(0.0);
  policy.next_delay(0.0);
  policy.reset();
  BOOST_TEST(policy.attempt() == 0u);
  BOOST_TEST(policy.next_delay(0.0).count() == duration{10ms}.count());
}

BOOST_AUTO_TEST_CASE(zero_draw_gives_the_exact_base_delay) {
  ac::backoff_config config; // jitter 0.2
  ac::backoff policy{config};
  BOOST_TEST(policy.next_delay(0.0).count() == duration{10ms}.count());
  BOOST_TEST(policy.next_delay(0.0).count() == duration{20ms}.count());
}

BOOST_AUTO_TEST_CASE(half_draw_adds_half_the_jitter_fraction) {
  auto config = no_jitter(100ms, 5s);
  config.jitter = 0.5;
  BOOST_TEST(ac::backoff::delay_for(config, 0, 0.5).count() == duration{125ms}.count());
}

BOOST_AUTO_TEST_CASE(draw_near_one_approaches_but_never_exceeds_base_times_one_plus_jitter) {
  auto config = no_jitter(100ms, 5s);
  config.jitter = 0.5;
  const auto delay = ac::backoff::delay_for(config, 0, almost_one());
  BOOST_TEST(delay.count() <= duration{150ms}.count());
  BOOST_TEST(delay.count() >= duration{150ms - 1us}.count());
}

BOOST_AUTO_TEST_CASE(fractional_tick_of_jitter_is_dropped_never_rounded_up) {
  // 7ns * (1 + 0.25 * u) is at most 8.75ns: rounding 1.7499ns of jitter up would give 9ns.
  auto config = no_jitter(7ns, 7ns);
  config.jitter = 0.25;
  BOOST_TEST(ac::backoff::delay_for(config, 0, almost_one()).count() == 8);
}

BOOST_AUTO_TEST_CASE(jitter_is_applied_on_top_of_max_delay) {
  ac::backoff_config config; // 10ms..5s, jitter 0.2
  const auto delay = ac::backoff::delay_for(config, 20, almost_one());
  BOOST_TEST(delay.count() > duration{5s}.count());
  BOOST_TEST(delay.count() <= duration{6s}.count());
  BOOST_TEST(delay.count() >= duration{6s - 1us}.count());
}

BOOST_AUTO_TEST_CASE(draw_outside_unit_interval_is_clamped) {
  auto config = no_jitter(100ms, 5s);
  config.jitter = 0.5;
  BOOST_TEST(ac::backoff::delay_for(config, 0, -1.0).count() == duration{100ms}.count());
  BOOST_TEST(ac::backoff::delay_for(config, 0, 1.0).count() == duration{150ms}.count());
  BOOST_TEST(ac::backoff::delay_for(config, 0, 7.0).count() == duration{150ms}.count());
  BOOST_TEST(ac::backoff::delay_for(config, 0, std::nan("")).count() == duration{100ms}.count());
  BOOST_TEST(ac::backoff::delay_for(config, 0, std::numeric_limits<double>::infinity()).count() ==
             duration{150ms}.count());
}

BOOST_AUTO_TEST_CASE(every_draw_stays_within_base_and_base_times_one_plus_jitter) {
  auto config = no_jitter(10ms, 5s);
  config.jitter = 0.25;
  ac::backoff policy{config};
  std::mt19937_64 engine{42};
  for (unsigned n = 0; n < 64; ++n) {
    const auto base = ac::backoff::delay_for(config, n, 0.0);
    const auto delay = policy.next_delay(engine);
    BOOST_TEST_CONTEXT("attempt " << n) {
      BOOST_TEST(delay.count() >= base.count());
      BOOST_TEST(delay.count() <= base.count() + base.count() / 4);
    }
  }
}

BOOST_AUTO_TEST_CASE(engine_overload_is_deterministic_for_a_seed) {
  ac::backoff first{ac::backoff_config{}};
  ac::backoff second{ac::backoff_config{}};
  std::mt19937 engine_a{7};
  std::mt19937 engine_b{7};
  for (int i = 0; i < 20; ++i)
    BOOST_TEST(first.next_delay(engine_a).count() == second.next_delay(engine_b).count());
  BOOST_TEST(first.attempt() == 20u);
}

BOOST_AUTO_TEST_CASE(huge_attempt_saturates_at_max_delay_without_overflow) {
  ac::backoff_config config; // 10ms..5s
  for (unsigned n : {30u, 62u, 63u, 64u, 1000u, std::numeric_limits<unsigned>::max()}) {
    BOOST_TEST_CONTEXT("attempt " << n) {
      BOOST_TEST(ac::backoff::delay_for(config, n, 0.0).count() == duration{5s}.count());
      BOOST_TEST(ac::backoff::delay_for(config, n, almost_one()).count() <= duration{6s}.count());
    }
  }
}

BOOST_AUTO_TEST_CASE(unbounded_max_delay_saturates_at_the_largest_duration) {
  auto config = no_jitter(1ns, duration::max());
  BOOST_TEST(ac::backoff::delay_for(config, 62, 0.0).count() == (duration::rep{1} << 62));
  BOOST_TEST(ac::backoff::delay_for(config, 63, 0.0).count() == duration::max().count());
  BOOST_TEST(ac::backoff::delay_for(config, 64, 0.0).count() == duration::max().count());
  config.jitter = 1.0;
  // 2^62 + 2^62 is one tick past the largest duration.
  BOOST_TEST(ac::backoff::delay_for(config, 62, 1.0).count() == duration::max().count());
  BOOST_TEST(ac::backoff::delay_for(config, 200, 1.0).count() == duration::max().count());
}

BOOST_AUTO_TEST_CASE(many_consecutive_restarts_stay_at_the_cap) {
  ac::backoff policy{no_jitter(10ms, 5s)};
  duration last{};
  for (int i = 0; i < 10'000; ++i)
    last = policy.next_delay(0.0);
  BOOST_TEST(policy.attempt() == 10'000u);
  BOOST_TEST(last.count() == duration{5s}.count());
}

BOOST_AUTO_TEST_CASE(zero_min_delay_means_no_delay_for_every_attempt) {
  ac::backoff_config config;
  config.min_delay = 0s;
  config.jitter = 1.0;
  ac::backoff policy{config};
  for (int i = 0; i < 100; ++i)
    BOOST_TEST(policy.next_delay(almost_one()).count() == 0);
  BOOST_TEST(ac::backoff::delay_for(config, std::numeric_limits<unsigned>::max(), 1.0).count() ==
             0);
}

BOOST_AUTO_TEST_CASE(zero_min_and_max_delay_is_valid_and_means_no_delay) {
  const auto config = no_jitter(0s, 0s);
  BOOST_TEST(!config.validate());
  BOOST_TEST(ac::backoff::delay_for(config, 3, 0.5).count() == 0);
}

BOOST_AUTO_TEST_CASE(min_delay_above_max_delay_is_rejected_with_a_message) {
  const auto problem = no_jitter(6s, 5s).validate();
  BOOST_TEST(contains(problem, "min_delay (6s) exceeds max_delay (5s)"));
  BOOST_CHECK_THROW((ac::backoff{no_jitter(6s, 5s)}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(negative_durations_are_rejected_with_a_message) {
  ac::backoff_config config;
  config.min_delay = -10ms;
  config.max_delay = -1us;
  config.reset_after = -1ns;
  const auto problem = config.validate();
  BOOST_TEST(contains(problem, "min_delay (-10ms) is negative"));
  BOOST_TEST(contains(problem, "max_delay (-1us) is negative"));
  BOOST_TEST(contains(problem, "reset_after (-1ns) is negative"));
  BOOST_CHECK_THROW((ac::backoff{config}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(jitter_outside_unit_interval_is_rejected_with_a_message) {
  ac::backoff_config config;
  config.jitter = 1.5;
  BOOST_TEST(contains(config.validate(), "jitter (1.5) is outside [0, 1]"));
  config.jitter = -0.1;
  BOOST_TEST(contains(config.validate(), "jitter (-0.1) is outside [0, 1]"));
  config.jitter = std::nan("");
  BOOST_TEST(contains(config.validate(), "is outside [0, 1]"));
  BOOST_CHECK_THROW((ac::backoff{config}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(jitter_at_the_interval_ends_is_valid) {
  ac::backoff_config config;
  config.jitter = 0.0;
  BOOST_TEST(!config.validate());
  config.jitter = 1.0;
  BOOST_TEST(!config.validate());
}

BOOST_AUTO_TEST_CASE(several_problems_are_reported_together) {
  ac::backoff_config config;
  config.min_delay = 10s;
  config.jitter = 2.0;
  const auto problem = config.validate();
  BOOST_TEST(contains(problem, "backoff: "));
  BOOST_TEST(contains(problem, "min_delay (10s) exceeds max_delay (5s); jitter (2) is outside"));
}

BOOST_AUTO_TEST_SUITE_END()
