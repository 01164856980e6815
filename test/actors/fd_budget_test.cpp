// The fd budget a tree is checked against before it starts: the arithmetic, the
// soft limit raised to the hard one, and a tree refused under a low hard limit.
// Lowering a hard limit cannot be undone, so those cases run in a forked child.
#include "cellhub/actors/fd_budget.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/transport/fd_limit.hpp"

#include "hub_path.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <boost/test/unit_test.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;

namespace {

ac::cell_spec cell(std::string name) {
  ac::cell_spec spec;
  spec.name = std::move(name);
  spec.binary = "/bin/true"; // never started: the budget refuses first
  return spec;
}

// A root of `top` cells, a group of `grouped` cells and a pool of `replicas`.
ac::supervisor_spec tree_of(std::size_t top, std::size_t grouped, std::size_t replicas) {
  ac::supervisor_spec pool;
  pool.name = "pool";
  pool.strategy = ac::restart_strategy::simple_one_for_one;
  pool.replicas = replicas;
  pool.children = {cell("p")};
  ac::supervisor_spec group;
  group.name = "group";
  for (std::size_t i = 0; i < grouped; ++i)
    group.children.emplace_back(cell("g" + std::to_string(i)));
  group.children.emplace_back(pool);
  ac::supervisor_spec root;
  root.name = "root";
  for (std::size_t i = 0; i < top; ++i)
    root.children.emplace_back(cell("c" + std::to_string(i)));
  root.children.emplace_back(group);
  return root;
}

// Runs `body` in a forked child with RLIMIT_NOFILE set to `limit` (soft and hard);
// returns the child's exit code (body's result), or -1 if it did not exit normally.
int with_hard_limit(rlim_t limit, const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit lowered{limit, limit};
    if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0)
      ::_exit(100);
    ::_exit(body());
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}

} // namespace

BOOST_AUTO_TEST_SUITE(fd_budget)

BOOST_AUTO_TEST_CASE(cells_are_counted_through_groups_and_pool_replicas) {
  BOOST_TEST(ac::count_cells(tree_of(2, 3, 5)) == 10u);
  BOOST_TEST(ac::count_cells(tree_of(0, 0, 0)) == 0u);
}

BOOST_AUTO_TEST_CASE(budget_needs_fds_per_cell_plus_what_is_open_plus_slack) {
  const auto budget = ac::fd_budget_for(300, 12, 1024);
  BOOST_TEST(budget.cells == 300u);
  BOOST_TEST(budget.reserve == 12 + ac::fd_slack);
  BOOST_TEST(budget.needed == 300 * ac::fds_per_cell + 12 + ac::fd_slack);
  BOOST_TEST(budget.limit == 1024u);
  BOOST_TEST(!budget.fits());
  BOOST_TEST(budget.describe() ==
             "300 cells need 1244 file descriptors (4 per cell + 44 kept for the host), but the "
             "limit is 1024 even after raising the soft limit to the hard one; raise the hard "
             "limit (ulimit -Hn, systemd's LimitNOFILE=) or run fewer cells");
  const auto roomy = ac::fd_budget_for(300, 12, 1244);
  BOOST_TEST(roomy.fits());
  BOOST_TEST(roomy.describe() ==
             "300 cells need 1244 file descriptors (4 per cell + 44 kept for the host); the "
             "limit is 1244");
}

BOOST_AUTO_TEST_CASE(budget_keeps_the_control_port_fds_on_top_and_names_them) {
  const auto budget = ac::fd_budget_for(300, 12, 1244, 34);
  BOOST_TEST(budget.listener == 34u);
  BOOST_TEST(budget.needed == 300 * ac::fds_per_cell + 12 + ac::fd_slack + 34);
  BOOST_TEST(!budget.fits()); // 1244 held the cells alone (above)
  BOOST_TEST(budget.describe() ==
             "300 cells need 1278 file descriptors (4 per cell + 44 kept for the host + 34 for "
             "the control port), but the limit is 1244 even after raising the soft limit to the "
             "hard one; raise the hard limit (ulimit -Hn, systemd's LimitNOFILE=) or run fewer "
             "cells");
  BOOST_TEST(ac::fd_budget_for(300, 12, 1278, 34).fits());
}

BOOST_AUTO_TEST_CASE(budget_saturates_instead_of_overflowing) {
  const auto budget = ac::fd_budget_for(~std::size_t{0}, 10, ~std::uint64_t{0} - 1);
  BOOST_TEST(budget.needed == ~std::uint64_t{0});
  BOOST_TEST(!budget.fits());
  BOOST_TEST(ac::fd_budget_for(1, 10, ~std::uint64_t{0} - 1, ~std::uint64_t{0}).needed ==
             ~std::uint64_t{0});
}

BOOST_AUTO_TEST_CASE(raise_fd_limit_lifts_the_soft_limit_to_the_hard_one) {
  const auto before = tr::current_fd_limits();
  BOOST_TEST_REQUIRE(before.hard > 64u);
  const rlimit lowered{64, static_cast<rlim_t>(before.hard)};
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  BOOST_TEST(tr::current_fd_limits().soft == 64u);
  const auto raised = tr::raise_fd_limit();
  const auto after = tr::current_fd_limits();
  const rlimit restore{static_cast<rlim_t>(before.soft), static_cast<rlim_t>(before.hard)};
  BOOST_TEST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &restore) == 0);
  BOOST_TEST(after.soft == raised);
  BOOST_TEST(raised > 64u);
  BOOST_TEST(after.hard == before.hard);
  if (before.hard != ~std::uint64_t{0})
    BOOST_TEST(raised == before.hard);
}

BOOST_AUTO_TEST_CASE(count_open_fds_sees_an_fd_come_and_go) {
  const auto before = tr::count_open_fds();
  BOOST_TEST_REQUIRE(before > 0u);
  const int fd = ::dup(0);
  BOOST_TEST_REQUIRE(fd >= 0);
  BOOST_TEST(tr::count_open_fds() == before + 1);
  ::close(fd);
  BOOST_TEST(tr::count_open_fds() == before);
}

BOOST_AUTO_TEST_CASE(plan_uses_the_raised_limit_and_refuses_a_tree_that_cannot_fit) {
  // Exit codes: 0 as expected, 1.. which check failed.
  const int code = with_hard_limit(256, [] {
    const auto fits = ac::plan_fd_budget(tree_of(5, 5, 10)); // 20 cells: 80 + reserve
    if (fits.limit != 256 || !fits.fits())
      return 1;
    const auto big = ac::plan_fd_budget(tree_of(10, 10, 100)); // 120 cells: 480 + reserve
    if (big.limit != 256 || big.cells != 120 || big.fits())
      return 2;
    return 0;
  });
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_CASE(start_refuses_a_tree_that_cannot_fit_before_creating_the_hub) {
  const auto hub_path = cellhub::test::unique_hub_path("fd-budget");
  const int code = with_hard_limit(256, [&] {
    caf::actor_system_config cfg;
    ac::prepare_config(cfg);
    caf::actor_system sys{cfg};
    auto tree = ac::supervision_tree::start(sys, hub_path, tree_of(10, 10, 100));
    if (tree)
      return 1;
    if (!ac::is(tree.error(), ac::errc::fd_limit))
      return 2;
    const auto text = sys.render(tree.error());
    if (text.find("120 cells need") == std::string::npos ||
        text.find("the limit is 256") == std::string::npos)
      return 3;
    if (std::filesystem::exists(hub_path))
      return 4;
    return 0;
  });
  BOOST_TEST(code == 0);
}

BOOST_AUTO_TEST_SUITE_END()
