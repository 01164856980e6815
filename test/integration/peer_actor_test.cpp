// The peer actor around its spawn, with a real cell: the spawn happens off the
// scheduler (a stand-in spawner here holds each job until the test lets it run), and
// what comes before it (a stop, a call) waits for it.
#include "hub_path.hpp"
#include "log_capture.hpp"
#include "payload_check.hpp"

#include "cellhub/actors/cell_spawner.hpp"
#include "cellhub/actors/embedding.hpp"
#include "cellhub/actors/peer_actor.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <caf/all.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

// Every receive waits at most this long: a broken peer actor fails a test, never hangs it.
constexpr auto deadline = 30s;

caf::actor_system_config& prepared(caf::actor_system_config& cfg) {
  ac::prepare_config(cfg);
  return cfg;
}

// Stands in for the supervisor and the spawner: traps the peer actor's exit (it is
// linked to its supervisor) and forwards what it gets to `observer`.
caf::behavior forwarder(caf::event_based_actor* self, caf::actor observer) {
  self->set_exit_handler([](caf::exit_msg&) {});
  return {
      [=](ac::spawn_job& job) { self->send(observer, std::move(job)); },
      // An ended life's transport is let go here, as the spawner's workers do.
      [](ac::retired_life&) {},
      [=](ac::child_started& started) { self->send(observer, started); },
      [=](ac::child_ready& ready) { self->send(observer, ready); },
  };
}

struct fixture {
  cellhub::test::log_capture log;
  caf::actor_system_config cfg;
  caf::actor_system sys{prepared(cfg)};
  caf::scoped_actor self{sys};
  std::shared_ptr<tr::hub_host> hub;
  ac::doorbell_watcher_actor watcher = ac::spawn_doorbell_watcher(sys);
  caf::actor stand_in = sys.spawn(forwarder, caf::actor{self});
  ac::peer_actor peer;

  explicit fixture(const std::string& name, const std::string& mode = "echo",
                   std::chrono::milliseconds shutdown_timeout = 30s) {
    auto created = tr::hub_host::create(cellhub::test::unique_hub_path("peer-" + name));
    BOOST_TEST_REQUIRE(created.has_value(), (created ? "" : created.error().message()));
    hub = created.value();
    ac::cell_spec spec;
    spec.name = name;
    spec.binary = TEST_CELL_PATH;
    spec.args = {"--mode=" + mode};
    spec.start_timeout = 30s;
    // Generous by default, so that a slow start (sanitizers, a busy machine) never
    // turns the stop's goodbye into a SIGTERM: the stop test asserts the goodbye sufficed.
    spec.shutdown_timeout = shutdown_timeout;
    spec.hang_timeout = 0ms;
    ac::peer_config config{spec,
                           hub,
                           watcher,
                           caf::actor_cast<ac::cell_spawner_actor>(stand_in),
                           caf::actor_cast<ac::supervisor_actor>(stand_in),
                           {},
                           7};
    peer = ac::spawn_peer_actor(self.ptr(), std::move(config));
    self->monitor(peer);
  }

  ~fixture() {
    caf::anon_send_exit(peer, caf::exit_reason::kill);
    caf::anon_send_exit(stand_in, caf::exit_reason::kill);
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  }

  // Takes the job the peer actor gave the spawner.
  ac::spawn_job take_job() {
    ac::spawn_job job;
    self->receive([&](ac::spawn_job& got) { job = std::move(got); },
                  caf::after(deadline) >> [] { BOOST_FAIL("no spawn job"); });
    return job;
  }

  // Runs the job as the real spawner would and answers the peer actor.
  void run(ac::spawn_job job) {
    auto spawned = job.hub->spawn_peer(std::move(job.entry), std::move(job.command));
    BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
    caf::anon_send(job.reply_to, ac::spawn_done{std::move(spawned).value(), {}});
  }

  // Waits for the peer actor's end and returns its life_end.
  ac::life_end await_end() {
    ac::life_end end;
    bool down = false;
    while (!down)
      self->receive(
          [&](caf::down_msg& msg) {
            auto carried = ac::life_end_of(msg.reason);
            BOOST_TEST_REQUIRE(carried.has_value(),
                               "no life_end in " << caf::to_string(msg.reason));
            end = *carried;
            down = true;
          },
          [](ac::child_started&) {}, [](ac::child_ready&) {},
          caf::after(deadline) >> [] { BOOST_FAIL("the peer actor did not end"); });
    return end;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(peer_actor_spawn)

BOOST_AUTO_TEST_CASE(a_call_made_before_the_spawn_waits_for_it_and_is_answered) {
  fixture f{"early-call"};
  auto job = f.take_job();
  const auto request = cellhub::test::make_payload(64, 1);
  auto pending = f.self->request(f.peer, deadline, ac::call_atom_v, ac::payload::copy_of(request));
  BOOST_TEST(job.entry.peer_name == "early-call");
  f.run(std::move(job));
  pending.receive(
      [&](const ac::payload& reply) {
        BOOST_TEST(cellhub::test::is_answer(request, reply.bytes()));
      },
      [&](const caf::error& err) { BOOST_FAIL(f.sys.render(err)); });
}

BOOST_AUTO_TEST_CASE(a_stop_that_comes_before_the_spawn_ends_the_life_as_stopped) {
  fixture f{"early-stop"};
  auto job = f.take_job();
  caf::anon_send(f.peer, ac::stop_atom_v);
  f.run(std::move(job));
  const auto end = f.await_end();
  BOOST_TEST((end.how == ac::ending::stopped), ac::describe(end));
  // The echo cell answers the stop's goodbye and exits 0: the first step sufficed.
  BOOST_TEST((end.last_step == tr::stop_step::goodbye));
  BOOST_TEST_REQUIRE(static_cast<bool>(end.status));
  BOOST_TEST(end.status->clean(), ac::describe(end));
}

BOOST_AUTO_TEST_CASE(a_failed_spawn_ends_the_life_as_exec_failed_and_fails_waiting_calls) {
  fixture f{"no-spawn"};
  auto job = f.take_job();
  auto pending = f.self->request(f.peer, deadline, ac::call_atom_v, ac::payload::from_string("x"));
  caf::anon_send(job.reply_to, ac::spawn_done{nullptr, "exec /nowhere: No such file"});
  pending.receive([](const ac::payload&) { BOOST_FAIL("a call to a life that never began"); },
                  [&](const caf::error& err) {
                    BOOST_TEST(ac::is(err, ac::errc::start_failed), f.sys.render(err));
                  });
  const auto end = f.await_end();
  BOOST_TEST((end.how == ac::ending::exec_failed), ac::describe(end));
  BOOST_TEST(end.spawn_error == "exec /nowhere: No such file");
  BOOST_TEST(end.pid == 0);
}

BOOST_AUTO_TEST_CASE(a_cell_whose_doorbell_hangs_up_while_it_runs_on_is_killed) {
  // The deaf cell closes its doorbell and runs on: the death is seen at the hang-up,
  // and after the grace period the escalation's last step, SIGKILL, ends the process
  // (a signal goes to the process itself, whatever became of the cell's lane).
  fixture f{"deaf", "deaf", 200ms};
  f.run(f.take_job());
  const auto end = f.await_end();
  BOOST_TEST((end.last_step == tr::stop_step::sigkill), ac::describe(end));
  BOOST_TEST_REQUIRE(static_cast<bool>(end.status), ac::describe(end));
  BOOST_TEST(end.status->signaled);
  BOOST_TEST(end.status->signal == SIGKILL, ac::describe(end));
}

BOOST_AUTO_TEST_SUITE_END()
