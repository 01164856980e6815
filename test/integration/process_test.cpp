#include "owned_pipe.hpp"

#include "cellhub/transport/doorbell.hpp"
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
#include <cstdlib>
#include <string>
#include <utility>

#ifndef SPAWN_PROBE_PATH
#error "SPAWN_PROBE_PATH must name the spawn_probe helper executable"
#endif

namespace tr = cellhub::transport;
using cellhub::test::owned_pipe;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 5s;
constexpr int hang_bound_ms = 5000;

tr::spawn_options probe(std::vector<std::string> args) {
  tr::spawn_options options;
  options.binary = SPAWN_PROBE_PATH;
  options.args = std::move(args);
  return options;
}

tr::process spawn(const tr::spawn_options& options) {
  auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  return std::move(child).value();
}

tr::exit_status wait_exit(tr::process& child) {
  auto status = child.wait_for(hang_bound);
  BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
  return status.value();
}

// Returns whether `pid` is no child of ours any more (reaped, not a zombie).
bool is_reaped(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == -1 && errno == ECHILD;
}

// Lists which of the host's fds 0, 1 and 2 are open, as the probe prints them.
std::string open_stdio() {
  std::string text;
  for (int fd = 0; fd < 3; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0)
      text += std::to_string(fd) + ",";
  return text;
}

// Spawns the fd-listing probe with the report pipe inherited as `inherit_as` and
// checks the child saw exactly stdio plus that fd.
void expect_only_inherited_fd(owned_pipe& report, int inherit_fd, int inherit_as) {
  const std::string expected = open_stdio() + std::to_string(inherit_as);
  auto options = probe({"fds", expected, std::to_string(inherit_as)});
  options.inherit = {{inherit_fd, inherit_as}};
  auto child = spawn(options);
  const std::string seen = report.read_all(hang_bound);
  const auto status = wait_exit(child);
  BOOST_TEST(seen == expected + "\n");
  BOOST_TEST(status.clean(), status.describe());
}

// Spawns a probe that starts a background grandchild, reads the grandchild's pid
// from the report pipe and returns a pidfd for it (readable once it has exited).
int spawn_with_grandchild(tr::process& child, const std::string& then) {
  owned_pipe report;
  auto options = probe({"grandchild", "3", then});
  options.inherit = {{report.write_end, 3}};
  child = spawn(options);
  report.close_write_end();
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + hang_bound;
  for (char c = 0; c != '\n';) {
    pollfd entry{report.read_end, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    BOOST_TEST_REQUIRE(::poll(&entry, 1, static_cast<int>(std::max(left.count(), 0L))) > 0,
                       "no grandchild pid in time");
    BOOST_TEST_REQUIRE(::read(report.read_end, &c, 1) == 1);
    line += c;
  }
  const pid_t grandchild = std::stoi(line);
  // The grandchild blocks until killed, so its pid cannot have been reused yet.
  const int pidfd = ::pidfd_open(grandchild, 0);
  BOOST_TEST_REQUIRE(pidfd >= 0);
  return pidfd;
}

// Returns whether the process behind `pidfd` exits within the hang bound, and closes it.
bool exits_in_time(int pidfd) {
  pollfd entry{pidfd, POLLIN, 0};
  const bool gone = ::poll(&entry, 1, hang_bound_ms) == 1;
  ::close(pidfd);
  return gone;
}

} // namespace

BOOST_AUTO_TEST_SUITE(transport_process)

BOOST_AUTO_TEST_CASE(exit_status_describes_code_signal_and_core_dump) {
  BOOST_TEST(tr::exit_status{}.clean());
  BOOST_TEST(tr::exit_status{}.describe() == "exit code 0");
  BOOST_TEST((tr::exit_status{.code = 3}.describe() == "exit code 3"));
  BOOST_TEST(!(tr::exit_status{.code = 3}.clean()));
  const tr::exit_status killed{.signaled = true, .signal = SIGKILL};
  BOOST_TEST(!killed.clean());
  BOOST_TEST(killed.describe() == "signal 9 (SIGKILL)");
  const tr::exit_status dumped{.signaled = true, .signal = SIGSEGV, .core_dumped = true};
  BOOST_TEST(dumped.describe() == "signal 11 (SIGSEGV, core dumped)");
}

BOOST_AUTO_TEST_CASE(child_exit_code_is_propagated) {
  auto child = spawn(probe({"exit", "3"}));
  BOOST_TEST(child.pid() > 0);
  BOOST_TEST(child.pidfd() >= 0);
  const auto status = wait_exit(child);
  BOOST_TEST(!status.signaled);
  BOOST_TEST(status.code == 3);
  BOOST_TEST(status.describe() == "exit code 3");
  BOOST_TEST(!child.running());
  BOOST_TEST_REQUIRE(child.status().has_value());
  BOOST_TEST(*child.status() == status); // kept once reaped
  BOOST_TEST_REQUIRE(child.try_wait().has_value());
  BOOST_TEST(*child.try_wait() == status);
}

BOOST_AUTO_TEST_CASE(binary_without_slash_is_searched_in_path) {
  tr::spawn_options options;
  options.binary = "sh";
  options.args = {"-c", "exit 7"};
  auto child = spawn(options);
  BOOST_TEST(wait_exit(child).code == 7);
}

BOOST_AUTO_TEST_CASE(sigkill_is_reported_as_signal_9_by_wait_for) {
  auto child = spawn(probe({"hang"}));
  BOOST_TEST(child.running());
  BOOST_TEST(!child.try_wait().has_value());
  BOOST_TEST(!child.status().has_value());
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  const auto status = wait_exit(child);
  BOOST_TEST(status.signaled);
  BOOST_TEST(status.signal == SIGKILL);
  BOOST_TEST(!status.core_dumped);
  BOOST_TEST(status.describe() == "signal 9 (SIGKILL)");
  BOOST_TEST(child.send_signal(SIGKILL).has_value()); // no-op once reaped
}

BOOST_AUTO_TEST_CASE(killed_childs_pidfd_becomes_readable) {
  auto child = spawn(probe({"hang"}));
  pollfd entry{child.pidfd(), POLLIN, 0};
  BOOST_TEST(::poll(&entry, 1, 0) == 0); // alive: not readable
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  entry.revents = 0;
  BOOST_TEST_REQUIRE(::poll(&entry, 1, hang_bound_ms) == 1);
  BOOST_TEST((entry.revents & POLLIN) != 0);
  // Exited but not reaped yet: not running, no status until someone reaps.
  BOOST_TEST(!child.running());
  BOOST_TEST(!child.status().has_value());
  const auto status = child.try_wait();
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status->signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(wait_for_reports_timeout_while_child_runs) {
  auto child = spawn(probe({"hang"}));
  const auto status = child.wait_for(10ms);
  BOOST_TEST_REQUIRE(!status.has_value());
  BOOST_TEST(status.error().code == tr::errc::timeout);
  BOOST_TEST(child.running());
}

BOOST_AUTO_TEST_CASE(spawn_of_missing_binary_fails_with_spawn_failed) {
  tr::spawn_options options;
  options.binary = "/nonexistent/cellhub-no-such-cell";
  const auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(!child.has_value());
  BOOST_TEST(child.error().code == tr::errc::spawn_failed);
  BOOST_TEST(child.error().sys_errno == ENOENT);
  BOOST_TEST(child.error().detail.find(options.binary) != std::string::npos,
             child.error().message());
}

BOOST_AUTO_TEST_CASE(spawn_of_missing_binary_in_path_fails_with_spawn_failed) {
  tr::spawn_options options;
  options.binary = "cellhub-no-such-cell-in-path";
  const auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(!child.has_value());
  BOOST_TEST(child.error().code == tr::errc::spawn_failed);
  BOOST_TEST(child.error().sys_errno == ENOENT);
}

BOOST_AUTO_TEST_CASE(spawn_of_non_executable_file_fails_with_spawn_failed) {
  tr::spawn_options options;
  options.binary = "/etc/passwd";
  const auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(!child.has_value());
  BOOST_TEST(child.error().code == tr::errc::spawn_failed);
  BOOST_TEST(child.error().sys_errno == EACCES);
}

BOOST_AUTO_TEST_CASE(spawn_rejects_unusable_options) {
  const auto code_of = [](const tr::spawn_options& options) {
    auto child = tr::process::spawn(options);
    return child ? std::string{"spawned"} : std::string{tr::to_string(child.error().code)};
  };
  BOOST_TEST(code_of(tr::spawn_options{}) == "invalid_argument"); // empty binary
  auto bad_env = probe({"exit", "0"});
  bad_env.env = {{"A=B", "c"}};
  BOOST_TEST(code_of(bad_env) == "invalid_argument");
  bad_env.env = {{"", "c"}};
  BOOST_TEST(code_of(bad_env) == "invalid_argument");
  owned_pipe pipe;
  auto onto_stdio = probe({"exit", "0"});
  onto_stdio.inherit = {{pipe.write_end, 1}};
  BOOST_TEST(code_of(onto_stdio) == "invalid_argument");
  auto closed_fd = probe({"exit", "0"});
  closed_fd.inherit = {{pipe.write_end, 3}};
  pipe.close_write_end();
  BOOST_TEST(code_of(closed_fd) == "invalid_argument");
}

BOOST_AUTO_TEST_CASE(only_stdio_reaches_a_child_without_inherited_fd) {
  // An fd the host forgot to make close-on-exec must not leak either.
  const int leaky = ::open("/dev/null", O_RDONLY);
  BOOST_TEST_REQUIRE(leaky >= 0);
  std::string expected = open_stdio();
  expected.pop_back(); // trailing comma
  auto child = spawn(probe({"fds", expected}));
  const auto status = wait_exit(child);
  BOOST_TEST(status.clean(), status.describe() << " (expected fds " << expected << ")");
  ::close(leaky);
}

BOOST_AUTO_TEST_CASE(only_the_inherited_fd_reaches_the_child_at_fd_3) {
  const int leaky = ::open("/dev/null", O_RDONLY); // not close-on-exec on purpose
  BOOST_TEST_REQUIRE(leaky >= 0);
  owned_pipe report;
  expect_only_inherited_fd(report, report.write_end, 3);
  ::close(leaky);
}

BOOST_AUTO_TEST_CASE(inherited_fd_gets_the_requested_number) {
  owned_pipe report;
  expect_only_inherited_fd(report, report.write_end, 9);
}

BOOST_AUTO_TEST_CASE(inherited_fd_already_at_the_requested_number_stays_open) {
  // The dup2(fd, fd) case: FD_CLOEXEC must still be cleared in the child.
  owned_pipe report;
  const int high = ::fcntl(report.write_end, F_DUPFD_CLOEXEC, 20);
  BOOST_TEST_REQUIRE(high >= 20);
  report.close_write_end();
  report.write_end = high;
  expect_only_inherited_fd(report, high, high);
}

BOOST_AUTO_TEST_CASE(child_gets_empty_signal_mask_and_default_dispositions) {
  // Disturb both in the spawning thread; the child must not inherit either.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  BOOST_TEST_REQUIRE(::sigaction(SIGPIPE, &ignore, &old_pipe) == 0);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigset_t old_mask;
  BOOST_TEST_REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old_mask) == 0);
  auto child = tr::process::spawn(probe({"signals"}));
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  const auto status = wait_exit(child.value());
  BOOST_TEST(status.clean(), status.describe());
}

BOOST_AUTO_TEST_CASE(env_overrides_are_visible_in_the_child) {
  BOOST_TEST_REQUIRE(::setenv("CELLHUB_PROBE_HOST_ONLY", "host", 1) == 0);
  BOOST_TEST_REQUIRE(::setenv("CELLHUB_PROBE_OVERRIDDEN", "host", 1) == 0);
  const auto check = [](std::string name, std::string value) {
    auto options = probe({"env", name, value});
    options.env = {{"CELLHUB_PROBE_OVERRIDDEN", "first"},
                   {"CELLHUB_PROBE_NEW", "new"},
                   {"CELLHUB_PROBE_OVERRIDDEN", "cell"}};
    auto child = spawn(options);
    return wait_exit(child);
  };
  BOOST_TEST(check("CELLHUB_PROBE_OVERRIDDEN", "cell").clean()); // last override wins
  BOOST_TEST(check("CELLHUB_PROBE_NEW", "new").clean());
  BOOST_TEST(check("CELLHUB_PROBE_HOST_ONLY", "host").clean()); // host env passes through
  ::unsetenv("CELLHUB_PROBE_HOST_ONLY");
  ::unsetenv("CELLHUB_PROBE_OVERRIDDEN");
}

BOOST_AUTO_TEST_CASE(destroying_a_running_process_kills_and_reaps_it) {
  pid_t pid = -1;
  {
    auto child = spawn(probe({"hang"}));
    pid = child.pid();
    BOOST_TEST(child.running());
  }
  BOOST_TEST(is_reaped(pid));
}

BOOST_AUTO_TEST_CASE(assigning_over_a_running_process_kills_and_reaps_it) {
  auto child = spawn(probe({"hang"}));
  const pid_t first = child.pid();
  child = spawn(probe({"exit", "0"}));
  BOOST_TEST(is_reaped(first));
  BOOST_TEST(child.pid() != first);
  BOOST_TEST(wait_exit(child).clean());
}

BOOST_AUTO_TEST_CASE(moved_from_process_is_empty) {
  auto child = spawn(probe({"exit", "0"}));
  const pid_t pid = child.pid();
  tr::process moved{std::move(child)};
  BOOST_TEST(child.pid() == -1); // NOLINT(bugprone-use-after-move): specified state
  BOOST_TEST(child.pidfd() == -1);
  BOOST_TEST(!child.running());
  BOOST_TEST(!child.wait_for(0ns).has_value());
  BOOST_TEST(moved.pid() == pid);
  BOOST_TEST(wait_exit(moved).clean());
}

BOOST_AUTO_TEST_CASE(killed_cell_hangs_up_its_doorbell_without_any_signal) {
  auto pair = tr::doorbell::create_pair();
  BOOST_TEST_REQUIRE(pair.has_value());
  auto [host, cell] = std::move(pair).value();
  auto options = probe({"hang"});
  options.inherit = {{cell.fd(), 3}};
  auto child = spawn(options);
  cell.close(); // from now on only the child holds the cell end
  BOOST_TEST(!host.hung_up());
  BOOST_TEST(host.wait(0ns) == tr::doorbell::wait_result::timeout);

  const auto killed_at = std::chrono::steady_clock::now();
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  BOOST_TEST(host.wait(hang_bound) == tr::doorbell::wait_result::peer_dead);
  const auto seen_after = std::chrono::steady_clock::now() - killed_at;
  BOOST_TEST_MESSAGE("doorbell hang-up seen "
                     << std::chrono::duration_cast<std::chrono::microseconds>(seen_after).count()
                     << " us after SIGKILL");
  BOOST_TEST(host.hung_up());
  BOOST_TEST(host.signal() == tr::signal_result::peer_dead);
  const auto status = wait_exit(child);
  BOOST_TEST(status.signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(cell_rings_the_host_through_an_inherited_doorbell) {
  auto pair = tr::doorbell::create_pair();
  BOOST_TEST_REQUIRE(pair.has_value());
  auto [host, cell] = std::move(pair).value();
  auto options = probe({"ring"});
  options.inherit = {{cell.fd(), 3}};
  auto child = spawn(options);
  cell.close();
  BOOST_TEST(host.wait(hang_bound) == tr::doorbell::wait_result::rang);
  BOOST_TEST(host.drain() == tr::doorbell::drain_result::drained);
  host.close(); // the probe exits cleanly once the host end hangs up
  BOOST_TEST(wait_exit(child).clean());
}

BOOST_AUTO_TEST_CASE(child_leads_a_process_group_of_its_own) {
  owned_pipe report;
  auto options = probe({"pgid", "3"});
  options.inherit = {{report.write_end, 3}};
  auto child = spawn(options);
  const std::string seen = report.read_all(hang_bound);
  BOOST_TEST(wait_exit(child).clean());
  const auto expected = std::to_string(child.pid()) + " " + std::to_string(child.pid()) + "\n";
  BOOST_TEST(seen == expected);
  BOOST_TEST(::getpgrp() != child.pid());
}

BOOST_AUTO_TEST_CASE(background_grandchild_dies_when_the_killed_child_is_reaped) {
  tr::process child;
  const int grandchild = spawn_with_grandchild(child, "hang");
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  BOOST_TEST(wait_exit(child).signal == SIGKILL);
  BOOST_TEST(exits_in_time(grandchild));
}

BOOST_AUTO_TEST_CASE(background_grandchild_dies_when_the_child_exits_by_itself) {
  tr::process child;
  const int grandchild = spawn_with_grandchild(child, "exit");
  BOOST_TEST(wait_exit(child).clean());
  BOOST_TEST(exits_in_time(grandchild));
}

BOOST_AUTO_TEST_CASE(background_grandchild_dies_when_try_wait_sees_the_exit) {
  tr::process child;
  const int grandchild = spawn_with_grandchild(child, "exit");
  // Wait on the pidfd ourselves, as the doorbell watcher does, then let try_wait reap.
  pollfd entry{child.pidfd(), POLLIN, 0};
  BOOST_TEST_REQUIRE(::poll(&entry, 1, hang_bound_ms) == 1);
  const auto status = child.try_wait();
  BOOST_TEST_REQUIRE(status.has_value());
  BOOST_TEST(status->clean());
  BOOST_TEST(exits_in_time(grandchild));
}

BOOST_AUTO_TEST_CASE(background_grandchild_dies_when_the_handle_is_dropped) {
  int grandchild = -1;
  {
    tr::process child;
    grandchild = spawn_with_grandchild(child, "hang");
    BOOST_TEST(child.running());
  }
  BOOST_TEST(exits_in_time(grandchild));
}

BOOST_AUTO_TEST_SUITE_END()
