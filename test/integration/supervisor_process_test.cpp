// Supervision with real cell processes: SIGKILL, hangs, crash loops, escalation,
// group restarts and pools, observed through lifecycle events.
#include "hub_path.hpp"
#include "log_capture.hpp"
#include "payload_check.hpp"

#include "cellhub/actors/embedding.hpp"

#include <caf/all.hpp>

#include <boost/test/unit_test.hpp>

#include "cellhub/actors/fd_budget.hpp"
#include "cellhub/transport/fd_limit.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ac::ending;
using ac::event_kind;

namespace {

// Returns the end an event carries; fails the test when it carries none.
ac::life_end end_of(const ac::lifecycle_event& event) {
  BOOST_TEST_REQUIRE(static_cast<bool>(event.end),
                     ac::to_string(event.kind) << " of " << event.name << " carries no end");
  return *event.end;
}

// Returns the signal that ended the life, or 0.
int signal_of(const ac::life_end& end) {
  return end.status && end.status->signaled ? end.status->signal : 0;
}

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

  // Subscribes `self` to the tree's events from the start (and to its one-way
  // messages when `sink` is set).
  explicit harness(ac::supervisor_spec root, bool sink = false) {
    ac::tree_options options;
    options.subscribers.push_back(caf::actor{self});
    if (sink)
      options.sink = caf::actor{self};
    auto started = ac::supervision_tree::start(sys, cellhub::test::unique_hub_path("sup"),
                                               std::move(root), std::move(options));
    BOOST_TEST_REQUIRE(static_cast<bool>(started), (started ? "" : sys.render(started.error())));
    tree.emplace(std::move(*started));
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

  std::vector<ac::child_info> which(const ac::supervisor_actor& supervisor) {
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

using call_handle = decltype(std::declval<caf::scoped_actor&>()->request(
    ac::registry_actor{}, 1s, ac::call_atom_v, std::string{}, ac::payload{}));

// Sends a call by name without waiting for it.
call_handle call_async(harness& h, const std::string& name, ac::payload bytes,
                       std::chrono::seconds timeout = 60s) {
  return h.self->request(h.tree->registry(), timeout, ac::call_atom_v, name, std::move(bytes));
}

call_handle call_async(harness& h, const std::string& name) {
  return call_async(h, name, ac::payload{cellhub::test::make_payload(64, 11)});
}

// Waits for a call's outcome: its error, or none when it was answered.
caf::error outcome(call_handle& pending) {
  caf::error out;
  std::move(pending).receive([](ac::payload&) {}, [&](caf::error& err) { out = std::move(err); });
  return out;
}

std::string show(harness& h, const caf::error& err) {
  return err ? h.sys.render(err) : std::string{"no error"};
}

// Casts by name and returns the registry's answer (none when the cell took it).
caf::error cast(harness& h, const std::string& name) {
  caf::error out;
  h.self
      ->request(h.tree->registry(), 60s, ac::cast_atom_v, name,
                ac::payload{cellhub::test::make_payload(64, 12)})
      .receive([] {}, [&](caf::error& err) { out = std::move(err); });
  return out;
}

// Waits until process `pid` has exited (it need not be our child), or `limit` passes.
bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0)
    return errno == ESRCH; // already gone
  pollfd ready{fd, POLLIN, 0};
  const int n = ::poll(&ready, 1, static_cast<int>(limit.count()));
  ::close(fd);
  return n == 1;
}

// Stops cell `pid` (a child of this process, which hosts the hub) with SIGSTOP and
// waits until it is stopped: kill() only queues the signal, and the tests that stop a
// cell rely on it doing nothing more. No hang guard needed: SIGSTOP cannot be caught,
// and an exit ends the wait too (then the test fails).
void freeze(pid_t pid) {
  BOOST_TEST_REQUIRE(::kill(pid, SIGSTOP) == 0);
  siginfo_t info{};
  int waited = 0;
  // WNOWAIT: the state stays for the hub, whose reaper waits for the exit.
  while ((waited = ::waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WEXITED | WNOWAIT)) !=
             0 &&
         errno == EINTR) {
  }
  BOOST_TEST_REQUIRE(waited == 0, "waitid: errno " << errno);
  BOOST_TEST_REQUIRE(info.si_code == CLD_STOPPED, "cell " << pid << " ended instead of stopping");
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
  const auto end = end_of(died.event);
  BOOST_TEST((end.how == ending::killed), ac::describe(end));
  BOOST_TEST(signal_of(end) == SIGKILL);
  BOOST_TEST(end.pid == before.pid);
  BOOST_TEST(ac::describe(end) == "killed: signal 9 (SIGKILL)");
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
  BOOST_TEST_REQUIRE(::kill(pid, SIGKILL) == 0);
  std::move(pending).receive([&](ac::payload&) {}, [&](caf::error& err) { failure = err; });
  BOOST_TEST_REQUIRE(static_cast<bool>(failure));
  // Failed by the death, not by the 30 s request timeout, which reports request_timeout.
  BOOST_TEST(ac::is(*failure, ac::errc::cell_died),
             (*failure ? h.sys.render(*failure) : std::string{"empty error"}));
}

BOOST_AUTO_TEST_CASE(transient_cell_that_says_goodbye_is_not_restarted) {
  auto polite = cell("polite", "goodbye");
  polite.restart = ac::restart_type::transient;
  harness h{tree_of(ac::restart_strategy::one_for_one, {polite, cell("other")})};
  const auto died = h.await(event_kind::died, "polite");
  const auto end = end_of(died.event);
  BOOST_TEST((end.how == ending::goodbye), ac::describe(end));
  BOOST_TEST_REQUIRE(static_cast<bool>(end.status));
  BOOST_TEST(end.status->clean());
  const auto children = h.which(h.tree->root());
  BOOST_TEST_REQUIRE(children.size() == 2u);
  BOOST_TEST((children[0].state == ac::child_state::stopped));
  BOOST_TEST_REQUIRE(static_cast<bool>(children[0].last_end));
  BOOST_TEST((children[0].last_end->how == ending::goodbye));
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
    const auto end = end_of(died.event);
    BOOST_TEST((end.how == ending::no_ready), ac::describe(end));
    BOOST_TEST_REQUIRE(static_cast<bool>(end.status));
    BOOST_TEST(end.status->code == 3);
    BOOST_TEST(end.uptime_ms == 0);
    delays.push_back(h.await(event_kind::restarting, "flaky").event.delay_ms);
  }
  BOOST_TEST((delays == std::vector<std::int64_t>{20, 40, 80}));
  h.await(event_kind::quarantined, "flaky");
  const auto children = h.which(h.tree->root());
  BOOST_TEST((children[1].state == ac::child_state::quarantined));
  BOOST_TEST_REQUIRE(static_cast<bool>(children[1].last_end));
  BOOST_TEST((children[1].last_end->how == ending::no_ready));
  BOOST_TEST((children[0].state == ac::child_state::running));
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
  freeze(pid);
  // Idle and stopped, it is not hung: nothing was reported (see the next test).
  BOOST_TEST_REQUIRE(h.kinds_of("slow") == (std::vector<std::string>{"started", "ready"}));
  auto pending = call_async(h, "slow");
  const auto died = h.await(event_kind::died, "slow");
  const auto end = end_of(died.event);
  BOOST_TEST((end.how == ending::hung), ac::describe(end));
  BOOST_TEST(end.timeout_ms == 1000);
  BOOST_TEST(ac::describe(end) == "hung: no progress for 1000 ms with work waiting");
  BOOST_TEST(signal_of(end) == SIGKILL);
  // The work that waited was this call: it was pending when the cell was ended. When,
  // counted from its arrival, is the hang check's to test with injected time: by the
  // wall clock, a stalled scheduler could move the report either way.
  const auto failed = outcome(pending);
  BOOST_TEST(ac::is(failed, ac::errc::cell_died), show(h, failed));
  h.await(event_kind::ready, "slow");
  h.await(event_kind::remapped, "slow");
  BOOST_TEST(h.lookup("slow").pid != pid);
  BOOST_TEST(
      (h.kinds_of("slow") == std::vector<std::string>{"started", "ready", "died", "restarting",
                                                      "started", "ready", "remapped"}));
}

BOOST_AUTO_TEST_CASE(stopped_idle_cell_is_never_called_hung) {
  auto idle = cell("idle");
  idle.hang_timeout = 200ms;
  // Stopped after the idle cell, with work waiting and five times its hang timeout:
  // the witness's hang report marks the end of five idle timeouts by the same hang
  // checks, instead of a silence window measured by the test's clock.
  auto witness = cell("witness");
  witness.hang_timeout = 1000ms;
  harness h{tree_of(ac::restart_strategy::one_for_one, {idle, witness})};
  h.await(event_kind::ready, "idle");
  h.await(event_kind::ready, "witness");
  const auto pid = h.lookup("idle").pid;
  freeze(pid);
  freeze(h.lookup("witness").pid);
  auto pending = call_async(h, "witness");
  const auto died = h.await(event_kind::died, "witness");
  BOOST_TEST_REQUIRE((end_of(died.event).how == ending::hung), ac::describe(end_of(died.event)));
  const auto failed = outcome(pending);
  BOOST_TEST(ac::is(failed, ac::errc::cell_died), show(h, failed));
  h.await(event_kind::ready, "witness");
  // Nothing waited for the idle cell: it was not reported.
  BOOST_TEST(h.kinds_of("idle") == (std::vector<std::string>{"started", "ready"}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(::kill(pid, SIGCONT) == 0);
  BOOST_TEST(static_cast<bool>(h.call("idle", 64, 3)));
  BOOST_TEST(h.lookup("idle").pid == pid);
  BOOST_TEST(h.kinds_of("idle") == (std::vector<std::string>{"started", "ready"}),
             boost::test_tools::per_element());
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
  BOOST_TEST((end_of(died.event).how == ending::gave_up));
  BOOST_TEST((end_of(escalated.event).how == ending::killed));
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

// --- bounds on what waits for a cell (max_pending, request_timeout) ---------------

BOOST_AUTO_TEST_CASE(calls_beyond_max_pending_to_a_stopped_cell_fail_at_once_with_overloaded) {
  auto frozen = cell("frozen");
  frozen.max_pending = 8;
  harness h{tree_of(ac::restart_strategy::one_for_one, {frozen})};
  h.await(event_kind::ready, "frozen");
  const auto pid = h.lookup("frozen").pid;
  freeze(pid);
  std::vector<call_handle> waiting;
  for (int i = 0; i < 8; ++i)
    waiting.push_back(call_async(h, "frozen"));
  // The eight still wait (the cell is stopped), so these answers come from the bound.
  auto refused = call_async(h, "frozen");
  const auto err = outcome(refused);
  BOOST_TEST(ac::is(err, ac::errc::overloaded), show(h, err));
  const auto cast_err = cast(h, "frozen");
  BOOST_TEST(ac::is(cast_err, ac::errc::overloaded), show(h, cast_err));
  // Continued, the cell answers every call that was let in, and takes new ones.
  BOOST_TEST_REQUIRE(::kill(pid, SIGCONT) == 0);
  for (auto& each : waiting) {
    const auto answered = outcome(each);
    BOOST_TEST(!answered, show(h, answered));
  }
  const auto took = cast(h, "frozen");
  BOOST_TEST(!took, show(h, took));
  BOOST_TEST(static_cast<bool>(h.call("frozen", 64, 1)));
}

BOOST_AUTO_TEST_CASE(calls_a_stopped_cell_never_answers_expire_and_free_their_places) {
  auto frozen = cell("frozen");
  frozen.max_pending = 6;
  frozen.request_timeout = 1s;
  harness h{tree_of(ac::restart_strategy::one_for_one, {frozen})};
  h.await(event_kind::ready, "frozen");
  const auto pid = h.lookup("frozen").pid;
  freeze(pid);
  // 1 MiB calls: the cell's four 1 MiB slots fill, the rest wait for ring space, and
  // those expire too. Each round fills the table again, so each proves it emptied.
  // (One payload for all: copies share the bytes, and building 1 MiB takes a while.)
  const ac::payload big{cellhub::test::make_payload(1 << 20, 11)};
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      std::vector<call_handle> waiting;
      for (int i = 0; i < 6; ++i)
        waiting.push_back(call_async(h, "frozen", big));
      auto refused = call_async(h, "frozen", big);
      const auto err = outcome(refused);
      BOOST_TEST(ac::is(err, ac::errc::overloaded), show(h, err));
      for (auto& each : waiting) {
        const auto expired = outcome(each);
        BOOST_TEST(ac::is(expired, ac::errc::request_timeout), show(h, expired));
      }
    }
  }
  // Continued, the cell works through the four calls it took, whose late replies are
  // dropped, then answers new calls (under sanitizers that may outlast one timeout).
  BOOST_TEST_REQUIRE(::kill(pid, SIGCONT) == 0);
  caf::error last;
  bool answered = false;
  for (int attempt = 0; attempt < 10 && !answered; ++attempt) {
    auto fresh = call_async(h, "frozen", big);
    last = outcome(fresh);
    answered = !last;
  }
  BOOST_TEST(answered, show(h, last));
}

BOOST_AUTO_TEST_CASE(calls_a_cell_answers_under_wrong_ids_expire_and_free_their_places) {
  auto liar = cell("liar", "wrong-ids");
  liar.max_pending = 4;
  liar.request_timeout = 1s;
  harness h{tree_of(ac::restart_strategy::one_for_one, {liar})};
  h.await(event_kind::ready, "liar");
  for (int round = 0; round < 3; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      std::vector<call_handle> waiting;
      for (int i = 0; i < 4; ++i)
        waiting.push_back(call_async(h, "liar"));
      auto refused = call_async(h, "liar");
      const auto err = outcome(refused);
      BOOST_TEST(ac::is(err, ac::errc::overloaded), show(h, err));
      for (auto& each : waiting) {
        const auto expired = outcome(each);
        BOOST_TEST(ac::is(expired, ac::errc::request_timeout), show(h, expired));
      }
    }
  }
  BOOST_TEST(h.kinds_of("liar") == (std::vector<std::string>{"started", "ready"}));
}

// --- stopping ------------------------------------------------------------------------

namespace {

ac::cell_spec stubborn(std::string name, std::chrono::milliseconds shutdown_timeout) {
  auto spec = cell(std::move(name), "stubborn");
  spec.shutdown_timeout = shutdown_timeout;
  return spec;
}

} // namespace

BOOST_AUTO_TEST_CASE(pool_of_stubborn_cells_is_asked_to_stop_all_at_once) {
  auto pool = tree_of(ac::restart_strategy::simple_one_for_one, {stubborn("s", 1s)});
  pool.replicas = 4;
  harness h{pool, true};
  for (const char* name : {"s-1", "s-2", "s-3", "s-4"})
    h.await(event_kind::ready, name);
  h.self->monitor(h.tree->root());
  h.tree->request_stop();
  // Each stubborn cell reports the goodbye it ignores. Stopped one at a time, the
  // second would hear of it only after the first was killed, two timeouts later.
  std::vector<std::string> order;
  std::vector<ac::lifecycle_event> stopped;
  caf::error reason;
  bool down = false;
  while (!down)
    h.self->receive(
        [&](ac::cell_message& note) {
          if (note.bytes.as_string() == "goodbye")
            order.push_back("goodbye");
        },
        [&](ac::lifecycle_event& e) {
          if (e.kind == event_kind::stopped) {
            order.push_back("stopped");
            stopped.push_back(e);
          }
          h.events.push_back({std::move(e), clock_type::now()});
        },
        [&](ac::remapped&) {},
        [&](caf::down_msg& msg) {
          if (msg.source == h.tree->root().address()) {
            reason = std::move(msg.reason);
            down = true;
          }
        },
        caf::after(60s) >> [&] { BOOST_FAIL("the pool did not stop within 60 s"); });
  BOOST_TEST(order == (std::vector<std::string>{"goodbye", "goodbye", "goodbye", "goodbye",
                                                "stopped", "stopped", "stopped", "stopped"}),
             boost::test_tools::per_element());
  BOOST_TEST((reason == caf::exit_reason::user_shutdown), show(h, reason));
  for (const auto& e : stopped) {
    BOOST_TEST_CONTEXT(e.name) {
      const auto end = end_of(e);
      BOOST_TEST((end.how == ending::stopped));
      BOOST_TEST(signal_of(end) == SIGKILL);
      BOOST_TEST((end.last_step == cellhub::transport::stop_step::sigkill));
      BOOST_TEST(ac::describe(end) ==
                 "stopped: killed (signal 9) after ignoring goodbye and SIGTERM");
    }
  }
}

BOOST_AUTO_TEST_CASE(stopped_event_tells_a_polite_exit_from_a_kill_after_the_timeouts) {
  auto patient = cell("polite");
  patient.shutdown_timeout = 10s; // it exits on goodbye; never SIGTERMed on a slow machine
  harness h{tree_of(ac::restart_strategy::one_for_one, {patient, stubborn("stub", 300ms)})};
  h.await(event_kind::ready, "polite");
  h.await(event_kind::ready, "stub");
  for (const char* name : {"polite", "stub"})
    h.self->request(h.tree->root(), 10s, ac::terminate_atom_v, std::string{name})
        .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  const auto polite = h.await(event_kind::stopped, "polite").event;
  const auto polite_end = end_of(polite);
  BOOST_TEST((polite_end.how == ending::stopped));
  BOOST_TEST_REQUIRE(static_cast<bool>(polite_end.status));
  BOOST_TEST(polite_end.status->clean());
  BOOST_TEST((polite_end.last_step == cellhub::transport::stop_step::goodbye));
  BOOST_TEST(ac::describe(polite_end) == "stopped");
  const auto stub = h.await(event_kind::stopped, "stub").event;
  const auto stub_end = end_of(stub);
  BOOST_TEST((stub_end.how == ending::stopped));
  BOOST_TEST(signal_of(stub_end) == SIGKILL);
  BOOST_TEST(ac::describe(stub_end) ==
             "stopped: killed (signal 9) after ignoring goodbye and SIGTERM");
  // Still a requested stop: terminated, not restarted.
  const auto children = h.which(h.tree->root());
  BOOST_TEST_REQUIRE(children.size() == 2u);
  BOOST_TEST((children[0].state == ac::child_state::stopped));
  BOOST_TEST((children[1].state == ac::child_state::stopped));
  BOOST_TEST((h.kinds_of("stub") == std::vector<std::string>{"started", "ready", "stopped"}));
}

BOOST_AUTO_TEST_CASE(kill_ends_a_nested_tree_of_stubborn_cells_at_once) {
  // A 30 s shutdown timeout: stopped in order, each cell would take a minute.
  auto pool = tree_of(ac::restart_strategy::simple_one_for_one, {stubborn("p", 30s)}, 10, "pool");
  pool.replicas = 2;
  auto group = tree_of(ac::restart_strategy::one_for_one, {stubborn("g", 30s), pool}, 10, "group");
  harness h{tree_of(ac::restart_strategy::one_for_one, {stubborn("top", 30s), group})};
  h.await(event_kind::ready, "group");
  std::vector<pid_t> pids;
  for (const char* name : {"top", "g", "p-1", "p-2"})
    pids.push_back(h.lookup(name).pid);
  const auto group_actor = h.which(h.tree->root())[1].supervisor_handle;
  const auto pool_actor = h.which(group_actor)[1].supervisor_handle;
  BOOST_TEST_REQUIRE(static_cast<bool>(group_actor));
  BOOST_TEST_REQUIRE(static_cast<bool>(pool_actor));
  std::set<caf::actor_addr> supervisors{h.tree->root().address(), group_actor.address(),
                                        pool_actor.address()};
  for (const auto& actor : {h.tree->root(), group_actor, pool_actor})
    h.self->monitor(actor);

  h.tree->kill();
  for (const auto pid : pids)
    BOOST_TEST(gone_within(pid, 10s), "cell pid " << pid << " still runs 10 s after kill()");
  while (!supervisors.empty()) {
    bool got = false;
    h.self->receive(
        [&](caf::down_msg& msg) {
          if (supervisors.erase(msg.source) != 0)
            BOOST_TEST((msg.reason == caf::exit_reason::kill), show(h, msg.reason));
          got = true;
        },
        [&](ac::lifecycle_event&) { got = true; }, [&](ac::remapped&) { got = true; },
        caf::after(10s) >> [] {});
    BOOST_TEST_REQUIRE(got, supervisors.size() << " supervisors still run 10 s after kill()");
  }
  const auto reason = h.tree->stop(5s);
  BOOST_TEST((reason == caf::exit_reason::kill), show(h, reason));
}

// --- what the events report -------------------------------------------------------

BOOST_AUTO_TEST_CASE(subscriber_given_at_start_sees_every_child_start_first_event_included) {
  auto inner = tree_of(ac::restart_strategy::one_for_one, {cell("x"), cell("y")}, 10, "inner");
  harness h{tree_of(ac::restart_strategy::one_for_one, {cell("a"), inner, cell("b")})};
  h.await(event_kind::ready, "b");
  BOOST_TEST_REQUIRE(!h.events.empty());
  BOOST_TEST(ac::to_string(h.events.front().event.kind) == "started");
  BOOST_TEST(h.events.front().event.name == "a");
  for (const char* name : {"a", "inner", "x", "y", "b"}) {
    const auto kinds = h.kinds_of(name);
    BOOST_TEST_REQUIRE(!kinds.empty(), name);
    BOOST_TEST(kinds.front() == "started", name);
  }
}

BOOST_AUTO_TEST_CASE(dropped_specs_are_reported_removed_and_leave_which_children) {
  auto temp = cell("temp", "goodbye"); // says goodbye and exits right after READY
  temp.restart = ac::restart_type::temporary;
  harness h{tree_of(ac::restart_strategy::one_for_one, {cell("steady"), temp, cell("spare")})};
  h.await(event_kind::removed, "temp");
  BOOST_TEST(
      (h.kinds_of("temp") == std::vector<std::string>{"started", "ready", "died", "removed"}));
  h.await(event_kind::ready, "spare");
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& child : h.which(h.tree->root()))
      out.push_back(child.name);
    return out;
  };
  BOOST_TEST(names() == (std::vector<std::string>{"steady", "spare"}),
             boost::test_tools::per_element());
  BOOST_TEST(ac::is(h.call("temp", 64, 1).error(), ac::errc::unknown_name));

  // delete_child, once terminated.
  h.self->request(h.tree->root(), 10s, ac::terminate_atom_v, std::string{"spare"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  h.await(event_kind::stopped, "spare");
  h.self->request(h.tree->root(), 10s, caf::delete_atom_v, std::string{"spare"})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  h.await(event_kind::removed, "spare");
  BOOST_TEST(
      (h.kinds_of("spare") == std::vector<std::string>{"started", "ready", "stopped", "removed"}));
  BOOST_TEST(names() == (std::vector<std::string>{"steady"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pool_shrink_reports_each_dropped_replica_removed_after_it_stopped) {
  auto pool = tree_of(ac::restart_strategy::simple_one_for_one, {cell("w")});
  pool.replicas = 3;
  harness h{pool};
  for (const char* name : {"w-1", "w-2", "w-3"})
    h.await(event_kind::ready, name);
  h.self->request(h.tree->root(), 10s, ac::resize_atom_v, std::uint64_t{1})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  for (const char* name : {"w-3", "w-2"}) {
    h.await(event_kind::removed, name);
    BOOST_TEST(
        (h.kinds_of(name) == std::vector<std::string>{"started", "ready", "stopped", "removed"}));
  }
  const auto children = h.which(h.tree->root());
  BOOST_TEST_REQUIRE(children.size() == 1u);
  BOOST_TEST(children[0].name == "w-1");
}

// --- a cell that says goodbye and keeps running --------------------------------------

BOOST_AUTO_TEST_CASE(cell_lingering_after_its_goodbye_fails_calls_at_once_and_is_ended) {
  // One that ignores SIGTERM too (SIGKILL ends it), one that SIGTERM ends.
  for (const auto& [ignore_term, signal] : {std::pair{true, SIGKILL}, std::pair{false, SIGTERM}}) {
    BOOST_TEST_CONTEXT("ignores SIGTERM: " << ignore_term) {
      auto lingers = cell("lingers", "linger"); // says goodbye right after READY
      if (ignore_term)
        lingers.args.push_back("--ignore-term");
      lingers.shutdown_timeout = 2s;
      harness h{tree_of(ac::restart_strategy::one_for_one, {lingers})};
      h.await(event_kind::ready, "lingers");
      auto pending = call_async(h, "lingers");
      const auto err = outcome(pending);
      const auto failed_at = ac::event_clock_ns();
      BOOST_TEST(ac::is(err, ac::errc::cell_died), show(h, err));
      BOOST_TEST(show(h, err).find("said goodbye") != std::string::npos, show(h, err));
      const auto died = h.await(event_kind::died, "lingers").event;
      BOOST_TEST(failed_at < died.ts_ns); // the call did not wait for the end
      const auto end = end_of(died);
      BOOST_TEST((end.how == ending::lingered), ac::describe(end));
      BOOST_TEST(end.timeout_ms == 2000);
      BOOST_TEST(
          ac::describe(end).starts_with("lingered: said goodbye but was still running 2000 ms"),
          ac::describe(end));
      BOOST_TEST(signal_of(end) == signal);
      h.await(event_kind::restarting, "lingers");
      h.await(event_kind::started, "lingers");
    }
  }
}

// --- log lines ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cell_name_cannot_forge_a_line_in_the_actor_layers_log) {
  const std::string name = "bad\nWARN forged \"line\"";
  auto broken = cell(name);
  broken.binary = "/nonexistent/cellhub-cell"; // its start fails in the peer actor
  harness h{tree_of(ac::restart_strategy::one_for_one, {broken}, 0)};
  h.await(event_kind::escalated, name);
  const auto log = h.log.text();
  BOOST_TEST(log.find(name) == std::string::npos, log);
  BOOST_TEST(log.find(R"(peer_name="bad\nWARN forged \"line\"" Cell could not be started)") !=
                 std::string::npos,
             log);
  BOOST_TEST(log.find(R"(supervisor "root" gives up: "bad\nWARN forged \"line\" reached)") !=
                 std::string::npos,
             log);
}

// --- file descriptors --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(each_running_cell_costs_the_host_fds_per_cell_descriptors) {
  auto pool = tree_of(ac::restart_strategy::simple_one_for_one, {cell("w")});
  pool.replicas = 2;
  harness h{pool};
  h.await(event_kind::ready, "w-1");
  h.await(event_kind::ready, "w-2");
  const auto before = cellhub::transport::count_open_fds();
  h.self->request(h.tree->root(), 10s, ac::resize_atom_v, std::uint64_t{12})
      .receive([](caf::ok_atom) {}, [&](caf::error& err) { BOOST_FAIL(h.sys.render(err)); });
  for (int n = 3; n <= 12; ++n)
    h.await(event_kind::ready, "w-" + std::to_string(n));
  const auto after = cellhub::transport::count_open_fds();
  BOOST_TEST(after - before == 10 * ac::fds_per_cell);
}

BOOST_AUTO_TEST_SUITE_END()
