// The seed page's promises that nothing else asserts, with real cells and real
// SIGKILLs: the peer id handed to `on_death`, the `peer-{id}` default name, and the
// host's copy of the ticket's doorbell end closed when the ticket drops.
#include "hub_path.hpp"
#include "log_capture.hpp"

#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#ifndef TEST_CELL_PATH
#error "TEST_CELL_PATH must name the test cell executable"
#endif

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Only catches hangs: a cell's death is seen within a millisecond, but a noisy CI
// machine running ASan may stall for seconds.
constexpr auto hang_guard = 30s;

std::shared_ptr<tr::hub_host> make_hub(const std::string& name) {
  auto hub = tr::hub_host::create(cellhub::test::unique_hub_path(name));
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  return hub.value();
}

tr::spawn_options idle_cell() {
  return {.binary = TEST_CELL_PATH, .args = {"--mode=idle"}};
}

// Waits for the cell's READY and returns it.
tr::incoming_message wait_ready(tr::peer_transport& cell) {
  auto ready = cell.receive(hang_guard);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST_REQUIRE((ready.value().kind == shm::message_kind::ready));
  return std::move(ready).value();
}

// Spawns an idle cell through `hub.spawn_peer` and waits for its READY.
std::shared_ptr<tr::peer_transport> spawn_ready(tr::hub_host& hub, tr::add_peer_options options) {
  auto spawned = hub.spawn_peer(std::move(options), idle_cell());
  BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
  wait_ready(*spawned.value());
  return spawned.value();
}

// Waits on the doorbell (no traffic) until the transport reports the cell's death.
bool wait_for_death(tr::peer_transport& cell) {
  auto set = tr::epoll_set::create();
  BOOST_TEST_REQUIRE(set.has_value());
  BOOST_TEST_REQUIRE(set.value().add(cell.doorbell_fd(), 1).has_value());
  const auto deadline = clock_type::now() + hang_guard;
  std::array<tr::fd_event, 4> events{};
  while (!cell.closed() && clock_type::now() < deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
    auto ready = set.value().wait(events, left);
    BOOST_TEST_REQUIRE(ready.has_value());
    if (ready.value() > 0 && !cell.check_hangup())
      cell.drain_doorbell();
  }
  return cell.closed();
}

// Collects the peer ids `on_death` receives; the callback may run on any thread.
class death_log {
public:
  tr::peer_death_callback callback() {
    return [this](std::uint16_t peer_id) {
      std::lock_guard guard{mutex_};
      ids_.push_back(peer_id);
    };
  }
  std::vector<std::uint16_t> ids() const {
    std::lock_guard guard{mutex_};
    return ids_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::uint16_t> ids_;
};

// Returns what /proc/self/fd/<fd> points at ("socket:[1234]"), or nothing when the
// fd is not open.
std::optional<std::string> fd_target(int fd) {
  const auto link = "/proc/self/fd/" + std::to_string(fd);
  std::array<char, 256> target{};
  const auto length = ::readlink(link.c_str(), target.data(), target.size() - 1);
  if (length < 0) {
    BOOST_TEST_REQUIRE(errno == ENOENT, link << ": " << std::strerror(errno));
    return std::nullopt;
  }
  return std::string(target.data(), static_cast<std::size_t>(length));
}

// Counts the fds of this process that point at `target`.
int fds_pointing_at(const std::string& target) {
  DIR* dir = ::opendir("/proc/self/fd");
  BOOST_TEST_REQUIRE(dir != nullptr);
  const int own = ::dirfd(dir);
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.' || std::stoi(entry->d_name) == own)
      continue;
    if (const auto at = fd_target(std::stoi(entry->d_name)); at && *at == target)
      ++count;
  }
  ::closedir(dir);
  return count;
}

// What `spawn_as_the_seed_does` saw of the ticket before dropping it.
struct seed_spawn {
  std::shared_ptr<tr::peer_transport> transport;
  int ticket_fd = -1;
  std::string ticket_socket;
};

// The seed's spawn_cell: add a peer, apply the ticket to the command, spawn, and let
// the ticket go out of scope on return (the process goes to the transport).
seed_spawn spawn_as_the_seed_does(tr::hub_host& hub, tr::add_peer_options options) {
  auto added = hub.add_peer_transport_with_options(std::move(options));
  BOOST_TEST_REQUIRE(added.has_value(), (added ? "" : added.error().message()));
  auto [transport, ticket] = std::move(added).value();
  seed_spawn seen{.transport = transport, .ticket_fd = ticket.cell_doorbell.fd()};
  const auto target = fd_target(seen.ticket_fd);
  BOOST_TEST_REQUIRE(target.has_value());
  BOOST_TEST_REQUIRE(target->starts_with("socket:["), *target);
  seen.ticket_socket = *target;

  auto command = idle_cell();
  ticket.apply_to_command(command);
  auto child = tr::process::spawn(command);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  transport->adopt_process(std::move(child).value());
  // Still ours until the ticket drops.
  BOOST_TEST_REQUIRE((fd_target(seen.ticket_fd) == seen.ticket_socket));
  return seen;
}

} // namespace

BOOST_AUTO_TEST_SUITE(peer_lifecycle)

BOOST_AUTO_TEST_CASE(on_death_receives_the_killed_cells_own_peer_id_exactly_once) {
  cellhub::test::log_capture log;
  auto hub = make_hub("on-death-id");
  death_log deaths;
  // Three cells share one callback, as the seed's channel does. Their peer ids are 0,
  // 1 and 2, all in their first incarnation (1): killing ids 2 and 0 tells the id
  // apart from the incarnation and from a fixed value.
  std::vector<std::shared_ptr<tr::peer_transport>> cells;
  for (const char* name : {"first", "second", "third"})
    cells.push_back(spawn_ready(*hub, {.peer_name = name, .on_death = deaths.callback()}));
  BOOST_TEST_REQUIRE(cells[0]->peer_id() != cells[2]->peer_id());

  std::vector<std::uint16_t> expected;
  for (const std::size_t victim : {std::size_t{2}, std::size_t{0}}) {
    auto& cell = *cells[victim];
    BOOST_TEST_CONTEXT("victim " << cell.name() << " peer_id " << cell.peer_id()) {
      BOOST_TEST_REQUIRE(cell.child()->send_signal(SIGKILL).has_value());
      BOOST_TEST_REQUIRE(wait_for_death(cell));
      expected.push_back(cell.peer_id());
      BOOST_TEST(deaths.ids() == expected, boost::test_tools::per_element());
      // Looking again, ringing and sending report nothing new.
      BOOST_TEST(cell.check_hangup());
      BOOST_TEST((cell.signal() == tr::signal_result::peer_dead));
      BOOST_TEST(!cell.send(std::as_bytes(std::span{"x", 1})).has_value());
      BOOST_TEST(deaths.ids() == expected, boost::test_tools::per_element());
    }
  }
  // The survivor was not reported.
  BOOST_TEST(!cells[1]->closed());
  BOOST_TEST(!cells[1]->check_hangup());
  BOOST_TEST(deaths.ids().size() == 2u);
  BOOST_TEST(log.count("WARN") == 2u, log.text());
}

BOOST_AUTO_TEST_CASE(unnamed_peer_is_peer_dash_id_in_its_transport_its_ready_and_its_warning) {
  cellhub::test::log_capture log;
  auto hub = make_hub("default-name");
  // Two entries taken first, so the unnamed peer's id (2) differs from its
  // incarnation (1).
  auto taken_a = hub->add_peer_transport_with_options({.peer_name = "a"});
  auto taken_b = hub->add_peer_transport_with_options({.peer_name = "b"});
  BOOST_TEST_REQUIRE((taken_a.has_value() && taken_b.has_value()));

  death_log deaths;
  auto cell = hub->spawn_peer({.on_death = deaths.callback()}, idle_cell());
  BOOST_TEST_REQUIRE(cell.has_value(), (cell ? "" : cell.error().message()));
  auto& transport = *cell.value();
  const auto id = transport.peer_id();
  BOOST_TEST_REQUIRE(id != transport.incarnation());
  const auto expected = "peer-" + std::to_string(id);
  BOOST_TEST(transport.name() == expected);

  // The cell learned the same name from the host and announced it in READY.
  const auto ready = wait_ready(transport);
  const auto bytes = ready.payload.bytes();
  BOOST_TEST_REQUIRE(bytes.size() == sizeof(shm::ready_payload));
  shm::ready_payload announced{};
  std::memcpy(&announced, bytes.data(), sizeof announced);
  BOOST_TEST_REQUIRE(announced.name_length <= sizeof announced.name);
  BOOST_TEST(std::string(announced.name, announced.name_length) == expected);

  BOOST_TEST_REQUIRE(transport.child()->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(wait_for_death(transport));
  const auto warning = "WARN peer_id=" + std::to_string(id) + " peer_name=\"" + expected +
                       "\" Cell died (doorbell hung up)";
  BOOST_TEST(log.count(warning) == 1u, log.text());
  BOOST_TEST(log.count("WARN") == 1u, log.text());
  // Errors about the dead peer name it the same way.
  auto sent = transport.send(std::as_bytes(std::span{"x", 1}));
  BOOST_TEST_REQUIRE(!sent.has_value());
  BOOST_TEST(sent.error().message().find("\"" + expected + "\"") != std::string::npos,
             sent.error().message());
  BOOST_TEST(deaths.ids() == std::vector<std::uint16_t>{id}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(dropping_the_ticket_closes_the_hosts_doorbell_copy_so_a_kill_is_seen) {
  cellhub::test::log_capture log;
  auto hub = make_hub("ticket-drop");
  death_log deaths;
  const auto seed =
      spawn_as_the_seed_does(*hub, {.peer_name = "seeded", .on_death = deaths.callback()});
  auto& transport = *seed.transport;

  // The ticket is gone: its fd number is closed, and no other fd of the host holds
  // the cell's end of the doorbell (only the cell does).
  BOOST_TEST(!fd_target(seed.ticket_fd).has_value(), "fd " << seed.ticket_fd << " still open");
  BOOST_TEST(fds_pointing_at(seed.ticket_socket) == 0, seed.ticket_socket);

  wait_ready(transport);
  BOOST_TEST(!transport.closed());
  BOOST_TEST_REQUIRE(transport.child()->send_signal(SIGKILL).has_value());
  // With the host's copy closed, the kill hangs the doorbell up: no traffic needed.
  BOOST_TEST_REQUIRE(wait_for_death(transport));
  BOOST_TEST((transport.death() == tr::death_cause::hung_up));
  BOOST_TEST(deaths.ids() == std::vector<std::uint16_t>{transport.peer_id()},
             boost::test_tools::per_element());
  BOOST_TEST(log.count("peer_name=\"seeded\" Cell died (doorbell hung up)") == 1u, log.text());
}

BOOST_AUTO_TEST_SUITE_END()
