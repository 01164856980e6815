// How a host learns that a cell's life ended, with real cells: a protocol violation
// is reported at once like any other death, and a host that drops the transport of a
// live cell is told it hung up on it.
#include "death_channel.hpp"
#include "hub_path.hpp"
#include "log_waiter.hpp"

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
#include <memory>
#include <string>
#include <vector>

#ifndef TEST_CELL_PATH
#error "TEST_CELL_PATH must name the test cell executable"
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

std::shared_ptr<tr::hub_host> make_hub(const std::string& name) {
  auto hub = tr::hub_host::create(unique_hub_path(name));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  return hub.value();
}

tr::spawn_options cell_command(std::string mode, std::vector<std::string> extra = {}) {
  tr::spawn_options command{.binary = TEST_CELL_PATH, .args = {"--mode=" + mode}};
  for (auto& arg : extra)
    command.args.push_back(std::move(arg));
  return command;
}

// Spawns a cell and waits for its READY.
std::shared_ptr<tr::peer_transport> spawn_ready(tr::hub_host& hub, tr::add_peer_options options,
                                                tr::spawn_options command) {
  auto transport = hub.spawn_peer(std::move(options), std::move(command));
  BOOST_TEST_REQUIRE(transport.has_value(), (transport ? "" : transport.error().message()));
  auto ready = transport.value()->receive(hang_bound);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST_REQUIRE((ready.value().kind == shm::message_kind::ready));
  return transport.value();
}

// Returns whether the process behind a pidfd of ours exits within the bound.
bool exits_in_time(int pidfd) {
  pollfd entry{pidfd, POLLIN, 0};
  return ::poll(&entry, 1, hang_bound_ms) == 1;
}

} // namespace

BOOST_AUTO_TEST_SUITE(peer_death_report)

// Before: the violation was logged and the cell killed, but the transport reported no
// death (no warning, no on_death) until a later hang-up check happened to look.
BOOST_AUTO_TEST_CASE(protocol_violation_is_reported_at_once_like_any_death) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("violation-death");
  const auto baseline = hub->audit();
  death_channel deaths;
  auto spawned = hub->spawn_peer({.peer_name = "hostile", .on_death = deaths.callback()},
                                 cell_command("hostile", {"--attack=slot_out_of_range"}));
  BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
  auto hostile = std::move(spawned).value();
  const auto id = hostile->peer_id();
  tr::errc outcome = tr::errc::timeout;
  std::vector<tr::incoming_message> held;
  for (;;) {
    auto msg = hostile->receive(hang_bound);
    if (!msg) {
      outcome = msg.error().code;
      break;
    }
    held.push_back(std::move(msg).value());
  }
  BOOST_TEST_REQUIRE(outcome == tr::errc::protocol_violation);
  // Reported by the call that found the violation: nobody has looked for a hang-up.
  BOOST_TEST(hostile->closed());
  BOOST_TEST((hostile->death() == tr::death_cause::protocol_violation));
  BOOST_TEST(deaths.all() == std::vector<std::uint16_t>{id}, boost::test_tools::per_element());
  const auto warning = "WARN peer_id=" + std::to_string(id) +
                       " peer_name=\"hostile\" Cell died (protocol violation)";
  BOOST_TEST(log.count(warning) == 1u, log.text());
  BOOST_TEST(log.count("WARN") == 1u, log.text());

  // The hang-up that follows the kill reports nothing more.
  auto status = hostile->child()->wait_for(hang_bound);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status.value().signal == SIGKILL);
  BOOST_TEST(hostile->check_hangup());
  BOOST_TEST((hostile->signal() == tr::signal_result::peer_dead));
  BOOST_TEST(deaths.all().size() == 1u);
  BOOST_TEST(log.count("WARN") == 1u, log.text());
  held.clear();
  hostile.reset();
  BOOST_TEST((hub->audit() == baseline));
}

BOOST_AUTO_TEST_CASE(dropping_a_live_cells_transport_warns_that_the_host_hung_up_on_it) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("drop-live");
  death_channel deaths;
  auto cell = spawn_ready(*hub, {.peer_name = "dropped", .on_death = deaths.callback()},
                          cell_command("idle"));
  const auto id = cell->peer_id();
  const int pidfd = ::pidfd_open(cell->child()->pid(), 0);
  BOOST_TEST_REQUIRE(pidfd >= 0);
  const auto pid = cell->child()->pid();
  cell.reset();
  const auto warning = "WARN peer_id=" + std::to_string(id) +
                       " peer_name=\"dropped\" Host hung up on a live cell: its transport was "
                       "dropped before the cell died; killing pid " +
                       std::to_string(pid);
  BOOST_TEST(log.count(warning) == 1u, log.text());
  BOOST_TEST(log.count("WARN") == 1u, log.text());
  BOOST_TEST(exits_in_time(pidfd)); // the adopted process went with its transport
  BOOST_TEST(deaths.all().empty()); // a hang-up by the host is no death of the cell
  ::close(pidfd);
}

BOOST_AUTO_TEST_CASE(dropping_a_detached_cells_transport_warns_and_the_cell_exits_on_the_hang_up) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("drop-detached");
  auto added = hub->add_peer_transport_with_options({.peer_name = "seeded"});
  BOOST_TEST_REQUIRE(added.has_value());
  auto child = added.value().ticket.spawn(cell_command("idle"));
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  const int pidfd = ::pidfd_open(child.value().pid(), 0);
  BOOST_TEST_REQUIRE(pidfd >= 0);
  child.value().detach();
  auto transport = std::move(added.value().transport);
  auto ready = transport->receive(hang_bound);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  const auto id = transport->peer_id();
  // The seed's trap: the transport goes out of scope while the cell runs.
  transport.reset();
  const auto warning = "WARN peer_id=" + std::to_string(id) +
                       " peer_name=\"seeded\" Host hung up on a live cell: its transport was "
                       "dropped before the cell died (keep the transport, or hand it to "
                       "hub_host::keep_until_death)";
  BOOST_TEST(log.count(warning) == 1u, log.text());
  BOOST_TEST(exits_in_time(pidfd)); // the test cell exits when its host hangs up
  ::close(pidfd);
}

BOOST_AUTO_TEST_CASE(dropping_the_transport_of_a_dead_or_departed_cell_warns_nothing) {
  cellhub::test::log_waiter log;
  auto hub = make_hub("drop-quiet");
  auto killed = spawn_ready(*hub, {.peer_name = "killed"}, cell_command("idle"));
  BOOST_TEST_REQUIRE(killed->child()->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(killed->child()->wait_for(hang_bound).has_value());
  // Dead but not reported yet: the doorbell has hung up, which is no live cell.
  killed.reset();
  auto polite = spawn_ready(*hub, {.peer_name = "polite"}, cell_command("linger"));
  // It said goodbye (and lingers): dropping it kills a cell that announced its exit.
  auto bye = polite->receive(hang_bound);
  BOOST_TEST_REQUIRE(bye.has_value(), (bye ? "" : bye.error().message()));
  BOOST_TEST_REQUIRE((bye.value().kind == shm::message_kind::goodbye));
  polite.reset();
  // Never spawned: the ticket went first, so nothing holds the cell's end.
  {
    auto unused = hub->add_peer_transport_with_options({.peer_name = "unused"});
    BOOST_TEST_REQUIRE(unused.has_value());
  }
  BOOST_TEST(log.count("hung up on a live cell") == 0u, log.text());
  BOOST_TEST(log.count("WARN") == 0u, log.text());
}

BOOST_AUTO_TEST_SUITE_END()
