// The supervisor's decisions, step by step and deterministic: no actors, no
// processes, time passed in.
#include "cellhub/actors/supervision_core.hpp"

#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <string>
#include <vector>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ac::ending;
using ac::restart_strategy;
using ac::restart_type;

namespace {

ac::cell_spec cell(std::string name, restart_type restart = restart_type::permanent) {
  ac::cell_spec spec;
  spec.name = std::move(name);
  spec.binary = "cell";
  spec.restart = restart;
  spec.backoff = {.min_delay = 10ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
  return spec;
}

ac::supervisor_spec tree(restart_strategy strategy, std::vector<ac::child_spec> children,
                         int max_restarts = 10) {
  ac::supervisor_spec spec;
  spec.name = "sup";
  spec.strategy = strategy;
  spec.max_restarts = max_restarts;
  spec.period = 5s;
  spec.children = std::move(children);
  return spec;
}

// Drives a core like the supervisor actor does, recording commands as words.
struct driver {
  ac::supervision_core core;
  clock_type::time_point now = clock_type::time_point{} + 1h;
  std::uint64_t last_timer = 0;

  explicit driver(ac::supervisor_spec spec)
      : core{std::move(spec), 42} {}

  std::uint64_t id(const std::string& name) const { return core.find(name)->id; }
  std::string name(std::uint64_t child) const {
    const auto* c = core.find(child);
    return c ? c->spec.name() : "?";
  }
  ac::child_state state(const std::string& child) const { return core.find(child)->state; }

  std::string words(const ac::supervision_core::commands& commands) {
    std::string out;
    for (const auto& c : commands) {
      if (!out.empty())
        out += ", ";
      using k = ac::supervision_command::kind;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.delay).count();
      switch (c.what) {
      case k::start:
        out += "start " + name(c.child);
        break;
      case k::stop:
        out += "stop " + name(c.child);
        break;
      case k::restarting:
        out += fmt::format("restarting {} {}ms", name(c.child), ms);
        break;
      case k::timer:
        out += fmt::format("timer {}ms", ms);
        last_timer = c.timer;
        break;
      case k::quarantine:
        out += "quarantine " + name(c.child);
        break;
      case k::escalate:
        out += "escalate " + name(c.child);
        break;
      case k::removed:
        out += "removed " + c.name;
        break;
      case k::exit:
        out += "exit";
        break;
      }
    }
    return out;
  }

  std::string start() { return words(core.start(now)); }
  std::string ready(const std::string& child) { return words(core.on_ready(id(child), now)); }
  std::string down(const std::string& child, ending how = ending::killed) {
    return words(core.on_down(id(child), ac::life_end{.how = how}, now));
  }
  std::string fire() { return words(core.on_timer(last_timer, now)); }

  void start_all(std::initializer_list<const char*> names) {
    start();
    for (const char* n : names)
      ready(n);
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(supervision_core)

BOOST_AUTO_TEST_CASE(children_start_one_after_another_in_spec_order) {
  driver d{tree(restart_strategy::one_for_one, {cell("a"), cell("b"), cell("c")})};
  BOOST_TEST(d.start() == "start a");
  BOOST_TEST(d.ready("a") == "start b");
  BOOST_TEST(d.ready("b") == "start c");
  BOOST_TEST(d.ready("c") == "");
  BOOST_TEST((d.state("c") == ac::child_state::running));
}

BOOST_AUTO_TEST_CASE(one_for_one_restarts_only_the_failed_child_after_its_backoff) {
  driver d{tree(restart_strategy::one_for_one, {cell("a"), cell("b"), cell("c")})};
  d.start_all({"a", "b", "c"});
  BOOST_TEST(d.down("b") == "restarting b 10ms, timer 10ms");
  BOOST_TEST((d.state("b") == ac::child_state::restarting));
  BOOST_TEST(d.fire() == "start b");
  BOOST_TEST(d.ready("b") == "");
  BOOST_TEST(d.core.find("b")->restarts == 1u);
}

BOOST_AUTO_TEST_CASE(one_for_all_stops_the_others_in_reverse_order_and_restarts_all_in_order) {
  driver d{tree(restart_strategy::one_for_all, {cell("a"), cell("b"), cell("c"), cell("d")})};
  d.start_all({"a", "b", "c", "d"});
  BOOST_TEST(d.down("b") == "restarting b 10ms, stop d");
  BOOST_TEST(d.down("d", ending::stopped) == "stop c");
  BOOST_TEST(d.down("c", ending::stopped) == "stop a");
  BOOST_TEST(d.down("a", ending::stopped) == "timer 10ms");
  BOOST_TEST(d.fire() == "start a");
  BOOST_TEST(d.ready("a") == "start b");
  BOOST_TEST(d.ready("b") == "start c");
  BOOST_TEST(d.ready("c") == "start d");
  BOOST_TEST(d.ready("d") == "");
}

BOOST_AUTO_TEST_CASE(rest_for_one_restarts_the_failed_child_and_those_started_after_it) {
  driver d{tree(restart_strategy::rest_for_one, {cell("a"), cell("b"), cell("c"), cell("d")})};
  d.start_all({"a", "b", "c", "d"});
  BOOST_TEST(d.down("b") == "restarting b 10ms, stop d");
  BOOST_TEST(d.down("d", ending::stopped) == "stop c");
  BOOST_TEST(d.down("c", ending::stopped) == "timer 10ms");
  BOOST_TEST(d.fire() == "start b");
  BOOST_TEST(d.ready("b") == "start c");
  BOOST_TEST(d.ready("c") == "start d");
  BOOST_TEST(d.ready("d") == "");
  BOOST_TEST((d.state("a") == ac::child_state::running));
}

BOOST_AUTO_TEST_CASE(transient_child_is_restarted_after_a_crash_but_not_after_a_clean_exit) {
  driver d{tree(restart_strategy::one_for_one, {cell("t", restart_type::transient)})};
  d.start_all({"t"});
  BOOST_TEST(d.down("t", ending::killed) == "restarting t 10ms, timer 10ms");
  d.fire();
  d.ready("t");
  BOOST_TEST(d.down("t", ending::goodbye) == "");
  BOOST_TEST((d.state("t") == ac::child_state::stopped));
}

BOOST_AUTO_TEST_CASE(transient_child_that_exits_without_a_goodbye_is_restarted_even_with_code_0) {
  driver d{tree(restart_strategy::one_for_one, {cell("t", restart_type::transient)})};
  d.start_all({"t"});
  BOOST_TEST(d.down("t", ending::exited) == "restarting t 10ms, timer 10ms");
  BOOST_TEST((d.core.find("t")->last_ends.back().how == ending::exited));
}

BOOST_AUTO_TEST_CASE(escalate_and_quarantine_carry_the_end_that_caused_them) {
  driver d{tree(restart_strategy::one_for_one, {cell("a")}, 0)};
  d.start_all({"a"});
  ac::life_end hung{.how = ending::hung, .pid = 77, .timeout_ms = 1000};
  const auto commands = d.core.on_down(d.id("a"), hung, d.now);
  BOOST_TEST_REQUIRE(!commands.empty());
  BOOST_TEST((commands.front().what == ac::supervision_command::kind::escalate));
  BOOST_TEST((commands.front().end == hung));

  auto parked = cell("p");
  parked.on_intensity = ac::intensity_action::quarantine;
  driver q{tree(restart_strategy::one_for_one, {parked}, 0)};
  q.start_all({"p"});
  const auto quarantine = q.core.on_down(q.id("p"), hung, q.now);
  BOOST_TEST_REQUIRE(quarantine.size() == 1u);
  BOOST_TEST((quarantine.front().what == ac::supervision_command::kind::quarantine));
  BOOST_TEST((quarantine.front().end == hung));
}

BOOST_AUTO_TEST_CASE(temporary_child_is_never_restarted_even_when_a_sibling_takes_it_down) {
  driver d{tree(restart_strategy::one_for_all, {cell("a"), cell("tmp", restart_type::temporary)})};
  d.start_all({"a", "tmp"});
  BOOST_TEST(d.down("a") == "restarting a 10ms, stop tmp");
  BOOST_TEST(d.down("tmp", ending::stopped) == "removed tmp, timer 10ms");
  BOOST_TEST(d.core.find("tmp") == nullptr);
  BOOST_TEST(d.fire() == "start a");

  driver lone{tree(restart_strategy::one_for_one, {cell("tmp", restart_type::temporary)})};
  lone.start_all({"tmp"});
  BOOST_TEST(lone.down("tmp", ending::killed) == "removed tmp");
  BOOST_TEST(lone.core.children().empty());
}

BOOST_AUTO_TEST_CASE(backoff_grows_with_each_failed_start_and_resets_after_a_long_run) {
  driver d{tree(restart_strategy::one_for_one, {cell("flaky")})};
  d.start_all({"flaky"});
  BOOST_TEST(d.down("flaky") == "restarting flaky 10ms, timer 10ms");
  d.fire();
  BOOST_TEST(d.down("flaky", ending::no_ready) == "restarting flaky 20ms, timer 20ms");
  d.fire();
  BOOST_TEST(d.down("flaky", ending::no_ready) == "restarting flaky 40ms, timer 40ms");
  d.fire();
  d.ready("flaky");
  d.now += 31s; // up longer than reset_after
  BOOST_TEST(d.down("flaky") == "restarting flaky 10ms, timer 10ms");
}

BOOST_AUTO_TEST_CASE(exceeding_the_intensity_stops_all_in_reverse_order_and_escalates) {
  driver d{tree(restart_strategy::one_for_one, {cell("a"), cell("b"), cell("c")}, 2)};
  d.start_all({"a", "b", "c"});
  d.down("b");
  d.fire();
  d.ready("b");
  d.down("b");
  d.fire();
  d.ready("b");
  BOOST_TEST(d.down("b") == "escalate b, stop c");
  BOOST_TEST(d.down("c", ending::stopped) == "stop a");
  BOOST_TEST(d.down("a", ending::stopped) == "exit");
  BOOST_TEST(d.core.stopping());
}

BOOST_AUTO_TEST_CASE(restarts_outside_the_period_do_not_count_toward_the_intensity) {
  driver d{tree(restart_strategy::one_for_one, {cell("a")}, 1)};
  d.start_all({"a"});
  BOOST_TEST(d.down("a") == "restarting a 10ms, timer 10ms");
  d.fire();
  d.ready("a");
  d.now += 6s;
  BOOST_TEST(d.down("a") == "restarting a 20ms, timer 20ms"); // backoff grows: up < 30 s
  BOOST_TEST(d.down("a").empty()); // a is restarting: a stale second report is ignored
  d.fire();
  d.ready("a");
  BOOST_TEST(d.down("a") == "escalate a, exit"); // two within 5 s; nothing else runs
}

BOOST_AUTO_TEST_CASE(quarantine_parks_the_child_until_restart_child) {
  auto flaky = cell("flaky");
  flaky.on_intensity = ac::intensity_action::quarantine;
  driver d{tree(restart_strategy::one_for_one, {cell("a"), flaky}, 1)};
  d.start_all({"a", "flaky"});
  d.down("flaky");
  d.fire();
  BOOST_TEST(d.down("flaky", ending::no_ready) == "quarantine flaky");
  BOOST_TEST((d.state("flaky") == ac::child_state::quarantined));
  BOOST_TEST((d.state("a") == ac::child_state::running));
  BOOST_TEST((d.core.find("flaky")->last_ends.back().how == ending::no_ready));
  BOOST_TEST(d.words(d.core.restart_child(d.id("flaky")).value()) == "start flaky");
}

BOOST_AUTO_TEST_CASE(failed_start_during_a_group_restart_restarts_the_group_again) {
  driver d{tree(restart_strategy::one_for_all, {cell("a"), cell("b")})};
  d.start_all({"a", "b"});
  d.down("a");
  d.down("b", ending::stopped);
  d.fire();
  d.ready("a");
  // b dies before READY: the whole group restarts, with b's grown backoff.
  BOOST_TEST(d.down("b", ending::no_ready) == "restarting b 10ms, stop a");
  BOOST_TEST(d.down("a", ending::stopped) == "timer 10ms");
  BOOST_TEST(d.fire() == "start a");
}

BOOST_AUTO_TEST_CASE(terminate_keeps_the_spec_and_delete_needs_the_child_stopped) {
  driver d{tree(restart_strategy::one_for_one, {cell("a"), cell("b")})};
  d.start_all({"a", "b"});
  const auto refused = d.core.delete_child(d.id("a"));
  BOOST_TEST_REQUIRE(!refused);
  BOOST_TEST((refused.error() == ac::errc::running));
  BOOST_TEST(d.words(d.core.terminate_child(d.id("a")).value()) == "stop a");
  BOOST_TEST(d.down("a", ending::stopped) == "");
  BOOST_TEST((d.state("a") == ac::child_state::stopped));
  BOOST_TEST(d.words(d.core.restart_child(d.id("a")).value()) == "start a");
  d.ready("a");
  d.words(d.core.terminate_child(d.id("a")).value());
  d.down("a", ending::stopped);
  BOOST_TEST(!d.core.delete_child(d.id("a")).has_error());
  BOOST_TEST(d.core.find("a") == nullptr);
}

BOOST_AUTO_TEST_CASE(pool_starts_its_replicas_at_once_and_resizes_both_ways) {
  auto spec = tree(restart_strategy::simple_one_for_one, {cell("w")});
  spec.replicas = 3;
  driver d{spec};
  BOOST_TEST(d.start() == "start w-1, start w-2, start w-3");
  d.ready("w-1");
  d.ready("w-2");
  d.ready("w-3");
  BOOST_TEST(d.words(d.core.resize(4).value()) == "start w-4");
  BOOST_TEST(d.words(d.core.resize(2).value()) == "stop w-4, stop w-3");
  BOOST_TEST(d.down("w-4", ending::stopped) == "removed w-4");
  BOOST_TEST(d.down("w-3", ending::stopped) == "removed w-3");
  BOOST_TEST(d.core.children().size() == 2u);
  BOOST_TEST(d.down("w-1") == "restarting w-1 10ms, timer 10ms");
  BOOST_TEST((d.state("w-2") == ac::child_state::running));
}

BOOST_AUTO_TEST_CASE(shutdown_stops_running_children_in_reverse_start_order) {
  driver d{tree(restart_strategy::one_for_one, {cell("a"), cell("b"), cell("c")})};
  d.start_all({"a", "b", "c"});
  d.down("b");
  BOOST_TEST(d.words(d.core.shutdown(d.now)) == "stop c");
  BOOST_TEST(d.down("c", ending::stopped) == "stop a");
  BOOST_TEST(d.down("a", ending::stopped) == "exit");
  BOOST_TEST(d.fire() == ""); // b's restart timer no longer matters
}

BOOST_AUTO_TEST_CASE(pool_shutdown_stops_every_replica_at_once_and_exits_after_the_last) {
  auto spec = tree(restart_strategy::simple_one_for_one, {cell("w")});
  spec.replicas = 4;
  driver d{spec};
  d.start_all({"w-1", "w-2", "w-3", "w-4"});
  d.down("w-2"); // waiting out its backoff: nothing to stop, its restart is cancelled
  BOOST_TEST(d.words(d.core.shutdown(d.now)) == "stop w-4, stop w-3, stop w-1");
  BOOST_TEST(d.down("w-1", ending::stopped) == "");
  BOOST_TEST(d.down("w-4", ending::stopped) == "");
  BOOST_TEST(d.down("w-3", ending::stopped) == "exit");
  BOOST_TEST(d.fire() == ""); // w-2's restart timer no longer starts it
}

BOOST_AUTO_TEST_CASE(pool_that_exceeds_its_intensity_stops_every_replica_at_once) {
  auto spec = tree(restart_strategy::simple_one_for_one, {cell("w")}, 0);
  spec.replicas = 3;
  driver d{spec};
  d.start_all({"w-1", "w-2", "w-3"});
  BOOST_TEST(d.down("w-2") == "escalate w-2, stop w-3, stop w-1");
  BOOST_TEST(d.down("w-3", ending::stopped) == "");
  BOOST_TEST(d.down("w-1", ending::stopped) == "exit");
}

BOOST_AUTO_TEST_CASE(other_strategies_still_stop_one_child_after_another) {
  for (auto strategy : {restart_strategy::one_for_one, restart_strategy::one_for_all,
                        restart_strategy::rest_for_one}) {
    driver d{tree(strategy, {cell("a"), cell("b"), cell("c")})};
    d.start_all({"a", "b", "c"});
    BOOST_TEST(d.words(d.core.shutdown(d.now)) == "stop c");
    BOOST_TEST(d.down("c", ending::stopped) == "stop b");
    BOOST_TEST(d.down("b", ending::stopped) == "stop a");
    BOOST_TEST(d.down("a", ending::stopped) == "exit");
  }
}

BOOST_AUTO_TEST_CASE(dropped_specs_are_reported_removed_after_their_end) {
  // A temporary child that ends on its own, or that an operator terminates.
  driver d{tree(restart_strategy::one_for_one, {cell("a"), cell("t1", restart_type::temporary),
                                                cell("t2", restart_type::temporary)})};
  d.start_all({"a", "t1", "t2"});
  BOOST_TEST(d.down("t1", ending::goodbye) == "removed t1");
  BOOST_TEST(d.words(d.core.terminate_child(d.id("t2")).value()) == "stop t2");
  BOOST_TEST(d.down("t2", ending::stopped) == "removed t2");
  BOOST_TEST(d.core.children().size() == 1u);

  // A pool shrink: a running replica once it is down, a restarting one at once.
  auto spec = tree(restart_strategy::simple_one_for_one, {cell("w")});
  spec.replicas = 3;
  driver pool{spec};
  pool.start_all({"w-1", "w-2", "w-3"});
  pool.down("w-2");
  BOOST_TEST(pool.words(pool.core.resize(1).value()) == "stop w-3, removed w-2");
  BOOST_TEST(pool.down("w-3", ending::stopped) == "removed w-3");
  BOOST_TEST(pool.core.children().size() == 1u);
  BOOST_TEST(pool.fire() == ""); // w-2's restart timer is gone with it
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(refused_requests_say_why_with_an_errc) {
  driver d{tree(restart_strategy::one_for_one, {cell("a")})};
  d.start_all({"a"});
  BOOST_TEST((d.core.restart_child(d.id("a")).error() == ac::errc::running));
  BOOST_TEST((d.core.restart_child(9999).error() == ac::errc::unknown_child));
  BOOST_TEST((d.core.terminate_child(9999).error() == ac::errc::unknown_child));
  BOOST_TEST((d.core.delete_child(9999).error() == ac::errc::unknown_child));
  BOOST_TEST((d.core.resize(3).error() == ac::errc::not_a_pool));
  d.down("a");
  // Its restart is due: restarting it by hand is refused, as is deleting it.
  BOOST_TEST((d.core.restart_child(d.id("a")).error() == ac::errc::restarting));
  BOOST_TEST((d.core.delete_child(d.id("a")).error() == ac::errc::restarting));
  (void)d.core.shutdown(ac::supervision_core::clock::now());
  BOOST_TEST((d.core.restart_child(d.id("a")).error() == ac::errc::shutting_down));

  auto spec = tree(restart_strategy::simple_one_for_one, {cell("w")});
  spec.replicas = 1;
  driver pool{spec};
  pool.start_all({"w-1"});
  BOOST_TEST((pool.core.delete_child(pool.id("w-1")).error() == ac::errc::simple_one_for_one));
  (void)pool.core.shutdown(ac::supervision_core::clock::now());
  BOOST_TEST((pool.core.resize(2).error() == ac::errc::shutting_down));
}
