// The hub with real cell processes: traffic, SIGKILL detection, kill injection,
// hostile cells and host death.
#include "hub_path.hpp"
#include "log_capture.hpp"
#include "payload_check.hpp"

#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <signal.h>
#include <string>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
// Bounds a wait for an event that must come, so that a broken build fails, not hangs.
constexpr auto hang_guard = 30s;
using cellhub::test::make_payload;
using cellhub::test::unique_hub_path;

namespace {

tr::spawn_options cell_command(std::string mode, std::vector<std::string> extra = {}) {
  tr::spawn_options cmd{.binary = TEST_CELL_PATH, .args = {"--mode=" + mode}};
  for (auto& arg : extra)
    cmd.args.push_back(std::move(arg));
  return cmd;
}

std::shared_ptr<tr::hub_host> make_hub(const std::string& name, tr::hub_config config = {}) {
  auto hub = tr::hub_host::create(unique_hub_path(name), std::move(config));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  return hub.value();
}

// Spawns a cell and waits for its READY.
std::shared_ptr<tr::peer_transport> spawn_ready(tr::hub_host& hub, tr::spawn_options cmd,
                                                tr::add_peer_options options = {}) {
  auto transport = hub.spawn_peer(std::move(options), std::move(cmd));
  BOOST_TEST_REQUIRE(transport.has_value(), (transport ? "" : transport.error().message()));
  auto ready = transport.value()->receive(30s);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST_REQUIRE((ready.value().kind == shm::message_kind::ready));
  return transport.value();
}

// Sends one checksummed request and checks the cell's answer.
bool exchange(tr::peer_transport& cell, std::size_t size, std::uint64_t id) {
  const auto request = make_payload(size, id);
  if (!cell.send(shm::message_kind::request, id, request))
    return false;
  auto reply = cell.receive(30s);
  return reply && reply.value().kind == shm::message_kind::reply && reply.value().msg_id == id &&
         reply.value().aux == 0 && cellhub::test::is_answer(request, reply.value().payload.bytes());
}

// Waits until the transport's doorbell reports something, then looks for a hang-up.
bool wait_for_hangup(tr::peer_transport& cell, std::chrono::milliseconds limit) {
  auto set = tr::epoll_set::create().value();
  BOOST_TEST_REQUIRE(set.add(cell.doorbell_fd(), 1).has_value());
  const auto deadline = clock_type::now() + limit;
  std::array<tr::fd_event, 4> events{};
  while (!cell.closed() && clock_type::now() < deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
    if (set.wait(events, left).value() > 0)
      cell.check_hangup() || cell.drain_doorbell();
  }
  return cell.closed();
}

bool killed_by_sigkill(tr::peer_transport& cell) {
  auto status = cell.child()->wait_for(10s);
  return status && status.value().signaled && status.value().signal == SIGKILL;
}

} // namespace

BOOST_AUTO_TEST_SUITE(hub_process)

BOOST_AUTO_TEST_CASE(real_cell_exchanges_64b_4k_and_1mib_both_ways_with_matching_checksums) {
  auto hub = make_hub("exchange");
  auto cell = spawn_ready(*hub, cell_command("echo"), {.peer_name = "echo"});
  BOOST_TEST(cell->ready_pid() == static_cast<std::uint32_t>(cell->child()->pid()));
  std::uint64_t id = 0;
  for (std::size_t size : {64u, 4096u, 1u << 20})
    for (int repeat = 0; repeat < 3; ++repeat)
      BOOST_TEST(exchange(*cell, size, ++id), "size " << size);
  BOOST_TEST_REQUIRE(cell->request_goodbye().has_value());
  auto bye = cell->receive(30s);
  BOOST_TEST_REQUIRE(bye.has_value());
  BOOST_TEST((bye.value().kind == shm::message_kind::goodbye));
  BOOST_TEST(cell->goodbye_received());
  auto status = cell->child()->wait_for(10s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status.value().clean());
}

BOOST_AUTO_TEST_CASE(cell_attaches_from_its_environment) {
  auto hub = make_hub("environment");
  auto added = hub->add_peer_transport_with_options({.peer_name = "from-env"}).value();
  auto cmd = cell_command("echo");
  added.ticket.apply_to_environment(cmd);
  auto child = tr::process::spawn(cmd);
  BOOST_TEST_REQUIRE(child.has_value());
  added.transport->adopt_process(std::move(child).value());
  added.ticket.cell_doorbell.close();
  auto ready = added.transport->receive(30s);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST((ready.value().kind == shm::message_kind::ready));
  BOOST_TEST(exchange(*added.transport, 64, 1));
}

BOOST_AUTO_TEST_CASE(killed_idle_cell_is_reported_once_through_the_hang_up) {
  cellhub::test::log_capture log;
  auto hub = make_hub("kill-idle");
  const auto baseline = hub->audit();
  int deaths = 0;
  auto cell = spawn_ready(*hub, cell_command("idle"),
                          {.peer_name = "victim", .on_death = [&](std::uint16_t) { ++deaths; }});
  const auto id = cell->peer_id();
  // Nothing was reported before the kill, so the report below is the kill's.
  BOOST_TEST_REQUIRE(!cell->closed());
  BOOST_TEST_REQUIRE(deaths == 0);

  // How fast the hang-up is seen is cellhub-bench's to measure; here only that it is.
  BOOST_TEST_REQUIRE(cell->child()->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(wait_for_hangup(*cell, hang_guard));
  BOOST_TEST((cell->death() == tr::death_cause::hung_up));
  BOOST_TEST(deaths == 1);

  // Later traffic fails fast, reports nothing new and logs nothing more.
  BOOST_TEST((cell->signal() == tr::signal_result::peer_dead));
  auto sent = cell->send(make_payload(64, 1));
  BOOST_TEST_REQUIRE(!sent.has_value());
  BOOST_TEST(sent.error().code == tr::errc::peer_dead);
  cell->check_hangup();
  BOOST_TEST(deaths == 1);
  const auto warning =
      "WARN peer_id=" + std::to_string(id) + " peer_name=\"victim\" Cell died (doorbell hung up)";
  BOOST_TEST(log.count(warning) == 1u, log.text());
  BOOST_TEST(log.count("WARN") == 1u);
  BOOST_TEST(killed_by_sigkill(*cell));

  cell.reset();
  BOOST_TEST((hub->audit() == baseline));
}

BOOST_AUTO_TEST_CASE(dead_cell_is_reported_by_a_failed_signal_when_nobody_polls) {
  cellhub::test::log_capture log;
  auto hub = make_hub("kill-signal");
  int deaths = 0;
  auto cell = spawn_ready(*hub, cell_command("idle"),
                          {.peer_name = "lazy", .on_death = [&](std::uint16_t) { ++deaths; }});
  BOOST_TEST_REQUIRE(cell->child()->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(cell->child()->wait_for(10s).has_value());
  // No poller: the first ring finds the peer dead.
  BOOST_TEST((cell->signal() == tr::signal_result::peer_dead));
  BOOST_TEST((cell->signal() == tr::signal_result::peer_dead));
  BOOST_TEST(deaths == 1);
  BOOST_TEST(log.count("peer_name=\"lazy\" Cell died (doorbell signal failed)") == 1u);
}

BOOST_AUTO_TEST_CASE(cell_killed_at_any_step_leaves_the_audit_at_baseline) {
  cellhub::test::log_capture log;
  auto hub = make_hub(
      "inject",
      {.max_peers = 4, .ring_capacity = 16, .slot_classes = {{1024, 8}, {16384, 4}, {65536, 2}}});
  auto neighbour = spawn_ready(*hub, cell_command("echo"), {.peer_name = "neighbour"});
  const auto baseline = hub->audit();
  constexpr int runs = 200;
  // One size per way a payload travels: inline, and each slot class.
  const std::array<std::size_t, 4> sizes{16, 700, 5000, 40000};
  std::mt19937 random{20261126};
  std::uint64_t id = 0;
  int died_by_kill = 0;
  for (int run = 0; run < runs; ++run) {
    // About nine crash points pass per request, so every run dies within ~6 rounds.
    const auto step = std::uniform_int_distribution<int>{1, 150}(random);
    BOOST_TEST_CONTEXT("run " << run << " crash at step " << step) {
      auto cmd = cell_command("echo");
      cmd.env.emplace_back("CELLHUB_TEST_CRASH_AT_STEP", std::to_string(step));
      int deaths = 0;
      auto victim = hub->spawn_peer(
          {.peer_name = "victim", .on_death = [&](std::uint16_t) { ++deaths; }}, std::move(cmd));
      BOOST_TEST_REQUIRE(victim.has_value());
      auto& cell = *victim.value();
      for (int i = 0; i < 1000 && !cell.closed(); ++i) {
        // Several requests in flight at once, so the cell holds several slots.
        for (int burst = 0; burst < 3; ++burst) {
          ++id;
          (void)cell.send(
              shm::message_kind::request, id,
              make_payload(sizes[(id + static_cast<std::uint64_t>(run)) % sizes.size()], id));
        }
        for (int burst = 0; burst < 3 && !cell.closed(); ++burst)
          if (auto reply = cell.receive(10s); !reply && reply.error().code == tr::errc::timeout)
            break;
        ++id;
        BOOST_TEST_REQUIRE(exchange(*neighbour, sizes[id % sizes.size()], id));
      }
      BOOST_TEST_REQUIRE(cell.closed());
      died_by_kill += killed_by_sigkill(cell) ? 1 : 0;
      BOOST_TEST(deaths == 1);
      victim.value().reset();
      BOOST_TEST_REQUIRE((hub->audit() == baseline));
    }
  }
  BOOST_TEST(died_by_kill == runs);
  BOOST_TEST(exchange(*neighbour, 40000, ++id));
}

BOOST_AUTO_TEST_CASE(hostile_cell_is_a_protocol_violation_and_others_keep_working) {
  cellhub::test::log_capture log;
  auto hub = make_hub("hostile");
  auto neighbour = spawn_ready(*hub, cell_command("echo"), {.peer_name = "neighbour"});
  const auto baseline = hub->audit();
  std::uint64_t id = 0;
  for (const char* attack : {"slot_out_of_range", "length_too_big", "inline_too_long",
                             "unknown_kind", "slot_sent_twice", "ring_head_too_far"}) {
    BOOST_TEST_CONTEXT("attack " << attack) {
      // No waiting for READY: the garbage may arrive before it, or even instead of it.
      auto spawned = hub->spawn_peer({.peer_name = attack},
                                     cell_command("hostile", {std::string{"--attack="} + attack}));
      BOOST_TEST_REQUIRE(spawned.has_value());
      auto hostile = std::move(spawned).value();
      std::vector<tr::incoming_message> held; // keep leases, so a re-sent slot is caught
      tr::errc outcome = tr::errc::timeout;
      for (;;) {
        auto msg = hostile->receive(10s);
        if (!msg) {
          outcome = msg.error().code;
          break;
        }
        held.push_back(std::move(msg).value());
      }
      BOOST_TEST(outcome == tr::errc::protocol_violation);
      BOOST_TEST(hostile->violated());
      BOOST_TEST(killed_by_sigkill(*hostile));
      BOOST_TEST(log.count(std::string{"peer_name=\""} + attack + "\" protocol violation") == 1u);
      BOOST_TEST(exchange(*neighbour, 4096, ++id));
      held.clear();
      hostile.reset();
      BOOST_TEST((hub->audit() == baseline));
    }
  }
}

BOOST_AUTO_TEST_CASE(goodbye_exit_is_logged_as_clean_not_as_a_death) {
  cellhub::test::log_capture log;
  auto hub = make_hub("goodbye");
  int deaths = 0;
  auto cell = spawn_ready(*hub, cell_command("goodbye"),
                          {.peer_name = "polite", .on_death = [&](std::uint16_t) { ++deaths; }});
  auto bye = cell->receive(30s);
  BOOST_TEST_REQUIRE(bye.has_value());
  BOOST_TEST((bye.value().kind == shm::message_kind::goodbye));
  BOOST_TEST_REQUIRE(wait_for_hangup(*cell, 10s));
  BOOST_TEST(deaths == 1);
  BOOST_TEST(log.count("WARN") == 0u);
  BOOST_TEST(log.count("peer_name=\"polite\" Cell exited after goodbye") == 1u);
  auto status = cell->child()->wait_for(10s);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status.value().clean());
}

BOOST_AUTO_TEST_CASE(killed_host_takes_its_cells_with_it_and_leaves_a_stale_file) {
  const auto path = unique_hub_path("host-death");
  int report[2];
  BOOST_TEST_REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  auto host = tr::process::spawn(
      {.binary = TEST_HOST_PATH,
       .args = {"--hub-path=" + path, "--cells=3", std::string{"--cell-binary="} + TEST_CELL_PATH},
       .inherit = {{report[1], 3}}});
  ::close(report[1]);
  BOOST_TEST_REQUIRE(host.has_value());
  std::string line;
  for (char c = 0; c != '\n';) {
    pollfd pfd{report[0], POLLIN, 0};
    BOOST_TEST_REQUIRE(::poll(&pfd, 1, 60'000) == 1);
    BOOST_TEST_REQUIRE(::read(report[0], &c, 1) == 1);
    line += c;
  }
  ::close(report[0]);
  std::vector<int> cell_pidfds;
  for (std::size_t at = 0; (at = line.find_first_of("0123456789", at)) != std::string::npos;) {
    std::size_t end = 0;
    const int pid = std::stoi(line.substr(at), &end);
    cell_pidfds.push_back(::pidfd_open(pid, 0));
    BOOST_TEST_REQUIRE(cell_pidfds.back() >= 0);
    at += end;
  }
  BOOST_TEST_REQUIRE(cell_pidfds.size() == 3u);
  // Every cell still runs, so the host's death is what ends them.
  for (int fd : cell_pidfds) {
    pollfd pfd{fd, POLLIN, 0};
    BOOST_TEST_REQUIRE(::poll(&pfd, 1, 0) == 0);
  }

  // How fast they go is cellhub-bench's to measure; here only that they do.
  BOOST_TEST_REQUIRE(host.value().send_signal(SIGKILL).has_value());
  const int guard_ms = static_cast<int>(std::chrono::milliseconds{hang_guard}.count());
  for (int fd : cell_pidfds) {
    pollfd pfd{fd, POLLIN, 0};
    BOOST_TEST(::poll(&pfd, 1, guard_ms) == 1);
    ::close(fd);
  }

  const auto host_pid = host.value().pid();
  BOOST_TEST_REQUIRE(host.value().wait_for(10s).has_value());
  cellhub::test::log_capture log;
  auto next = tr::hub_host::create(path);
  BOOST_TEST_REQUIRE(next.has_value(), (next ? "" : next.error().message()));
  // One warning line names the path and the dead host.
  BOOST_TEST(log.count(" WARN removed stale hub \"" + path + "\" left by host pid " +
                       std::to_string(host_pid) + " (its lock was free)\n") == 1u);
  BOOST_TEST(log.count("\n") == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
