// hub_host::keep_until_death with real cells: the hub keeps a transport nobody else
// holds, reports its cell's death like any other (one warning, closed, on_death once,
// the peer id right) and frees the entry; and what it leaves alone.
#include "death_channel.hpp"
#include "hub_path.hpp"
#include "log_waiter.hpp"
#include "payload_check.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifndef TEST_CELL_PATH
#error "TEST_CELL_PATH must name the test cell executable"
#endif
#ifndef SPAWN_PROBE_PATH
#error "SPAWN_PROBE_PATH must name the spawn_probe helper executable"
#endif

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using cellhub::test::death_channel;
using cellhub::test::unique_hub_path;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 10s;
constexpr int hang_bound_ms = 10'000;

std::shared_ptr<tr::hub_host> make_hub(const std::string& name, tr::hub_config config = {}) {
  auto hub = tr::hub_host::create(unique_hub_path(name), std::move(config));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  return hub.value();
}

tr::spawn_options cell_command(std::string mode) {
  return {.binary = TEST_CELL_PATH, .args = {"--mode=" + mode}};
}

// Owns a pidfd the test opened itself, to kill and watch a cell whose handle it gave up.
struct pid_watch {
  pid_t pid = -1;
  int fd = -1;

  explicit pid_watch(pid_t watched)
      : pid{watched}
      , fd{::pidfd_open(watched, 0)} {
    BOOST_TEST_REQUIRE(fd >= 0);
  }
  pid_watch(const pid_watch&) = delete;
  pid_watch& operator=(const pid_watch&) = delete;
  ~pid_watch() { ::close(fd); }

  void kill() const { BOOST_TEST_REQUIRE(::pidfd_send_signal(fd, SIGKILL, nullptr, 0) == 0); }
  [[nodiscard]] bool running() const {
    pollfd entry{fd, POLLIN, 0};
    return ::poll(&entry, 1, 0) == 0;
  }
  [[nodiscard]] bool exits_in_time() const {
    pollfd entry{fd, POLLIN, 0};
    return ::poll(&entry, 1, hang_bound_ms) == 1;
  }
};

// Is what the seed does: add a peer with options, apply the ticket, spawn, detach the
// process, let the ticket go and hand the transport to the hub. Returns the peer id
// and the cell's pid. Asserts nothing, so that on_death may call it on the keeper's
// thread.
tr::result<std::pair<std::uint16_t, pid_t>>
keep_new_cell(tr::hub_host& hub, tr::add_peer_options options, tr::spawn_options command) {
  BOOST_OUTCOME_TRY(added, hub.add_peer_transport_with_options(std::move(options)));
  added.ticket.apply_to_command(command);
  BOOST_OUTCOME_TRY(child, tr::process::spawn(command));
  const pid_t pid = child.pid();
  child.detach();
  added.ticket.cell_doorbell.close();
  BOOST_OUTCOME_TRY(hub.keep_until_death(added.transport));
  return std::pair{added.transport->peer_id(), pid};
}

std::pair<std::uint16_t, pid_t> spawn_and_keep(tr::hub_host& hub, tr::add_peer_options options,
                                               tr::spawn_options command) {
  auto kept = keep_new_cell(hub, std::move(options), std::move(command));
  BOOST_TEST_REQUIRE(kept.has_value(), (kept ? "" : kept.error().message()));
  return kept.value();
}

// Waits until `done` holds, looking every millisecond up to the hang bound. For what
// the keeper does right after an event the test has already waited for (dropping its
// reference once on_death returned), which nothing reports.
template <class Predicate>
bool soon(Predicate done) {
  const auto deadline = std::chrono::steady_clock::now() + hang_bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hub_keeper)

BOOST_AUTO_TEST_CASE(kept_cell_killed_is_reported_once_with_its_peer_id_and_its_entry_freed) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-kill");
  const auto baseline = hub->audit();
  death_channel deaths;
  std::weak_ptr<tr::peer_transport> watch;
  std::uint16_t id = 0;
  pid_t pid = -1;
  {
    auto added =
        hub->add_peer_transport_with_options({.peer_name = "kept", .on_death = deaths.callback()});
    BOOST_TEST_REQUIRE(added.has_value());
    auto command = cell_command("idle");
    added.value().ticket.apply_to_command(command);
    auto child = tr::process::spawn(command);
    BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
    pid = child.value().pid();
    child.value().detach();
    id = added.value().transport->peer_id();
    watch = added.value().transport;
    BOOST_TEST_REQUIRE(hub->keep_until_death(added.value().transport).has_value());
  } // the ticket, the transport handle and the process handle are all gone
  BOOST_TEST_REQUIRE(!watch.expired(), "the hub holds the transport");
  const pid_watch cell{pid};
  BOOST_TEST(cell.running());
  BOOST_TEST(log.count("WARN") == 0u, log.text()); // no hang-up on a live cell
  BOOST_TEST(hub->audit().peers_live == 1u);

  cell.kill();
  const auto reported = deaths.next(hang_bound);
  BOOST_TEST_REQUIRE(reported.has_value(), "no on_death within the bound:\n" << log.text());
  BOOST_TEST(*reported == id);
  const auto warning =
      "WARN peer_id=" + std::to_string(id) + " peer_name=\"kept\" Cell died (doorbell hung up)";
  BOOST_TEST(log.count(warning) == 1u, log.text());
  BOOST_TEST(log.count("WARN") == 1u, log.text());
  // The entry is free once the transport the hub dropped has been destroyed.
  BOOST_TEST(soon([&] { return watch.expired() && hub->audit() == baseline; }),
             "the transport or its entry is still held");
  BOOST_TEST(!deaths.next(0ms).has_value()); // once
}

BOOST_AUTO_TEST_CASE(kept_transport_learns_an_adopted_process_exit_from_its_pidfd) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-pidfd");
  const auto baseline = hub->audit();
  death_channel deaths;
  auto added =
      hub->add_peer_transport_with_options({.peer_name = "forked", .on_death = deaths.callback()});
  BOOST_TEST_REQUIRE(added.has_value());
  // A background job of the cell keeps the doorbell open after the cell itself is
  // killed, so only the pidfd can tell. The cell rings once that job has started.
  tr::spawn_options command{
      .binary = "/bin/sh",
      .args = {"-c", std::string{"sleep 60 & exec "} + SPAWN_PROBE_PATH + " ring"}};
  auto child = added.value().ticket.spawn(command);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  const pid_watch cell{child.value().pid()};
  pollfd rang{added.value().transport->doorbell_fd(), POLLIN, 0};
  BOOST_TEST_REQUIRE(::poll(&rang, 1, hang_bound_ms) == 1);
  added.value().transport->adopt_process(std::move(child).value());
  const auto id = added.value().transport->peer_id();
  std::weak_ptr<tr::peer_transport> watch = added.value().transport;
  BOOST_TEST_REQUIRE(hub->keep_until_death(added.value().transport).has_value());
  added.value().transport.reset();

  cell.kill();
  const auto reported = deaths.next(hang_bound);
  BOOST_TEST_REQUIRE(reported.has_value(), "no on_death within the bound:\n" << log.text());
  BOOST_TEST(*reported == id);
  BOOST_TEST(log.count("peer_name=\"forked\" Cell died (process exited)") == 1u, log.text());
  // Dropped by the hub: the transport kills the cell's group (the sleep) and reaps it.
  BOOST_TEST(soon([&] { return watch.expired() && hub->audit() == baseline; }),
             "the transport or its entry is still held");
}

BOOST_AUTO_TEST_CASE(kept_cell_that_says_goodbye_and_exits_is_reported_as_a_clean_exit) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-goodbye");
  death_channel deaths;
  // The cell says goodbye right after READY and exits 0; nobody reads either message.
  auto [id, pid] = spawn_and_keep(*hub, {.peer_name = "polite", .on_death = deaths.callback()},
                                  cell_command("goodbye"));
  const auto reported = deaths.next(hang_bound);
  BOOST_TEST_REQUIRE(reported.has_value(), "no on_death within the bound:\n" << log.text());
  BOOST_TEST(*reported == id);
  BOOST_TEST(log.count("peer_name=\"polite\" Cell exited after goodbye (doorbell hung up)") == 1u,
             log.text());
  BOOST_TEST(log.count("WARN") == 0u, log.text());
  BOOST_TEST(!deaths.next(0ms).has_value());
}

BOOST_AUTO_TEST_CASE(kept_cell_keeps_working_for_a_host_that_still_drives_it) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-traffic");
  death_channel deaths;
  auto transport =
      hub->spawn_peer({.peer_name = "driven", .on_death = deaths.callback()}, cell_command("echo"));
  BOOST_TEST_REQUIRE(transport.has_value(), (transport ? "" : transport.error().message()));
  auto& cell = *transport.value();
  BOOST_TEST_REQUIRE(hub->keep_until_death(transport.value()).has_value());
  BOOST_TEST_REQUIRE(hub->keep_until_death(transport.value()).has_value()); // twice: kept once
  // The keeper watches hang-ups only: it takes none of the wake-ups a reply rings.
  auto ready = cell.receive(hang_bound);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  for (std::uint64_t id = 1; id <= 50; ++id) {
    const auto request = cellhub::test::make_payload(64, id);
    BOOST_TEST_REQUIRE(cell.send(shm::message_kind::request, id, request).has_value());
    auto reply = cell.receive(hang_bound);
    BOOST_TEST_REQUIRE(reply.has_value(), (reply ? "" : reply.error().message()));
    BOOST_TEST_REQUIRE(cellhub::test::is_answer(request, reply.value().payload.bytes()));
  }
  BOOST_TEST_REQUIRE(cell.child()->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(deaths.next(hang_bound).has_value());
  BOOST_TEST(cell.closed());
  BOOST_TEST(!deaths.next(0ms).has_value());
  BOOST_TEST(log.count("peer_name=\"driven\" Cell died") == 1u, log.text());
}

BOOST_AUTO_TEST_CASE(keeping_a_transport_already_reported_dead_keeps_nothing) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-dead");
  const auto baseline = hub->audit();
  death_channel deaths;
  auto transport =
      hub->spawn_peer({.peer_name = "gone", .on_death = deaths.callback()}, cell_command("idle"));
  BOOST_TEST_REQUIRE(transport.has_value(), (transport ? "" : transport.error().message()));
  BOOST_TEST_REQUIRE(transport.value()->child()->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(transport.value()->child()->wait_for(hang_bound).has_value());
  BOOST_TEST((transport.value()->signal() == tr::signal_result::peer_dead));
  BOOST_TEST_REQUIRE(deaths.next(0ms).has_value());
  std::weak_ptr<tr::peer_transport> watch = transport.value();
  BOOST_TEST_REQUIRE(hub->keep_until_death(transport.value()).has_value());
  transport.value().reset();
  BOOST_TEST(watch.expired()); // not kept: nothing left to wait for
  BOOST_TEST((hub->audit() == baseline));
  BOOST_TEST(!deaths.next(0ms).has_value());
  BOOST_TEST(log.count("WARN") == 1u, log.text());
}

BOOST_AUTO_TEST_CASE(on_death_may_relaunch_and_keep_the_next_cell_from_the_keepers_thread) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-relaunch-inline", {.max_peers = 4});
  death_channel relaunched;
  std::promise<tr::result<std::pair<std::uint16_t, pid_t>>> second_life;
  // The first life's on_death relaunches right away, on the keeper's thread (a cell
  // started there gets its parent-death signal when that thread ends, with the hub).
  tr::peer_death_callback relaunch = [&, owner = std::weak_ptr<tr::hub_host>(hub)](std::uint16_t) {
    if (auto hub_now = owner.lock())
      second_life.set_value(
          keep_new_cell(*hub_now, {.peer_name = "second", .on_death = relaunched.callback()},
                        cell_command("idle")));
  };
  auto [first_id, first_pid] =
      spawn_and_keep(*hub, {.peer_name = "first", .on_death = relaunch}, cell_command("idle"));
  const pid_watch first{first_pid};
  first.kill();
  auto second = second_life.get_future();
  BOOST_TEST_REQUIRE((second.wait_for(hang_bound) == std::future_status::ready), log.text());
  const auto kept = second.get();
  BOOST_TEST_REQUIRE(kept.has_value(), (kept ? "" : kept.error().message()));
  const auto [second_id, second_pid] = kept.value();
  BOOST_TEST(second_id != first_id);
  const pid_watch second_cell{second_pid};
  BOOST_TEST(second_cell.running());
  second_cell.kill();
  BOOST_TEST_REQUIRE((relaunched.next(hang_bound) == std::optional<std::uint16_t>{second_id}),
                     log.text());
  BOOST_TEST(log.count("WARN") == 2u, log.text());
}

BOOST_AUTO_TEST_CASE(hub_let_go_by_its_owner_lives_until_its_kept_cell_dies) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("keep-last");
  const std::string path = hub->path();
  std::weak_ptr<tr::hub_host> watch = hub;
  death_channel deaths;
  auto [id, pid] = spawn_and_keep(*hub, {.peer_name = "last", .on_death = deaths.callback()},
                                  cell_command("idle"));
  hub.reset();
  BOOST_TEST(!watch.expired(), "the kept transport holds the hub");
  BOOST_TEST(std::filesystem::exists(path));

  const pid_watch cell{pid};
  cell.kill();
  BOOST_TEST_REQUIRE((deaths.next(hang_bound) == std::optional<std::uint16_t>{id}));
  // The keeper dropped the last transport, and with it the hub, on its own thread: the
  // hub's destructor removes the file (after the last reference went).
  BOOST_TEST(soon([&] { return watch.expired() && !std::filesystem::exists(path); }),
             "hub released: " << watch.expired()
                              << ", file left: " << std::filesystem::exists(path));
}

BOOST_AUTO_TEST_SUITE_END()
