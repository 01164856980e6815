// The seed page's CellManager ("Cell Lifecycle", Implementing Automatic Relaunch),
// ported literally with the explicit calls cellhub asks for: add a peer with options,
// apply the ticket, spawn, detach the process (the page drops the child handle), hand
// the transport to the hub (the page lets it go out of scope), and relaunch from a
// loop that takes peer ids off the death channel. Each cell is handed a listening
// socket beside its doorbell; connecting to it tells which attached cell serves it.
#include "death_channel.hpp"
#include "hub_path.hpp"
#include "log_waiter.hpp"
#include "scratch_dir.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#ifndef SOCKET_CELL_PATH
#error "SOCKET_CELL_PATH must name the socket_cell executable"
#endif

namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 10s;
constexpr int hang_bound_ms = 10'000;

// Is the page's CellRecipe: how to start a cell again.
struct cell_recipe {
  std::string binary;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
};

// Is the page's CellManager, in cellhub's API.
class cell_manager {
public:
  explicit cell_manager(std::shared_ptr<tr::hub_host> hub, int listener)
      : hub_{std::move(hub)}
      , listener_{listener} {}

  // The page's spawn_cell: a peer with a name and a death callback, a recipe kept
  // under the new peer id, the process spawned.
  tr::result<std::uint16_t> spawn_cell(cell_recipe recipe) {
    tr::add_peer_options options{.peer_name = std::filesystem::path{recipe.binary}.stem().string(),
                                 // on_death must not block: it only pushes the id.
                                 .on_death = deaths_.callback()};
    BOOST_OUTCOME_TRY(added, hub_->add_peer_transport_with_options(std::move(options)));
    const auto peer_id = added.ticket.peer_id;
    {
      std::lock_guard guard{mutex_};
      recipes_[peer_id] = recipe;
    }
    BOOST_OUTCOME_TRY(spawn_process(recipe, added.ticket));
    // The page: "The ticket is dropped here, closing the peer FD on the host side".
    added.ticket.cell_doorbell.close();
    // The page lets the transport go out of scope here; in cellhub that would hang up
    // on the cell. The hub keeps it until the cell dies and still calls on_death.
    BOOST_OUTCOME_TRY(hub_->keep_until_death(added.transport));
    return peer_id;
  }

  // The page's handle_death: the recipe of the dead peer, relaunched under a new id.
  tr::result<std::uint16_t> handle_death(std::uint16_t peer_id) {
    std::optional<cell_recipe> recipe;
    {
      std::lock_guard guard{mutex_};
      if (auto it = recipes_.find(peer_id); it != recipes_.end()) {
        recipe = std::move(it->second);
        recipes_.erase(it);
      }
    }
    if (!recipe)
      return tr::make_error(tr::errc::invalid_argument, "no recipe for peer");
    return spawn_cell(std::move(*recipe));
  }

  // The page's death_rx.
  [[nodiscard]] const cellhub::test::death_channel& deaths() const { return deaths_; }

private:
  // The page's spawn_process: the recipe, the ticket's arguments and its doorbell,
  // and here also the listening socket the cell serves.
  tr::result<void> spawn_process(const cell_recipe& recipe, const tr::hub_peer_ticket& ticket) {
    tr::spawn_options command{.binary = recipe.binary, .args = recipe.args, .env = recipe.env};
    command.inherit.push_back({listener_, 4});
    ticket.apply_to_command(command);
    BOOST_OUTCOME_TRY(child, tr::process::spawn(command));
    // The page drops the child handle ("you may want to store the Child handle"); in
    // cellhub that would kill the cell, so it is detached: the cell outlives the handle
    // and is still reaped when it exits.
    child.detach();
    return tr::success();
  }

  std::shared_ptr<tr::hub_host> hub_;
  int listener_;
  std::mutex mutex_;
  std::map<std::uint16_t, cell_recipe> recipes_;
  cellhub::test::death_channel deaths_;
};

// Owns a listening Unix socket at a path in a private directory.
struct listening_socket {
  std::string path;
  int fd = -1;

  explicit listening_socket(std::string at)
      : path{std::move(at)}
      , fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)} {
    BOOST_TEST_REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    BOOST_TEST_REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    BOOST_TEST_REQUIRE(::listen(fd, 16) == 0);
  }
  listening_socket(const listening_socket&) = delete;
  listening_socket& operator=(const listening_socket&) = delete;
  ~listening_socket() { ::close(fd); }

  // Connects and reads the line the serving cell writes, bounded by hang_bound.
  [[nodiscard]] std::string ask() const {
    const int client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(client >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    BOOST_TEST_REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) ==
                       0);
    std::string line;
    for (char c = 0; c != '\n';) {
      pollfd entry{client, POLLIN, 0};
      BOOST_TEST_REQUIRE(::poll(&entry, 1, hang_bound_ms) == 1, "no answer on " << path);
      const auto got = ::read(client, &c, 1);
      if (got != 1)
        break;
      line += c;
    }
    ::close(client);
    return line;
  }
};

// Reads `key=<number>` out of a socket_cell's line.
long field(const std::string& line, const std::string& key) {
  const auto at = line.find(key + "=");
  BOOST_TEST_REQUIRE(at != std::string::npos, line);
  return std::stol(line.substr(at + key.size() + 1));
}

} // namespace

BOOST_AUTO_TEST_SUITE(seed_pattern)

BOOST_AUTO_TEST_CASE(seed_cell_manager_relaunches_a_sigkilled_cell_under_a_new_peer_id) {
  cellhub::test::log_waiter log;
  const cellhub::test::scratch_dir scratch{"cellhub-seed"};
  const listening_socket socket{(scratch.dir / "cell.sock").string()};
  auto hub = tr::hub_host::create(cellhub::test::unique_hub_path("seed"), {.max_peers = 4});
  BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
  cell_manager manager{hub.value(), socket.fd};

  auto first = manager.spawn_cell(
      {.binary = SOCKET_CELL_PATH, .args = {"--listen-fd=4"}, .env = {{"CELL_ROLE", "seed"}}});
  BOOST_TEST_REQUIRE(first.has_value(), (first ? "" : first.error().message()));
  // The cell attached and serves the socket it was handed.
  const auto first_line = socket.ask();
  BOOST_TEST(field(first_line, "peer_id") == first.value(), first_line);
  const auto first_pid = static_cast<pid_t>(field(first_line, "pid"));
  BOOST_TEST(log.count("WARN") == 0u, log.text()); // nothing was hung up on
  BOOST_TEST(hub.value()->audit().peers_live == 1u);

  const int pidfd = ::pidfd_open(first_pid, 0);
  BOOST_TEST_REQUIRE(pidfd >= 0);
  BOOST_TEST_REQUIRE(::pidfd_send_signal(pidfd, SIGKILL, nullptr, 0) == 0);
  ::close(pidfd);

  // The page's run_manager loop, for one death.
  const auto dead = manager.deaths().next(hang_bound);
  BOOST_TEST_REQUIRE(dead.has_value(), "on_death did not fire:\n" << log.text());
  BOOST_TEST(dead.value() == first.value());
  const auto warning = "WARN peer_id=" + std::to_string(first.value()) +
                       " peer_name=\"cellhub_socket_cell\" Cell died (doorbell hung up)";
  BOOST_TEST(log.count(warning) == 1u, log.text());
  auto relaunched = manager.handle_death(dead.value());
  BOOST_TEST_REQUIRE(relaunched.has_value(), (relaunched ? "" : relaunched.error().message()));
  // "This creates a NEW peer_id. The old one is gone."
  BOOST_TEST(relaunched.value() != first.value());

  const auto second_line = socket.ask();
  BOOST_TEST(field(second_line, "peer_id") == relaunched.value(), second_line);
  BOOST_TEST(field(second_line, "pid") != first_pid, second_line);
  BOOST_TEST(manager.handle_death(first.value()).error().detail == "no recipe for peer");
  BOOST_TEST(log.count("WARN") == 1u, log.text());
  BOOST_TEST(manager.deaths().all().size() == 1u);

  // Ending the manager: a stop is a death like any other for a kept cell.
  const auto second_pid = static_cast<pid_t>(field(second_line, "pid"));
  BOOST_TEST_REQUIRE(::kill(second_pid, SIGKILL) == 0);
  BOOST_TEST_REQUIRE(
      (manager.deaths().next(hang_bound) == std::optional<std::uint16_t>{relaunched.value()}));
  BOOST_TEST(log.count("WARN") == 2u, log.text());
}

BOOST_AUTO_TEST_SUITE_END()
