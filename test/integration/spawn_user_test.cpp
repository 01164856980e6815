// spawn_options::user: a child started as another user, checked from outside
// (/proc/PID/status) and from inside (it cannot signal the host), and the errors of a
// host without the privilege. Most cases need root; they are skipped, saying why,
// otherwise.
#include "owned_pipe.hpp"
#include "scratch_dir.hpp"

#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifndef USER_PROBE_PATH
#error "USER_PROBE_PATH must name the user_probe helper executable"
#endif
#ifndef SPAWN_PROBE_PATH
#error "SPAWN_PROBE_PATH must name the spawn_probe helper executable"
#endif

namespace tr = cellhub::transport;
namespace utf = boost::unit_test;
using cellhub::test::owned_pipe;
using namespace std::chrono_literals;

namespace {

// Only catches hangs: every wait below is expected to end much sooner.
constexpr auto hang_bound = 10s;

// Names the account the tests drop to: `nobody` (65534 on Debian).
struct account {
  uid_t uid = 65534;
  gid_t gid = 65534;
};

account nobody() {
  account found;
  if (const passwd* pw = ::getpwnam("nobody"); pw != nullptr) {
    found.uid = pw->pw_uid;
    found.gid = pw->pw_gid;
  }
  return found;
}

// Returns why `who` cannot execute `binary` (a directory on the way it cannot enter,
// or the file itself), or nothing if it can. Judged from the mode bits.
std::optional<std::string> unreachable_for(const account& who,
                                           const std::filesystem::path& binary) {
  std::filesystem::path step;
  for (const auto& part : std::filesystem::absolute(binary)) {
    step /= part;
    struct stat st {};
    if (::stat(step.c_str(), &st) != 0)
      return step.string() + " does not exist";
    const bool can = st.st_uid == who.uid   ? (st.st_mode & S_IXUSR) != 0
                     : st.st_gid == who.gid ? (st.st_mode & S_IXGRP) != 0
                                            : (st.st_mode & S_IXOTH) != 0;
    if (!can) {
      std::ostringstream why;
      why << "uid " << who.uid << " cannot " << (S_ISDIR(st.st_mode) ? "enter " : "execute ")
          << step.string() << " (mode 0" << std::oct << (st.st_mode & 07777)
          << "): build in a tree every user can reach to run this test";
      return why.str();
    }
  }
  return std::nullopt;
}

// Is a precondition: the test runs as root (only root may start a child as another
// user) and `nobody` can execute both probes.
boost::test_tools::assertion_result root_and_probes_reachable(utf::test_unit_id) {
  if (::geteuid() != 0) {
    boost::test_tools::assertion_result skip{false};
    skip.message() << "skipped: starting a child as another user needs root; this test runs as "
                      "uid "
                   << ::geteuid();
    return skip;
  }
  for (const char* probe : {USER_PROBE_PATH, SPAWN_PROBE_PATH})
    if (auto why = unreachable_for(nobody(), probe)) {
      boost::test_tools::assertion_result skip{false};
      skip.message() << "skipped: " << *why;
      return skip;
    }
  return true;
}

// Is a precondition: an unprivileged host is at hand (this one, or, as root, a probe
// started as `nobody`).
boost::test_tools::assertion_result unprivileged_host_at_hand(utf::test_unit_id id) {
  if (::geteuid() != 0)
    return true;
  return root_and_probes_reachable(id);
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

// Returns the numbers after `field:` in /proc/PID/status ("Uid", "Gid", "Groups").
std::string status_field(pid_t pid, const std::string& field) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field + ":")) {
      std::istringstream values{line.substr(field.size() + 1)};
      std::string joined;
      for (std::string value; values >> value;)
        joined += (joined.empty() ? "" : " ") + value;
      return joined;
    }
  return "(no " + field + " line for pid " + std::to_string(pid) + ")";
}

std::string repeated(unsigned id, int times) {
  std::string text;
  for (int i = 0; i < times; ++i)
    text += (i == 0 ? "" : " ") + std::to_string(id);
  return text;
}

tr::spawn_identity as_nobody() {
  const auto who = nobody();
  return {.uid = who.uid, .gid = who.gid, .groups = {who.gid}};
}

} // namespace

BOOST_AUTO_TEST_SUITE(spawn_user)

BOOST_AUTO_TEST_CASE(child_started_as_nobody_has_only_nobodys_ids_and_cannot_signal_the_host,
                     *utf::precondition(root_and_probes_reachable)) {
  const auto who = nobody();
  owned_pipe report;
  tr::spawn_options options{.binary = USER_PROBE_PATH,
                            .args = {"identity", "3", std::to_string(::getpid())},
                            .inherit = {{report.write_end, 3}}};
  options.user = as_nobody();
  auto child = spawn(options);
  const auto seen = report.read_all(hang_bound); // the probe reports, then blocks
  BOOST_TEST(seen == "kill=" + std::to_string(EPERM) + "\n");
  // Real, effective, saved and filesystem ids, and the one supplementary group asked for.
  BOOST_TEST(status_field(child.pid(), "Uid") == repeated(who.uid, 4));
  BOOST_TEST(status_field(child.pid(), "Gid") == repeated(who.gid, 4));
  BOOST_TEST(status_field(child.pid(), "Groups") == std::to_string(who.gid));
  BOOST_TEST(child.running());
  // The host (root) still ends it like any cell.
  BOOST_TEST_REQUIRE(child.send_signal(SIGKILL).has_value());
  BOOST_TEST(wait_exit(child).signal == SIGKILL);
}

BOOST_AUTO_TEST_CASE(spawn_as_another_user_without_the_privilege_fails_and_says_why,
                     *utf::precondition(unprivileged_host_at_hand)) {
  std::string seen;
  if (::geteuid() == 0) {
    // A host without the privilege: the probe, started as nobody, spawns as root.
    owned_pipe report;
    tr::spawn_options options{.binary = USER_PROBE_PATH,
                              .args = {"spawn-as", "3", "0", "0", "/bin/true"},
                              .inherit = {{report.write_end, 3}}};
    options.user = as_nobody();
    auto child = spawn(options);
    seen = report.read_all(hang_bound);
    BOOST_TEST(wait_exit(child).clean());
  } else {
    tr::spawn_options options{.binary = "/bin/true"};
    options.user = tr::spawn_identity{.uid = 0, .gid = 0};
    auto child = tr::process::spawn(options);
    BOOST_TEST_REQUIRE(!child.has_value());
    seen = std::string{tr::to_string(child.error().code)} + " " +
           std::to_string(child.error().sys_errno) + " " + child.error().message() + "\n";
  }
  BOOST_TEST_MESSAGE("unprivileged spawn: " << seen);
  BOOST_TEST(seen.starts_with("spawn_failed " + std::to_string(EPERM) + " "), seen);
  BOOST_TEST(seen.find("setgroups refused") != std::string::npos, seen);
  BOOST_TEST(seen.find("CAP_SETUID and CAP_SETGID") != std::string::npos, seen);
  BOOST_TEST(seen.find("/bin/true as uid 0 gid 0") != std::string::npos, seen);
}

BOOST_AUTO_TEST_CASE(binary_the_user_cannot_reach_fails_with_eacces_from_exec,
                     *utf::precondition(root_and_probes_reachable)) {
  // Root can enter the 0700 scratch directory; nobody cannot, so the exec is refused
  // only because the child dropped its privilege first.
  const cellhub::test::scratch_dir scratch{"cellhub-spawn-user"};
  const auto binary = scratch.dir / "true";
  std::filesystem::create_symlink("/bin/true", binary);
  tr::spawn_options options{.binary = binary.string()};
  auto as_root = spawn(options);
  BOOST_TEST(wait_exit(as_root).clean());

  options.user = as_nobody();
  const auto child = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(!child.has_value());
  BOOST_TEST(child.error().code == tr::errc::spawn_failed);
  BOOST_TEST(child.error().sys_errno == EACCES);
  BOOST_TEST(child.error().detail.find("execve failed") != std::string::npos,
             child.error().message());
  BOOST_TEST(child.error().detail.find(binary.string()) != std::string::npos,
             child.error().message());
}

BOOST_AUTO_TEST_CASE(child_started_as_another_user_gets_only_stdio_and_its_inherited_fds,
                     *utf::precondition(root_and_probes_reachable)) {
  const int leaky = ::open("/dev/null", O_RDONLY); // not close-on-exec on purpose
  BOOST_TEST_REQUIRE(leaky >= 0);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  BOOST_TEST_REQUIRE(null_fd >= 0);
  owned_pipe report;
  std::string expected;
  for (int fd = 0; fd < 3; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0)
      expected += std::to_string(fd) + ",";
  expected += "4,7";
  tr::spawn_options options{.binary = SPAWN_PROBE_PATH,
                            .args = {"fds", expected, "7"},
                            .inherit = {{report.write_end, 7}, {null_fd, 4}}};
  options.user = as_nobody();
  auto child = spawn(options);
  BOOST_TEST(report.read_all(hang_bound) == expected + "\n");
  const auto status = wait_exit(child);
  BOOST_TEST(status.clean(), status.describe());
  ::close(null_fd);
  ::close(leaky);
}

BOOST_AUTO_TEST_CASE(child_started_as_another_user_gets_empty_mask_and_default_dispositions,
                     *utf::precondition(root_and_probes_reachable)) {
  // Disturb both in the spawning thread; the child must not inherit either, and a
  // handler of the host must not survive into the child.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_pipe {};
  BOOST_TEST_REQUIRE(::sigaction(SIGPIPE, &ignore, &old_pipe) == 0);
  struct sigaction handler {};
  handler.sa_handler = [](int) {};
  struct sigaction old_int {};
  BOOST_TEST_REQUIRE(::sigaction(SIGINT, &handler, &old_int) == 0);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigset_t old_mask;
  BOOST_TEST_REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old_mask) == 0);
  tr::spawn_options options{.binary = SPAWN_PROBE_PATH, .args = {"signals"}};
  options.user = as_nobody();
  auto child = tr::process::spawn(options);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  BOOST_TEST_REQUIRE(child.has_value(), (child ? "" : child.error().message()));
  const auto status = wait_exit(child.value());
  BOOST_TEST(status.clean(), status.describe());
}

BOOST_AUTO_TEST_CASE(child_started_as_another_user_leads_a_group_and_is_found_in_path,
                     *utf::precondition(root_and_probes_reachable)) {
  // The host's PATH is searched, as the user would: an entry it cannot enter (say
  // /root/.local/bin) turns a missing binary into EACCES, as execvp does. A PATH of
  // directories everyone can enter makes the answer ENOENT here.
  struct restore_path {
    std::optional<std::string> value;
    ~restore_path() {
      if (value)
        ::setenv("PATH", value->c_str(), 1);
      else
        ::unsetenv("PATH");
    }
  } restore;
  if (const char* path = std::getenv("PATH"))
    restore.value = path;
  BOOST_TEST_REQUIRE(::setenv("PATH", "/usr/bin:/bin", 1) == 0);
  // Field 5 of /proc/PID/stat is the process group.
  tr::spawn_options options{
      .binary = "sh", .args = {"-c", "set -- $(cat /proc/$$/stat); test \"$5\" = $$ && exit 7"}};
  options.user = as_nobody();
  auto child = spawn(options);
  BOOST_TEST(wait_exit(child).code == 7);

  options.binary = "cellhub-no-such-cell-in-path";
  const auto missing = tr::process::spawn(options);
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().code == tr::errc::spawn_failed);
  BOOST_TEST(missing.error().sys_errno == ENOENT);
}

BOOST_AUTO_TEST_CASE(spawn_identity_with_an_id_of_minus_one_is_rejected) {
  const auto code_of = [](tr::spawn_identity user) {
    tr::spawn_options options{.binary = "/bin/true"};
    options.user = std::move(user);
    auto child = tr::process::spawn(options);
    return child ? std::string{"spawned"} : std::string{tr::to_string(child.error().code)};
  };
  BOOST_TEST(code_of({.uid = static_cast<uid_t>(-1), .gid = 0}) == "invalid_argument");
  BOOST_TEST(code_of({.uid = 0, .gid = static_cast<gid_t>(-1)}) == "invalid_argument");
  BOOST_TEST(code_of({.uid = 0, .gid = 0, .groups = {static_cast<gid_t>(-1)}}) ==
             "invalid_argument");
}

BOOST_AUTO_TEST_SUITE_END()
