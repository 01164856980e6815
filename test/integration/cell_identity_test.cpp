// Cells that run as a user of their own (cell_spec::user), with real processes: the cell
// runs under the account's ids, answers calls, cannot signal the host or a cell of another
// user nor open the hub file, and comes back under the same ids after a SIGKILL. Only
// root can start a process as another user, so the suite is skipped (and says so) unless
// it runs as root.
#include "hub_path.hpp"
#include "log_capture.hpp"
#include "run_as_user.hpp"

#include "cellhub/actors/embedding.hpp"

#include <caf/all.hpp>

#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
using cellhub::test::test_account;
using namespace std::chrono_literals;

namespace {

caf::actor_system_config& prepared(caf::actor_system_config& cfg) {
  ac::prepare_config(cfg);
  return cfg;
}

ac::cell_spec identity_cell(std::string name, std::optional<tr::spawn_identity> user) {
  ac::cell_spec spec;
  spec.name = std::move(name);
  spec.binary = IDENTITY_CELL_PATH;
  spec.user = std::move(user);
  spec.start_timeout = 10s; // generous: sanitizers make starting slow
  spec.hang_timeout = 0ms;
  spec.backoff = {.min_delay = 0ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
  return spec;
}

// A tree of two identity cells: "guest" runs as nobody, "own" as the host runs (root).
struct guest_and_own {
  cellhub::test::log_capture log; // keeps the expected death warning off the test output
  test_account nobody;
  std::string hub_path = cellhub::test::unique_hub_path("identity");
  caf::actor_system_config cfg;
  caf::actor_system sys{prepared(cfg)};
  caf::scoped_actor self{sys};
  std::optional<ac::supervision_tree> tree;
  std::vector<ac::lifecycle_event> events;

  guest_and_own() {
    const auto account = cellhub::test::nobody_account();
    BOOST_TEST_REQUIRE(account.has_value(), "the user database has no user \"nobody\"");
    nobody = *account;
    const auto unreachable = cellhub::test::cannot_execute(nobody, IDENTITY_CELL_PATH);
    BOOST_TEST_REQUIRE(!unreachable, unreachable.value_or(""));

    ac::supervisor_spec root;
    root.name = "root";
    root.max_restarts = 10;
    root.period = 10s;
    root.children = {
        identity_cell("guest", tr::spawn_identity{nobody.uid, nobody.gid, {nobody.gid}}),
        identity_cell("own", std::nullopt)};
    ac::tree_options options;
    options.subscribers.push_back(caf::actor{self});
    auto started = ac::supervision_tree::start(sys, hub_path, std::move(root), std::move(options));
    BOOST_TEST_REQUIRE(static_cast<bool>(started), (started ? "" : sys.render(started.error())));
    tree.emplace(std::move(*started));
  }

  ~guest_and_own() {
    if (tree)
      tree->stop();
  }

  guest_and_own(const guest_and_own&) = delete;
  guest_and_own& operator=(const guest_and_own&) = delete;

  // Waits for the next event of `kind` for `name` after the ones already taken.
  ac::lifecycle_event await(ac::event_kind kind, const std::string& name) {
    for (;;) {
      while (taken_ >= events.size()) {
        bool got = false;
        self->receive(
            [&](ac::lifecycle_event& e) {
              events.push_back(std::move(e));
              got = true;
            },
            caf::after(60s) >> [] {});
        BOOST_TEST_REQUIRE(got, "no " << ac::to_string(kind) << " event for " << name);
      }
      const auto& e = events[taken_++];
      if (e.kind == kind && e.name == name)
        return e;
    }
  }

  // Calls `name` with `request`; returns its reply text, or fails the test.
  std::string call(const std::string& name, const std::string& request) {
    std::string out;
    self->request(tree->registry(), 30s, ac::call_atom_v, name, ac::payload::from_string(request))
        .receive([&](const ac::payload& reply) { out = std::string{reply.as_string()}; },
                 [&](const caf::error& err) { BOOST_FAIL(name + ": " + sys.render(err)); });
    return out;
  }

  // Says what a cell run as nobody reports about itself.
  std::string nobody_ids() const {
    return "uid=" + std::to_string(nobody.uid) + " gid=" + std::to_string(nobody.gid) +
           " groups=" + std::to_string(nobody.gid) + " ";
  }

private:
  std::size_t taken_ = 0;
};

// Checks that process `pid` runs with nobody's ids, all four of each, and its group only.
void expect_runs_as(pid_t pid, const test_account& account) {
  const auto ids = cellhub::test::ids_of(pid);
  BOOST_TEST_REQUIRE(ids.has_value(), "no /proc/" << pid << "/status");
  BOOST_TEST(ids->uids == std::vector<uid_t>(4, account.uid), boost::test_tools::per_element());
  BOOST_TEST(ids->gids == std::vector<gid_t>(4, account.gid), boost::test_tools::per_element());
  BOOST_TEST(ids->groups == std::vector<gid_t>{account.gid}, boost::test_tools::per_element());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cell_identity, *boost::unit_test::precondition(cellhub::test::runs_as_root))

BOOST_FIXTURE_TEST_CASE(cell_with_a_user_runs_under_its_ids_and_answers_calls, guest_and_own) {
  const auto guest = await(ac::event_kind::ready, "guest");
  expect_runs_as(guest.pid, nobody);
  const auto reply = call("guest", "0 ");
  BOOST_TEST(reply.starts_with(nobody_ids()), reply);
}

BOOST_FIXTURE_TEST_CASE(
    cell_with_a_user_cannot_signal_the_host_or_another_users_cell_or_open_the_hub, guest_and_own) {
  const auto guest = await(ac::event_kind::ready, "guest");
  const auto own = await(ac::event_kind::ready, "own");
  const auto probe = [this](const ac::lifecycle_event& target) {
    return std::to_string(target.pid) + " " + hub_path;
  };
  const auto reply = call("guest", probe(own));
  BOOST_TEST(contains(reply, "kill_host=EPERM kill_pid=EPERM open=EACCES"), reply);
  // The same probes succeed from a cell that runs as the host does: what stops the guest
  // is its user, not the probes.
  const auto control = call("own", probe(guest));
  BOOST_TEST(contains(control, "kill_host=ok kill_pid=ok open=ok"), control);
}

BOOST_FIXTURE_TEST_CASE(sigkilled_cell_with_a_user_is_restarted_under_the_same_ids, guest_and_own) {
  const auto first = await(ac::event_kind::ready, "guest");
  expect_runs_as(first.pid, nobody);
  BOOST_TEST_REQUIRE(::kill(first.pid, SIGKILL) == 0);
  const auto died = await(ac::event_kind::died, "guest");
  BOOST_TEST(died.pid == first.pid);
  BOOST_TEST_REQUIRE(static_cast<bool>(died.end));
  BOOST_TEST((died.end->how == ac::ending::killed), ac::describe(*died.end));
  BOOST_TEST(died.end->status->signal == SIGKILL);
  const auto second = await(ac::event_kind::ready, "guest");
  BOOST_TEST(second.pid != first.pid);
  expect_runs_as(second.pid, nobody);
  const auto reply = call("guest", "0 ");
  BOOST_TEST(reply.starts_with(nobody_ids() + "kill_host=EPERM"), reply);
}

BOOST_AUTO_TEST_SUITE_END()
