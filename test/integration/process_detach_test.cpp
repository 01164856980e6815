// process::detach: the child outlives its handle and is still reaped when it exits,
// with no zombie left, by the process-wide reaper.
#include "log_waiter.hpp"

#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#ifndef SPAWN_PROBE_PATH
#error "SPAWN_PROBE_PATH must name the spawn_probe helper executable"
#endif

namespace tr = cellhub::transport;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 10s;
constexpr int hang_bound_ms = 10'000;

tr::process spawn_probe(std::vector<std::string> args, std::vector<tr::inherited_fd> inherit = {}) {
  tr::spawn_options options{.binary = SPAWN_PROBE_PATH, .args = std::move(args)};
  options.inherit = std::move(inherit);
  auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  return std::move(child).value();
}

// Returns the state letter of /proc/PID/stat (R, S, Z, ...), or nothing once the pid
// is gone (reaped).
std::optional<char> state_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(in, text))
    return std::nullopt;
  // The state follows the command name, which is in parentheses and may hold spaces.
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size())
    return std::nullopt;
  return text[close + 2];
}

// Waits until the reaper says it reaped `pid` (nothing else reports a reap), then
// checks that the pid is gone from /proc: no zombie.
bool reaped_in_time(const cellhub::test::log_waiter& log, pid_t pid) {
  const auto line = "detached process pid=" + std::to_string(pid) + " exited";
  if (!log.wait_for(line, hang_bound)) {
    BOOST_TEST_MESSAGE("no \"" << line << "\" in the log:\n" << log.text());
    return false;
  }
  return !state_of(pid).has_value();
}

// Returns whether the process behind `pidfd` is still running.
bool alive(int pidfd) {
  pollfd entry{pidfd, POLLIN, 0};
  return ::poll(&entry, 1, 0) == 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(process_detach)

BOOST_AUTO_TEST_CASE(
    detached_child_keeps_running_after_its_handle_is_gone_and_is_reaped_once_killed) {
  cellhub::test::log_waiter log;
  pid_t pid = -1;
  int watch = -1;
  {
    auto child = spawn_probe({"hang"});
    pid = child.pid();
    watch = ::pidfd_open(pid, 0);
    BOOST_TEST_REQUIRE(watch >= 0);
    child.detach();
    BOOST_TEST(child.pid() == -1);
    BOOST_TEST(child.pidfd() == -1);
    BOOST_TEST(!child.running());
  } // the (now empty) handle is destroyed here
  BOOST_TEST(alive(watch));
  BOOST_TEST((state_of(pid).value_or('?') != 'Z'));

  BOOST_TEST_REQUIRE(::pidfd_send_signal(watch, SIGKILL, nullptr, 0) == 0);
  pollfd entry{watch, POLLIN, 0};
  BOOST_TEST_REQUIRE(::poll(&entry, 1, hang_bound_ms) == 1);
  BOOST_TEST(reaped_in_time(log, pid), "pid " << pid << " state " << state_of(pid).value_or('-'));
  ::close(watch);
}

BOOST_AUTO_TEST_CASE(detached_child_that_exits_by_itself_leaves_no_zombie) {
  cellhub::test::log_waiter log;
  auto child = spawn_probe({"exit", "0"});
  const pid_t pid = child.pid();
  child.detach();
  BOOST_TEST(reaped_in_time(log, pid), "pid " << pid << " state " << state_of(pid).value_or('-'));
  BOOST_TEST(log.count("detached process pid=" + std::to_string(pid) + " exited (exit code 0)") ==
             1u);
}

BOOST_AUTO_TEST_CASE(detached_childs_background_group_ends_with_it) {
  cellhub::test::log_waiter log;
  int report[2];
  BOOST_TEST_REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  auto child = spawn_probe({"grandchild", "3", "hang"}, {{report[1], 3}});
  ::close(report[1]);
  std::string line;
  for (char c = 0; c != '\n';) {
    pollfd entry{report[0], POLLIN, 0};
    BOOST_TEST_REQUIRE(::poll(&entry, 1, hang_bound_ms) == 1);
    BOOST_TEST_REQUIRE(::read(report[0], &c, 1) == 1);
    line += c;
  }
  ::close(report[0]);
  const int grandchild = ::pidfd_open(std::stoi(line), 0);
  BOOST_TEST_REQUIRE(grandchild >= 0);
  const pid_t pid = child.pid();
  const int watch = ::pidfd_open(pid, 0);
  BOOST_TEST_REQUIRE(watch >= 0);
  child.detach();
  BOOST_TEST(alive(grandchild));

  BOOST_TEST_REQUIRE(::pidfd_send_signal(watch, SIGKILL, nullptr, 0) == 0);
  BOOST_TEST(reaped_in_time(log, pid));
  // As with any cell: its group is killed before it is reaped.
  pollfd entry{grandchild, POLLIN, 0};
  BOOST_TEST(::poll(&entry, 1, hang_bound_ms) == 1);
  ::close(grandchild);
  ::close(watch);
}

BOOST_AUTO_TEST_CASE(detaching_an_empty_or_reaped_handle_leaves_it_empty) {
  tr::process empty;
  empty.detach();
  BOOST_TEST(empty.pid() == -1);

  auto child = spawn_probe({"exit", "3"});
  const auto status = child.wait_for(hang_bound);
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status.value().code == 3);
  child.detach();
  BOOST_TEST(child.pid() == -1);
  BOOST_TEST(!child.status().has_value());
}

BOOST_AUTO_TEST_CASE(many_detached_children_are_all_reaped) {
  cellhub::test::log_waiter log;
  std::vector<pid_t> pids;
  for (int i = 0; i < 20; ++i) {
    auto child = spawn_probe({"exit", std::to_string(i)});
    pids.push_back(child.pid());
    child.detach();
  }
  for (const pid_t pid : pids)
    BOOST_TEST(reaped_in_time(log, pid), "pid " << pid);
}

BOOST_AUTO_TEST_SUITE_END()
