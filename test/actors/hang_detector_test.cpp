// hang_detector: when a cell counts as hung, driven with injected time.

#include "cellhub/actors/hang_detector.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;

namespace {

const ac::hang_detector::time_point t0{std::chrono::seconds{1000}};

} // namespace

BOOST_AUTO_TEST_CASE(stuck_heartbeat_with_work_waiting_is_hung_exactly_at_the_timeout) {
  ac::hang_detector detector{100ms};
  BOOST_TEST(!detector.observe(t0, 7, true));
  BOOST_TEST(!detector.observe(t0 + 50ms, 7, true));
  BOOST_TEST(!detector.observe(t0 + 99ms, 7, true));
  BOOST_TEST(detector.observe(t0 + 100ms, 7, true));
  BOOST_TEST(detector.observe(t0 + 500ms, 7, true));
}

BOOST_AUTO_TEST_CASE(a_moving_heartbeat_restarts_the_timeout) {
  ac::hang_detector detector{100ms};
  BOOST_TEST(!detector.observe(t0, 1, true));
  BOOST_TEST(!detector.observe(t0 + 90ms, 2, true));
  BOOST_TEST(!detector.observe(t0 + 180ms, 2, true)); // 90 ms since the last beat
  BOOST_TEST(detector.observe(t0 + 190ms, 2, true));
}

BOOST_AUTO_TEST_CASE(an_idle_cell_is_never_hung_and_the_timeout_starts_when_work_arrives) {
  ac::hang_detector detector{100ms};
  BOOST_TEST(!detector.observe(t0, 5, false));
  BOOST_TEST(!detector.observe(t0 + 10s, 5, false));
  // Work arrives at +10 s with the heartbeat where it was: the clock starts there.
  BOOST_TEST(!detector.observe(t0 + 10s, 5, true));
  BOOST_TEST(!detector.observe(t0 + 10s + 99ms, 5, true));
  BOOST_TEST(detector.observe(t0 + 10s + 100ms, 5, true));
}

BOOST_AUTO_TEST_CASE(the_timeout_counts_from_the_last_look_that_found_no_work) {
  ac::hang_detector detector{100ms};
  BOOST_TEST(!detector.observe(t0, 5, true));
  // No work at +60 ms: whatever waited before was done.
  BOOST_TEST(!detector.observe(t0 + 60ms, 5, false));
  // Work is seen at +120 ms; it may have come any time after +60 ms.
  BOOST_TEST(!detector.observe(t0 + 120ms, 5, true));
  BOOST_TEST(!detector.observe(t0 + 159ms, 5, true));
  BOOST_TEST(detector.observe(t0 + 160ms, 5, true));
}

BOOST_AUTO_TEST_CASE(the_first_observation_never_reports_whatever_it_sees) {
  ac::hang_detector detector{100ms};
  BOOST_TEST(!detector.observe(t0 + 1h, 0, true));
}

BOOST_AUTO_TEST_CASE(zero_timeout_turns_detection_off) {
  ac::hang_detector detector{0ms};
  BOOST_TEST(!detector.enabled());
  BOOST_TEST(!detector.observe(t0, 1, true));
  BOOST_TEST(!detector.observe(t0 + 1h, 1, true));
}

BOOST_AUTO_TEST_CASE(check_period_is_an_eighth_of_the_timeout_and_at_least_a_millisecond) {
  BOOST_TEST(ac::hang_detector{800ms}.check_period().count() == 100);
  BOOST_TEST(ac::hang_detector{5ms}.check_period().count() == 1);
  BOOST_TEST(ac::hang_detector{100ms}.timeout().count() == 100);
}
