// restart_intensity: OTP's restart budget over a sliding window, with injected time.

#include "cellhub/actors/restart_intensity.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
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

bool contains(const std::optional<std::string>& text, const std::string& part) {
  return text && text->find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(restart_intensity)

BOOST_AUTO_TEST_CASE(default_budget_is_otp_one_restart_in_five_seconds) {
  ac::restart_intensity intensity;
  BOOST_TEST(intensity.max_restarts() == 1);
  BOOST_TEST((intensity.period() == 5s));
}

BOOST_AUTO_TEST_CASE(first_restart_already_exceeds_intensity_of_zero) {
  ac::restart_intensity intensity{0, 10s};
  BOOST_TEST(!intensity.add_restart(t0));
}

BOOST_AUTO_TEST_CASE(three_restarts_within_period_fit_intensity_of_three) {
  ac::restart_intensity intensity{3, 10s};
  BOOST_TEST(intensity.add_restart(t0));
  BOOST_TEST(intensity.add_restart(t0 + 1s));
  BOOST_TEST(intensity.add_restart(t0 + 2s));
  BOOST_TEST(intensity.restarts_in_window(t0 + 2s) == 3u);
}

BOOST_AUTO_TEST_CASE(fourth_restart_within_period_exceeds_intensity_of_three) {
  ac::restart_intensity intensity{3, 10s};
  intensity.add_restart(t0);
  intensity.add_restart(t0 + 1s);
  intensity.add_restart(t0 + 2s);
  BOOST_TEST(!intensity.add_restart(t0 + 3s));
}

BOOST_AUTO_TEST_CASE(simultaneous_restarts_all_count) {
  ac::restart_intensity intensity{2, 10s};
  BOOST_TEST(intensity.add_restart(t0));
  BOOST_TEST(intensity.add_restart(t0));
  BOOST_TEST(!intensity.add_restart(t0));
}

BOOST_AUTO_TEST_CASE(restart_exactly_one_period_old_still_counts) {
  ac::restart_intensity intensity{1, 10s};
  BOOST_TEST(intensity.add_restart(t0));
  // OTP keeps R when R >= Now - Period: the lower bound is inside the window.
  BOOST_TEST(!intensity.add_restart(t0 + 10s));
}

BOOST_AUTO_TEST_CASE(restart_one_tick_older_than_period_no_longer_counts) {
  ac::restart_intensity intensity{1, 10s};
  BOOST_TEST(intensity.add_restart(t0));
  // One nanosecond past the bound: OTP's whole seconds would still count it; we do not.
  BOOST_TEST(intensity.add_restart(t0 + 10s + 1ns));
}

BOOST_AUTO_TEST_CASE(sub_second_period_is_honoured_at_full_resolution) {
  ac::restart_intensity intensity{1, 100ms};
  BOOST_TEST(intensity.add_restart(t0));
  BOOST_TEST(intensity.restarts_in_window(t0 + 100ms) == 1u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 100ms + 1ns) == 0u);
  BOOST_TEST(intensity.add_restart(t0 + 100ms + 1ns));
}

BOOST_AUTO_TEST_CASE(sliding_window_lets_restarts_through_again_as_old_ones_expire) {
  ac::restart_intensity intensity{3, 10s};
  BOOST_TEST(intensity.add_restart(t0));
  BOOST_TEST(intensity.add_restart(t0 + 4s));
  BOOST_TEST(intensity.add_restart(t0 + 8s));
  // The restart at t0 has just left the window [t0 + 1ms, t0 + 10s + 1ms].
  BOOST_TEST(intensity.add_restart(t0 + 10s + 1ms));
  // Window [t0 + 4s, t0 + 14s] holds 4s, 8s, 10.001s and now.
  BOOST_TEST(!intensity.add_restart(t0 + 14s));
}

BOOST_AUTO_TEST_CASE(refused_restart_still_counts_against_later_restarts) {
  ac::restart_intensity intensity{2, 10s};
  BOOST_TEST(intensity.add_restart(t0));
  BOOST_TEST(intensity.add_restart(t0 + 1s));
  BOOST_TEST(!intensity.add_restart(t0 + 2s));
  // Window [t0 + 1s, t0 + 11s]: 1s, the refused 2s and now make three, as in OTP.
  BOOST_TEST(!intensity.add_restart(t0 + 11s));
  // Window [t0 + 11.5s, t0 + 21.5s]: every earlier restart has expired, so only now.
  BOOST_TEST(intensity.add_restart(t0 + 21s + 500ms));
}

BOOST_AUTO_TEST_CASE(restarts_in_window_counts_without_recording) {
  ac::restart_intensity intensity{5, 10s};
  intensity.add_restart(t0);
  intensity.add_restart(t0 + 5s);
  BOOST_TEST(intensity.restarts_in_window(t0 + 5s) == 2u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 5s) == 2u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 10s) == 2u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 12s) == 1u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 15s + 1ns) == 0u);
}

BOOST_AUTO_TEST_CASE(burst_of_restarts_keeps_at_most_max_restarts_plus_one) {
  ac::restart_intensity intensity{3, 10s};
  for (int i = 0; i < 10'000; ++i)
    intensity.add_restart(t0 + i * 1us);
  BOOST_TEST(intensity.restarts_in_window(t0 + 1s) == 4u);
  // Dropping the oldest never changes a verdict: the next in-window restart is refused,
  // and once the burst has expired the budget is whole again.
  BOOST_TEST(!intensity.add_restart(t0 + 2s));
  BOOST_TEST(intensity.add_restart(t0 + 13s));
}

BOOST_AUTO_TEST_CASE(earlier_now_is_recorded_in_order) {
  ac::restart_intensity intensity{2, 10s};
  BOOST_TEST(intensity.add_restart(t0 + 5s));
  BOOST_TEST(intensity.add_restart(t0 + 1s));
  BOOST_TEST(intensity.restarts_in_window(t0 + 11s) == 2u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 11s + 1ns) == 1u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 15s) == 1u);
  BOOST_TEST(intensity.restarts_in_window(t0 + 15s + 1ns) == 0u);
}

BOOST_AUTO_TEST_CASE(reset_forgets_every_restart) {
  ac::restart_intensity intensity{1, 10s};
  intensity.add_restart(t0);
  BOOST_TEST(!intensity.add_restart(t0 + 1s));
  intensity.reset();
  BOOST_TEST(intensity.restarts_in_window(t0 + 1s) == 0u);
  BOOST_TEST(intensity.add_restart(t0 + 2s));
}

BOOST_AUTO_TEST_CASE(now_near_the_clock_minimum_does_not_wrap_the_window) {
  ac::restart_intensity intensity{1, 10s};
  const auto earliest = time_point::min();
  BOOST_TEST(intensity.add_restart(earliest));
  BOOST_TEST(!intensity.add_restart(earliest + 1s));
  BOOST_TEST(intensity.restarts_in_window(earliest + 1s) == 2u);
}

BOOST_AUTO_TEST_CASE(negative_max_restarts_is_rejected_with_a_message) {
  const auto problem = ac::restart_intensity::validate(-1, 10s);
  BOOST_TEST(contains(problem, "max_restarts (-1) is negative"));
  BOOST_CHECK_THROW((ac::restart_intensity{-1, 10s}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(non_positive_period_is_rejected_with_a_message) {
  BOOST_TEST(contains(ac::restart_intensity::validate(1, 0s), "period (0ns) is not positive"));
  BOOST_TEST(contains(ac::restart_intensity::validate(1, -1ns), "period (-1ns) is not positive"));
  BOOST_CHECK_THROW((ac::restart_intensity{1, 0s}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(valid_budget_passes_validation) {
  BOOST_TEST(!ac::restart_intensity::validate(0, 1ns));
  BOOST_TEST(!ac::restart_intensity::validate(std::numeric_limits<int>::max(), 1h));
}

BOOST_AUTO_TEST_SUITE_END()
