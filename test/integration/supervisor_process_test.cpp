// Supervision with real cell processes: SIGKILL, hangs, crash loops, escalation,
// group restarts and pools, observed through lifecycle events.
#include "hub_path.hpp"
#include "log_capture.hpp"
#include "payload_check.hpp"

#include "cellhub/actors/embedding.hpp"

#include <caf/all.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ac::event_kind;

namespace {

caf::actor_system_config& prepared(caf::actor_system_config& cfg) {
  ac::prepare_config(cfg);
  return cfg;
}

ac::cell_spec cell(std::string name, std::string mode = "echo") {
  ac::cell_spec spec;
  spec.name = std::move(name);
  spec.binary = TEST_CELL_PATH;
  spec.args = {"--mode=" + mode};
  spec.start_timeout = 10s; // generous: sanitizers make starting slow
  spec.hang_timeout = 0ms;
  spec.backoff = {.min_delay = 0ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
  return spec;
}

ac::supervisor_spec tree_of(ac::restart_strategy strategy, std::vector<ac::child_spec> children,
                            int max_restarts = 10, std::string name = "root") {
  ac::supervisor_spec spec;
  spec.name = std::move(name);
  spec.strategy = strategy;
  spec.max_restarts = max_restarts;
  spec.period = 10s;
  spec.children = std::move(children);
  return spec;
}

struct observed {
  ac::lifecycle_event event;
  clock_type::time_point at;
};

// An actor system, a tree in it, and a scoped actor that sees every event.
struct harness {
  cellhub::test::log_capture log; // keeps expected warnings off the test output
  caf::actor_system_config cfg;
  caf::actor_system sys{prepared(cfg)};
  caf::scoped_actor self{sys};
  std::optional<ac::supervision_tree> tree;
  std::vector<observed> events;
  std::vector<ac::remapped> remaps;

  explicit harness(ac::supervisor_spec root) {
    auto started =
        ac::supervision_tree::start(sys, cellhub::test::unique_hub_path("sup"), std::move(root));
    BOOST_TEST_REQUIRE(static_cast<bool>(started), (started ? "" : sys.render(started.error())));
    tree.emplace(std::move(*started));
    self->request(tree->root(), 10s, caf::subscribe_atom_v, caf::actor{self})
        .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(caf::to_string(err)); });
    self->request(tree->registry(), 10s, caf::subscribe_atom_v, caf::actor{self})
        .receive([](caf::ok_atom) {}, [](caf::error& err) { BOOST_FAIL(caf::to_string(err)); });
  }

  ~harness() {
    if (tree)
      tree->stop();
  }

  // Waits for the first event (not seen before) of `kind` for `name`.
  observed await(event_kind kind, const std::string& name, std::chrono::seconds limit = 60s) {
    for (std::size_t i = 0;; ++i) {
      while (i >= events.size()) {
        bool got = false;
        self->receive(
            [&](ac::lifecycle_event& e) {
              events.push_back({std::move(e), clock_type::now()});
              got = true;
            },
            [&](ac::remapped& r) {
              remaps.push_back(std::move(r));
              got = true;
            },
            caf::after(limit) >> [&] {});
        BOOST_TEST_REQUIRE(got, "no " << ac::to_string(kind) << " event for " << name);
      }
      if (!consumed_[i] && events[i].event.kind == kind && events[i].event.name == name) {
        consumed_[i] = true;
        return events[i];
      }
    }
  }

  // Lists the kinds of `name`'s events so far, in order.
  std::vector<std::string> kinds_of(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& e : events)
      if (e.event.name == name)
        out.emplace_back(ac::to_string(e.event.kind));
    return out;
  }

  // Waits for the registry's next `remapped` notice.
  ac::remapped await_remap(std::chrono::seconds limit = 60s) {
    while (remaps_taken_ >= remaps.size()) {
      bool got = false;
      self->receive(
          [&](ac::lifecycle_event& e) {
            events.push_back({std::move(e), clock_type::now()});
          },
          [&](ac::remapped& r) {
            remaps.push_back(std::move(r));
            got = true;
          },
          caf::after(limit) >> [&] {});
      if (!got && remaps_taken_ >= remaps.size())
        BOOST_FAIL("no remapped notice from the registry");
    }
    return remaps[remaps_taken_++];
  }

  ac::registry_entry lookup(const std::string& name) {
    ac::registry_entry entry;
    self->request(tree->registry(), 10s, ac::lookup_atom_v, name)
        .receive([&](ac::registry_entry& e) { entry = std::move(e); },
                 [&](caf::error& err) { BOOST_FAIL(sys.render(err)); });
    return entry;
  }

  caf::expected<ac::payload> call(const std::string& name, std::size_t size, std::uint64_t seed,
                                  std::chrono::seconds timeout = 30s) {
    caf::expected<ac::payload> out{caf::error{}};
    const auto request = cellhub::test::make_payload(size, seed);
    self->request(tree->registry(), timeout, ac::call_atom_v, name, ac::payload{request})
        .receive(
            [&](ac::payload& reply) {
              BOOST_TEST(cellhub::test::is_answer(request, reply.bytes()));
              out = std::move(reply);
            },
            [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  std::vector<ac::child_info> which(const caf::actor& supervisor) {
    std::vector<ac::child_info> out;
    self->request(supervisor, 10s, ac::which_atom_v)
        .receive([&](std::vector<ac::child_info>& infos) { out = std::move(infos); },
                 [&](caf::error& err) { BOOST_FAIL(sys.render(err)); });
    return out;
  }

private:
  std::size_t remaps_taken_ = 0;
  std::vector<bool> consumed_ = std::vector<bool>(4096, false);
};

double ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

} // namespace

BOOST_AUTO_TEST_SUITE(supervisor_process)

BOOST_AUTO_TEST_CASE(killed_worker_comes_back_as_a_new_life_and_its_name_is_remapped) {
  harness h{tree_of(ac::restart_strategy::one_for_one, {cell("w1"), cell("w2")})};
  h.await(event_kind::ready, "w1");
  h.await(event_kind::ready, "w2");
  BOOST_TEST(static_cast<bool>(h.call("w1", 4096, 1)));
  const auto before = h.lookup("w1");

  const auto killed_at = clock_type::now();
  BOOST_TEST_REQUIRE(::kill(before.pid, SIGKILL) == 0);
  const auto died = h.await(event_kind::died, "w1");
  h.await(event_kind::restarting, "w1");
  h.await(event_kind::started, "w1");
  const auto ready = h.await(event_kind::ready, "w1");
  const auto remapped = h.await(event_kind::remapped, "w1");
  BOOST_TEST_MESSAGE("SIGKILL to died: " << ms_between(killed_at, died.at) << " ms; to ready: "
                                         << ms_between(killed_at, ready.at) << " ms");
  BOOST_TEST(died.event.signal == SIGKILL);
  BOOST_TEST(died.event.cause.starts_with("crashed"));
  BOOST_TEST((h.kinds_of("w1") == std::vector<std::string>{"started", "ready", "died", "restarting",
                                                           "started", "ready", "remapped"}));
  BOOST_TEST(remapped.event.old_peer_id == before.peer_id);

  const auto after = h.lookup("w1");
  BOOST_TEST((after.peer_id != before.peer_id || after.incarnation != before.incarnation));
  BOOST_TEST(after.pid != before.pid);
  BOOST_TEST(remapped.event.peer_id == after.peer_id);
  BOOST_TEST(static_cast<bool>(h.call("w1", 70000, 2)));
  // The registry told its subscribers too.
  const auto notice = h.await_remap();
  BOOST_TEST(notice.name == "w1");
  BOOST_TEST(notice.old_peer_id == before.peer_id);
  BOOST_TEST(notice.new_peer_id == after.peer_id);
  BOOST_TEST(notice.incarnation == after.incarnation);
  BOOST_TEST(h.kinds_of("w2") == (std::vector<std::string>{"started", "ready"}));
}

BOOST_AUTO_TEST_CASE(request_in_flight_to_a_killed_cell_fails_with_cell_died_at_once) {
  harness h{tree_of(ac::restart_strategy::one_for_one, {cell("sink", "idle")})};
  h.await(event_kind::ready, "sink");
  const auto pid = h.lookup("sink").pid;
  const auto request = cellhub::test::make_payload(64, 1);
  std::optional<caf::error> failure;
  // The request is on its way (the cell reads it and never answers) when the cell dies.
  auto pending = h.self->request(h.tree->registry(), 30s, ac::call_atom_v, std::string{"sink"},
                                 ac::payload{request});
  const auto killed_at = clock_type::now();
  BOOST_TEST_REQUIRE(::kill(pid, SIGKILL) == 0);
  std::move(pending).receive([&](ac::payload&) {}, [&](caf::error& err) { failure = err; });
  const auto waited = ms_between(killed_at, clock_type::now());
  BOOST_TEST_MESSAGE("request failed " << waited << " ms after SIGKILL");
  BOOST_TEST_REQUIRE(failure.has_value());
  BOOST_TEST(ac::is(*failure, ac::errc::cell_died),
             (*failure ? h.sys.render(*failure) : std::string{"empty error"}));
  BOOST_TEST(waited < 5000.0); // far below the 30 s request timeout
}

BOOST_AUTO_TEST_CASE(transient_cell_that_says_goodbye_is_not_restarted) {
  auto polite = cell("polite", "goodbye");
  polite.restart = ac::restart_type::transient;
  harness h{tree_of(ac::restart_strategy::one_for_one, {polite, cell("other")})};
  const auto died = h.await(event_kind::died, "polite");
  BOOST_TEST(died.event.cause == "normal");
  BOOST_TEST(died.event.exit_code == 0);
  const auto children = h.which(h.tree->root());
  BOOST_TEST_REQUIRE(children.size() == 2u);
  BOOST_TEST(children[0].state == "stopped");
  BOOST_TEST((h.kinds_of("polite") == std::vector<std::string>{"started", "ready", "died"}));
}

BOOST_AUTO_TEST_CASE(crash_on_start_backs_off_as_configured_then_is_quarantined) {
  auto flaky = cell("flaky", "crash-on-start");
  flaky.backoff = {.min_delay = 20ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
  flaky.on_intensity = ac::intensity_action::quarantine;
  harness h{tree_of(ac::restart_strategy::one_for_one, {cell("steady"), flaky}, 3)};
  std::vector<std::int64_t> delays;
  for (int i = 0; i < 3; ++i) {
    const auto died = h.await(event_kind::died, "flaky");
    BOOST_TEST(died.event.cause.starts_with("start_failed"));
    BOOST_TEST(died.event.exit_code == 3);
    delays.push_back(h.await(event_kind::restarting, "flaky").event.delay_ms);
  }
  BOOST_TEST((delays == std::vector<std::int64_t>{20, 40, 80}));
  h.await(event_kind::quarantined, "flaky");
  const auto children = h.which(h.tree->root());
  BOOST_TEST(children[1].state == "quarantined");
  BOOST_TEST(children[1].last_cause.starts_with("start_failed"));
  BOOST_TEST(children[0].state == "running");
  std::size_t starts = 0;
  for (const auto& kind : h.kinds_of("flaky"))
    starts += kind == "started" ? 1 : 0;
  BOOST_TEST(starts == 4u); // the first start and three restarts, nothing since
  // restart_child releases it (it crashes again, which is fine: it was released).
  h.self->request(h.tree->root(), 10s, ac::restart_atom_v, std::string{"flaky"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  h.await(event_kind::started, "flaky");
}

BOOST_AUTO_TEST_CASE(crash_on_start_escalates_and_stops_everything_once_intensity_is_spent) {
  harness h{tree_of(ac::restart_strategy::one_for_one,
                    {cell("steady"), cell("flaky", "crash-on-start")}, 2)};
  h.self->monitor(h.tree->root());
  h.await(event_kind::escalated, "flaky");
  h.await(event_kind::stopped, "steady");
  caf::error reason;
  bool down = false;
  while (!down)
    h.self->receive(
        [&](caf::down_msg& msg) {
          reason = msg.reason;
          down = true;
        },
        [&](ac::lifecycle_event& e) {
          h.events.push_back({e, clock_type::now()});
        },
        [&](ac::remapped&) {}, caf::after(60s) >> [&] { down = true; });
  BOOST_TEST(ac::is(reason, ac::errc::reached_max_restart_intensity),
             (reason ? h.sys.render(reason) : std::string{"no exit reason"}));
  std::size_t starts = 0;
  for (const auto& kind : h.kinds_of("flaky"))
    starts += kind == "started" ? 1 : 0;
  BOOST_TEST(starts == 3u); // the first start and two restarts
}

BOOST_AUTO_TEST_CASE(stopped_cell_with_work_waiting_is_reported_hung_and_restarted) {
  auto slow = cell("slow");
  slow.hang_timeout = 1000ms;
  harness h{tree_of(ac::restart_strategy::one_for_one, {slow})};
  h.await(event_kind::ready, "slow");
  const auto pid = h.lookup("slow").pid;
  BOOST_TEST_REQUIRE(::kill(pid, SIGSTOP) == 0);
  const auto sent_at = clock_type::now();
  h.self->request(h.tree->registry(), 60s, ac::call_atom_v, std::string{"slow"},
                  ac::payload{cellhub::test::make_payload(64, 9)});
  const auto died = h.await(event_kind::died, "slow");
  const auto detected = ms_between(sent_at, died.at);
  BOOST_TEST_MESSAGE("hung reported " << detected << " ms after work arrived");
  BOOST_TEST(died.event.cause.starts_with("hung"));
  BOOST_TEST(detected >= 750.0);
  BOOST_TEST(detected <= 1250.0);
  h.await(event_kind::ready, "slow");
  BOOST_TEST(h.lookup("slow").pid != pid);
}

BOOST_AUTO_TEST_CASE(stopped_idle_cell_is_never_called_hung) {
  auto idle = cell("idle");
  idle.hang_timeout = 200ms;
  harness h{tree_of(ac::restart_strategy::one_for_one, {idle})};
  h.await(event_kind::ready, "idle");
  const auto pid = h.lookup("idle").pid;
  BOOST_TEST_REQUIRE(::kill(pid, SIGSTOP) == 0);
  // Five hang timeouts with nothing waiting for it: no event may arrive.
  bool quiet = true;
  h.self->receive([&](ac::lifecycle_event&) { quiet = false; }, caf::after(1s) >> [] {});
  BOOST_TEST(quiet);
  BOOST_TEST_REQUIRE(::kill(pid, SIGCONT) == 0);
  BOOST_TEST(static_cast<bool>(h.call("idle", 64, 3)));
  BOOST_TEST(h.lookup("idle").pid == pid);
}

BOOST_AUTO_TEST_CASE(one_for_all_restarts_every_cell_in_order_after_one_dies) {
  harness h{tree_of(ac::restart_strategy::one_for_all, {cell("a"), cell("b"), cell("c")})};
  h.await(event_kind::ready, "c");
  BOOST_TEST_REQUIRE(::kill(h.lookup("b").pid, SIGKILL) == 0);
  h.await(event_kind::ready, "c");
  std::vector<std::string> sequence;
  bool after_kill = false;
  for (const auto& e : h.events) {
    after_kill = after_kill || e.event.kind == event_kind::died;
    if (after_kill && e.event.kind != event_kind::remapped)
      sequence.push_back(std::string{ac::to_string(e.event.kind)} + " " + e.event.name);
  }
  BOOST_TEST((sequence == std::vector<std::string>{"died b", "restarting b", "stopped c",
                                                   "stopped a", "started a", "ready a", "started b",
                                                   "ready b", "started c", "ready c"}));
}

BOOST_AUTO_TEST_CASE(nested_supervisor_that_reaches_its_intensity_is_restarted_by_its_parent) {
  auto inner = tree_of(ac::restart_strategy::one_for_one, {cell("x")}, 1, "inner");
  harness h{tree_of(ac::restart_strategy::one_for_one, {cell("top"), inner})};
  h.await(event_kind::ready, "x");
  h.await(event_kind::ready, "inner");
  BOOST_TEST_REQUIRE(::kill(h.lookup("x").pid, SIGKILL) == 0);
  h.await(event_kind::ready, "x");
  BOOST_TEST_REQUIRE(::kill(h.lookup("x").pid, SIGKILL) == 0);
  const auto escalated = h.await(event_kind::escalated, "x");
  BOOST_TEST(escalated.event.supervisor == "inner");
  const auto died = h.await(event_kind::died, "inner");
  BOOST_TEST(died.event.cause.starts_with("reached_max_restart_intensity"));
  h.await(event_kind::restarting, "inner");
  h.await(event_kind::started, "inner");
  h.await(event_kind::ready, "x");
  h.await(event_kind::ready, "inner");
  BOOST_TEST(static_cast<bool>(h.call("x", 64, 5)));
  BOOST_TEST(h.kinds_of("top") == (std::vector<std::string>{"started", "ready"}));
}

BOOST_AUTO_TEST_CASE(pool_grows_and_shrinks_with_real_cells) {
  auto pool = tree_of(ac::restart_strategy::simple_one_for_one, {cell("w")});
  pool.replicas = 3;
  harness h{pool};
  for (const char* name : {"w-1", "w-2", "w-3"})
    h.await(event_kind::ready, name);
  h.self->request(h.tree->root(), 10s, ac::resize_atom_v, std::uint64_t{5})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  h.await(event_kind::ready, "w-5");
  h.self->request(h.tree->root(), 10s, ac::resize_atom_v, std::uint64_t{2})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  for (const char* name : {"w-5", "w-4", "w-3"})
    h.await(event_kind::stopped, name);
  ac::child_counts counts;
  h.self->request(h.tree->root(), 10s, ac::count_atom_v)
      .receive([&](ac::child_counts& c) { counts = c; },
               [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  BOOST_TEST(counts.specs == 2u);
  BOOST_TEST(counts.workers == 2u);
  BOOST_TEST(static_cast<bool>(h.call("w-2", 64, 7)));
}

BOOST_AUTO_TEST_SUITE_END()
