// stop_escalation: the goodbye -> SIGTERM -> SIGKILL timeline, driven with injected time.

#include "cellhub/transport/stop_escalation.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

const tr::stop_escalation::time_point t0{std::chrono::seconds{1000}};

} // namespace

BOOST_AUTO_TEST_CASE(goodbye_then_sigterm_then_sigkill_each_a_grace_apart) {
  tr::stop_escalation esc{100ms};
  BOOST_TEST(!esc.begun());
  BOOST_TEST(!esc.next_at().has_value());
  BOOST_TEST(!esc.due(t0 + 1h).has_value()); // nothing before begin

  BOOST_TEST((esc.begin(t0) == tr::stop_step::goodbye));
  BOOST_TEST((esc.reached() == tr::stop_step::goodbye));
  BOOST_TEST((esc.next_at() == t0 + 100ms));
  BOOST_TEST(!esc.due(t0 + 99ms).has_value());
  BOOST_TEST((esc.due(t0 + 100ms) == tr::stop_step::sigterm));
  BOOST_TEST(!esc.due(t0 + 100ms).has_value()); // each step once
  BOOST_TEST((esc.next_at() == t0 + 200ms));
  BOOST_TEST((esc.due(t0 + 250ms) == tr::stop_step::sigkill));
  BOOST_TEST((esc.reached() == tr::stop_step::sigkill));
  BOOST_TEST(!esc.next_at().has_value());
  BOOST_TEST(!esc.due(t0 + 1h).has_value());
}

BOOST_AUTO_TEST_CASE(a_late_look_takes_one_step_and_restarts_the_grace_from_it) {
  tr::stop_escalation esc{100ms};
  (void)esc.begin(t0);
  // Looked at 1 s late: SIGTERM now, and the cell still gets its grace before SIGKILL.
  BOOST_TEST((esc.due(t0 + 1s) == tr::stop_step::sigterm));
  BOOST_TEST((esc.next_at() == t0 + 1s + 100ms));
}

BOOST_AUTO_TEST_CASE(beginning_after_a_step_the_cell_took_itself_skips_it) {
  tr::stop_escalation said_goodbye{50ms};
  said_goodbye.begin_after(tr::stop_step::goodbye, t0);
  BOOST_TEST((said_goodbye.due(t0 + 50ms) == tr::stop_step::sigterm));

  // A cell whose doorbell hung up but whose process lingers: only SIGKILL is left.
  tr::stop_escalation lingering{50ms};
  lingering.begin_after(tr::stop_step::sigterm, t0);
  BOOST_TEST((lingering.due(t0 + 50ms) == tr::stop_step::sigkill));

  tr::stop_escalation over{50ms};
  over.begin_after(tr::stop_step::sigkill, t0);
  BOOST_TEST(over.begun());
  BOOST_TEST(!over.next_at().has_value());
}

BOOST_AUTO_TEST_CASE(steps_are_named_for_logs) {
  BOOST_TEST(tr::describe(tr::stop_step::goodbye) == "goodbye");
  BOOST_TEST(tr::describe(tr::stop_step::sigterm) == "SIGTERM");
  BOOST_TEST(tr::describe(tr::stop_step::sigkill) == "SIGKILL");
}
