// docs/transport.md's code, run for real: the seed page's walk-through ("Cell
// Lifecycle") in cellhub terms, with real cells and real SIGKILLs. The last case checks
// that every C++ block of the page is code from this file (or from the cell_manager
// example's header), so the page cannot drift away from the API.
#include "death_channel.hpp"
#include "hub_path.hpp"
#include "log_capture.hpp"

#include "cellhub/transport/death_watch.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/log.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <signal.h>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

#ifndef TEST_CELL_PATH
#error "TEST_CELL_PATH must name the test cell executable"
#endif
#ifndef TRANSPORT_DOC_PATH
#error "TRANSPORT_DOC_PATH must name docs/transport.md"
#endif
#ifndef DOC_TEST_SOURCE_PATH
#error "DOC_TEST_SOURCE_PATH must name this file"
#endif
#ifndef CELL_MANAGER_HEADER_PATH
#error "CELL_MANAGER_HEADER_PATH must name apps/examples/cell_manager.hpp"
#endif

namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: a death is reported within a millisecond, but a noisy CI
// machine running ASan may stall for seconds.
constexpr auto hang_guard = 30s;

// --- the page's code: the seed's CellManager ----------------------------------------

/// Holds what it takes to start a cell again (the seed's CellRecipe).
struct cell_recipe {
  std::string binary;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::uint32_t relaunch_count = 0;
  std::uint32_t max_relaunches = 5;
};

/// Carries deaths from the hub's thread to the manager's (the seed's mpsc channel).
class death_queue {
public:
  /// Names a cell that died and the peer id it had.
  struct death {
    std::string name;
    std::uint16_t peer_id = 0;
  };

  /// Queues `dead`; never blocks for longer than a short lock.
  void push(death dead) {
    {
      std::lock_guard guard{mutex_};
      queue_.push_back(std::move(dead));
    }
    pushed_.notify_one();
  }

  /// Takes the next death, waiting up to `bound`; nothing if none came.
  std::optional<death> next(std::chrono::milliseconds bound) {
    std::unique_lock lock{mutex_};
    if (!pushed_.wait_for(lock, bound, [this] { return !queue_.empty(); }))
      return std::nullopt;
    auto dead = std::move(queue_.front());
    queue_.pop_front();
    return dead;
  }

private:
  std::mutex mutex_;
  std::condition_variable pushed_;
  std::deque<death> queue_;
};

/// Keeps named cells running and relaunches the dead ones (the seed's CellManager).
/// Every member runs on one thread; only `on_death` runs on the hub's.
class cell_manager {
public:
  /// Creates a manager of cells on `hub`.
  explicit cell_manager(std::shared_ptr<tr::hub_host> hub)
      : hub_{std::move(hub)} {}

  /// Spawns the cell `name` from `recipe` and returns its peer id.
  tr::result<std::uint16_t> spawn_cell(const std::string& name, cell_recipe recipe) {
    tr::add_peer_options options{
        .peer_name = name, // empty: "peer-{id}"
        // Runs on the hub's thread, so it only queues the death. It names the cell: by
        // the time the manager looks, the peer id may serve another cell's next life.
        .on_death = [deaths = deaths_, name](std::uint16_t peer_id) {
          deaths->push({.name = name, .peer_id = peer_id});
        }};
    BOOST_OUTCOME_TRY(added, hub_->add_peer_transport_with_options(std::move(options)));
    const std::uint16_t peer_id = added.ticket.peer_id;

    tr::spawn_options command{.binary = recipe.binary, .args = recipe.args, .env = recipe.env};
    added.ticket.apply_to_command(command); // the ticket's arguments, its doorbell at fd 3
    BOOST_OUTCOME_TRY(child, tr::process::spawn(command));
    const pid_t pid = child.pid();
    child.detach();                                             // the cell outlives `child`
    BOOST_OUTCOME_TRY(hub_->keep_until_death(added.transport)); // on_death will come

    cells_[name] = {.peer_id = peer_id, .recipe = std::move(recipe), .pid = pid};
    return peer_id;
    // `added` goes here: the ticket closes the host's copy of the cell's doorbell end,
    // and the transport is the hub's until the cell dies.
  }

  /// Relaunches the cell that died under a new peer id; nothing when there is no
  /// recipe for it or its relaunches are spent (the seed's handle_death).
  tr::result<std::optional<std::uint16_t>> handle_death(const death_queue::death& dead) {
    const auto it = cells_.find(dead.name);
    if (it == cells_.end() || it->second.peer_id != dead.peer_id) {
      tr::logger()->warn("peer_id={} no recipe for the dead cell, cannot relaunch", dead.peer_id);
      return std::nullopt;
    }
    auto node = cells_.extract(it);
    auto& life = node.mapped();
    if (life.recipe.relaunch_count >= life.recipe.max_relaunches) {
      tr::logger()->error("peer_id={} {} exceeded {} relaunches, giving up", dead.peer_id,
                          dead.name, life.recipe.max_relaunches);
      return std::nullopt;
    }
    ++life.recipe.relaunch_count;
    tr::logger()->info("peer_id={} pid={} relaunching {}", dead.peer_id, life.pid, dead.name);
    // A NEW peer id: the old one goes back to the hub, for a later life of any cell.
    BOOST_OUTCOME_TRY(new_peer_id, spawn_cell(dead.name, std::move(life.recipe)));
    return std::optional{new_peer_id};
  }

  /// Waits up to `bound` for a death and handles it (one round of the seed's
  /// run_manager loop); returns the dead peer id, or nothing when none came.
  std::optional<std::uint16_t> handle_next_death(std::chrono::milliseconds bound) {
    const auto dead = deaths_->next(bound);
    if (!dead)
      return std::nullopt;
    if (auto relaunched = handle_death(*dead); !relaunched)
      tr::logger()->error("peer_id={} relaunch failed: {}", dead->peer_id,
                          relaunched.error().message());
    else if (relaunched.value())
      tr::logger()->info("peer_id={} relaunched as peer_id={}", dead->peer_id, *relaunched.value());
    return dead->peer_id;
  }

  /// Returns the current peer id of the cell `name` (the seed's cell_ids map).
  [[nodiscard]] std::optional<std::uint16_t> peer_of(const std::string& name) const {
    const auto it = cells_.find(name);
    return it == cells_.end() ? std::nullopt : std::optional{it->second.peer_id};
  }

  /// Returns the pid of the cell `name`'s current life, for the test to kill it.
  [[nodiscard]] pid_t pid_of(const std::string& name) const { return cells_.at(name).pid; }

private:
  // One life of a named cell: its peer id, how to start it again, its pid.
  struct cell_life {
    std::uint16_t peer_id = 0;
    cell_recipe recipe;
    pid_t pid = -1;
  };

  std::shared_ptr<tr::hub_host> hub_;
  // Shared with the on_death callbacks, which may run after the manager is gone.
  std::shared_ptr<death_queue> deaths_ = std::make_shared<death_queue>();
  // Keyed by name, not by peer id: a recycled id may already name another cell's life.
  std::map<std::string, cell_life> cells_;
};

/// Creates the hub at `hub_path` ("/dev/shm/my-hub", say) and a manager of its cells.
tr::result<std::unique_ptr<cell_manager>> make_manager(const std::string& hub_path) {
  auto created = tr::hub_host::create(hub_path, tr::hub_config{.max_peers = 64});
  if (!created)
    return created.error(); // its message() names the path and what is wrong there
  std::shared_ptr<tr::hub_host> hub = created.value();
  return std::make_unique<cell_manager>(hub);
}

// --- the page's code: signal results and a goodbye ----------------------------------

/// Rings the cell behind `transport`; false once the cell is known dead.
bool ring(tr::peer_transport& transport) {
  switch (transport.signal()) {
  case tr::signal_result::sent:        // the wake-up is queued
  case tr::signal_result::buffer_full: // wake-ups already pending: coalesced, the cell lives
    return true;
  case tr::signal_result::peer_dead: // reported once: the WARN line, closed, on_death
    return false;
  }
  return false;
}

/// Tells whether the cell behind `transport` said goodbye before it went: its goodbye
/// is a message like any other, so take what it sent first.
bool said_goodbye(tr::peer_transport& transport) {
  for (;;) {
    auto next = transport.try_receive();
    if (!next || !next.value())
      return transport.goodbye_received();
  }
}

// --- the check that keeps the page honest -------------------------------------------

std::string read_file(const char* path) {
  std::ifstream in{path};
  BOOST_TEST_REQUIRE(in.good(), "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Returns the lines of `text` that hold more than blanks, stripped of blanks at both
// ends, so that a block may be indented differently on the page.
std::vector<std::string> solid_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::istringstream in{std::string{text}};
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos)
      continue;
    const auto last = line.find_last_not_of(" \t\r");
    lines.push_back(line.substr(first, last - first + 1));
  }
  return lines;
}

// Returns the body of every ```cpp block of a Markdown page.
std::vector<std::string> cpp_blocks(const std::string& page) {
  std::vector<std::string> blocks;
  const std::string open = "```cpp\n";
  for (auto at = page.find(open); at != std::string::npos; at = page.find(open, at)) {
    const auto body = at + open.size();
    const auto close = page.find("\n```", body - 1);
    BOOST_TEST_REQUIRE(close != std::string::npos, "unclosed ```cpp block");
    blocks.push_back(page.substr(body, close + 1 - body));
    at = close + 4;
  }
  return blocks;
}

// Tells whether `needle` appears in `haystack` as consecutive lines.
bool contains(const std::vector<std::string>& haystack, const std::vector<std::string>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

} // namespace

BOOST_AUTO_TEST_SUITE(transport_doc)

BOOST_AUTO_TEST_CASE(seed_manager_relaunches_a_killed_cell_under_a_new_id_until_its_limit) {
  cellhub::test::log_capture log;
  auto made = make_manager(cellhub::test::unique_hub_path("transport-doc"));
  BOOST_TEST_REQUIRE(made.has_value(), (made ? "" : made.error().message()));
  auto& manager = *made.value();
  const cell_recipe recipe{.binary = TEST_CELL_PATH, .args = {"--mode=idle"}, .max_relaunches = 1};
  auto first = manager.spawn_cell("worker", recipe);
  BOOST_TEST_REQUIRE(first.has_value(), (first ? "" : first.error().message()));
  BOOST_TEST((manager.peer_of("worker") == first.value()));

  // A crash: the hub sees the hang-up, logs one line and calls on_death; the manager
  // relaunches the cell under a new peer id and its name follows.
  BOOST_TEST_REQUIRE(::kill(manager.pid_of("worker"), SIGKILL) == 0);
  BOOST_TEST_REQUIRE((manager.handle_next_death(hang_guard) == first.value()), log.text());
  const auto second = manager.peer_of("worker");
  BOOST_TEST_REQUIRE(second.has_value(), log.text());
  BOOST_TEST(*second != first.value());
  const auto warning = "WARN peer_id=" + std::to_string(first.value()) +
                       " peer_name=\"worker\" Cell died (doorbell hung up)";
  BOOST_TEST(log.count(warning) == 1u, log.text());

  // The relaunch limit: the second death is final.
  BOOST_TEST_REQUIRE(::kill(manager.pid_of("worker"), SIGKILL) == 0);
  BOOST_TEST_REQUIRE((manager.handle_next_death(hang_guard) == second), log.text());
  BOOST_TEST(!manager.peer_of("worker").has_value());
  BOOST_TEST(log.count("worker exceeded 1 relaunches, giving up") == 1u, log.text());
  BOOST_TEST(log.count("WARN") == 2u, log.text());
}

BOOST_AUTO_TEST_CASE(goodbye_tells_a_graceful_exit_from_a_crash_and_signal_reports_the_dead) {
  cellhub::test::log_capture log;
  auto created = tr::hub_host::create(cellhub::test::unique_hub_path("transport-doc-bye"));
  BOOST_TEST_REQUIRE(created.has_value(), (created ? "" : created.error().message()));
  const auto& hub = created.value();
  const std::string cell_binary = TEST_CELL_PATH;
  cellhub::test::death_channel deaths;

  // The safe default: the transport owns the process, and the caller owns the transport.
  auto spawned = hub->spawn_peer({.peer_name = "polite", .on_death = deaths.callback()},
                                 {.binary = cell_binary, .args = {"--mode=goodbye"}});
  BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
  std::shared_ptr<tr::peer_transport> polite = spawned.value();
  auto crashing = hub->spawn_peer({.peer_name = "crashing", .on_death = deaths.callback()},
                                  {.binary = cell_binary, .args = {"--mode=idle"}});
  BOOST_TEST_REQUIRE(crashing.has_value(), (crashing ? "" : crashing.error().message()));
  // Nobody polls here: the hub watches both and reports their deaths.
  for (const auto& transport : {polite, crashing.value()}) {
    auto kept = hub->keep_until_death(transport);
    BOOST_TEST_REQUIRE(kept.has_value(), (kept ? "" : kept.error().message()));
  }
  auto& crashed = *crashing.value();
  auto ready = crashed.receive(hang_guard);
  BOOST_TEST_REQUIRE(ready.has_value(), (ready ? "" : ready.error().message()));
  BOOST_TEST(ring(crashed));

  BOOST_TEST_REQUIRE(crashed.child()->send_signal(SIGKILL).has_value());
  std::vector<std::uint16_t> dead;
  for (int i = 0; i < 2; ++i) {
    const auto peer_id = deaths.next(hang_guard);
    BOOST_TEST_REQUIRE(peer_id.has_value(), log.text());
    dead.push_back(*peer_id);
  }
  std::sort(dead.begin(), dead.end());
  std::vector<std::uint16_t> expected{polite->peer_id(), crashed.peer_id()};
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(dead == expected, boost::test_tools::per_element());

  BOOST_TEST(said_goodbye(*polite));
  BOOST_TEST(!said_goodbye(crashed));
  // The goodbye is an INFO line; only the crash is a warning, and only once.
  BOOST_TEST(log.count("peer_name=\"polite\" Cell exited after goodbye") == 1u, log.text());
  BOOST_TEST(log.count("peer_name=\"crashing\" Cell died (") == 1u, log.text());
  BOOST_TEST(!ring(crashed));
  BOOST_TEST(!ring(crashed));
  BOOST_TEST(log.count("WARN") == 1u, log.text());
  BOOST_TEST(deaths.all().size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_death_watch_reports_a_killed_cell_through_its_transport_once) {
  cellhub::test::log_capture log;
  auto created = tr::hub_host::create(cellhub::test::unique_hub_path("transport-doc-watch"));
  BOOST_TEST_REQUIRE(created.has_value(), (created ? "" : created.error().message()));
  const auto& hub = created.value();
  cellhub::test::death_channel deaths;
  auto spawned = hub->spawn_peer({.peer_name = "watched", .on_death = deaths.callback()},
                                 {.binary = TEST_CELL_PATH, .args = {"--mode=idle"}});
  BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
  const std::shared_ptr<tr::peer_transport> cell = spawned.value();
  const std::uint64_t key = 1;
  BOOST_TEST_REQUIRE(cell->child()->send_signal(SIGKILL).has_value());

  auto watch = tr::death_watch::create().value();
  (void)watch.watch(
      key, {.doorbell_fd = ::dup(cell->doorbell_fd()), .pidfd = ::dup(cell->child()->pidfd())});
  while (!cell->closed())
    (void)watch.wait(std::chrono::seconds{10}, [&](const tr::life_notice& notice) {
      if (notice.death)
        cell->report_death(*notice.death); // one warning, closed, on_death once
    });

  const auto dead = deaths.next(hang_guard);
  BOOST_TEST_REQUIRE(dead.has_value(), log.text());
  BOOST_TEST(*dead == cell->peer_id());
  BOOST_TEST(log.count("peer_name=\"watched\" Cell died (") == 1u, log.text());
}

BOOST_AUTO_TEST_CASE(freed_peer_id_returns_with_a_new_incarnation_and_a_full_hub_says_so) {
  auto created =
      tr::hub_host::create(cellhub::test::unique_hub_path("transport-doc-ids"), {.max_peers = 1});
  BOOST_TEST_REQUIRE(created.has_value(), (created ? "" : created.error().message()));
  const auto& hub = created.value();

  auto first = hub->add_peer_transport();
  BOOST_TEST_REQUIRE(first.has_value());
  const auto id = first.value().ticket.peer_id;
  const auto life = first.value().ticket.incarnation;
  auto full = hub->add_peer_transport(); // max_peers entries are live
  BOOST_TEST_REQUIRE(!full.has_value());
  BOOST_TEST(full.error().code == tr::errc::no_free_peer);

  // No cell came: the ticket goes, then the transport, and the entry is free again.
  first.value().ticket = {};
  first.value().transport.reset();
  auto again = hub->add_peer_transport();
  BOOST_TEST_REQUIRE(again.has_value(), (again ? "" : again.error().message()));
  BOOST_TEST(again.value().ticket.peer_id == id);
  BOOST_TEST(again.value().ticket.incarnation == life + 1);
}

BOOST_AUTO_TEST_CASE(every_cpp_block_of_docs_transport_md_is_code_compiled_here) {
  const auto blocks = cpp_blocks(read_file(TRANSPORT_DOC_PATH));
  // The page quotes at least the hub, the manager, the signal results and the goodbye.
  BOOST_TEST_REQUIRE(blocks.size() >= 5u);
  std::vector<std::string> sources = solid_lines(read_file(DOC_TEST_SOURCE_PATH));
  const auto header = solid_lines(read_file(CELL_MANAGER_HEADER_PATH));
  for (const auto& block : blocks) {
    const auto lines = solid_lines(block);
    BOOST_TEST_REQUIRE(!lines.empty());
    BOOST_TEST((contains(sources, lines) || contains(header, lines)),
               "docs/transport.md quotes code found neither here nor in cell_manager.hpp:\n"
                   << block);
  }
}

BOOST_AUTO_TEST_SUITE_END()
