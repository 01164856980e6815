// The cellhub program with cells that run as a user of their own (a [[cell]]'s `user`):
// `run` starts such a cell under that user's ids, it answers the demo load, and a SIGKILL
// brings it back under the same ids; `check` (and so `run`) refuses such a cell when
// cellhub itself lacks the privilege (run as another user, or as root without
// CAP_SETUID), and accepts the user cellhub already runs as. Changing users needs root,
// so every test here is skipped, and says so, unless it runs as root.
#include "cli_support.hpp"
#include "run_as_user.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>

#include <linux/capability.h>

#include <functional>

using namespace cellhub::test::cli;
using cellhub::test::test_account;
using namespace std::chrono_literals;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

test_account nobody() {
  const auto account = cellhub::test::nobody_account();
  BOOST_TEST_REQUIRE(account.has_value(), "the user database has no user \"nobody\"");
  return *account;
}

// Runs `cellhub ARGS...` to its end in a child that first changes who it is with `become`
// (raw system calls only: it runs between fork and exec); returns the exit code and
// everything cellhub printed. A `become` that fails makes the child exit 120.
std::pair<int, std::string> run_cellhub_after(const std::function<bool()>& become,
                                              const std::vector<std::string>& args) {
  std::vector<std::string> words = {CELLHUB_PATH};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words)
    argv.push_back(word.data());
  argv.push_back(nullptr);
  int out[2];
  BOOST_TEST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    if (::dup2(out[1], 1) < 0 || ::dup2(out[1], 2) < 0 || !become())
      ::_exit(120);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string output;
  std::array<char, 4096> buffer{};
  for (ssize_t n; (n = ::read(out[0], buffer.data(), buffer.size())) != 0;) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      break;
    output.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST_REQUIRE(WIFEXITED(status), output);
  return {WEXITSTATUS(status), output};
}

// Makes the child `account`, with its own group only.
std::function<bool()> become(const test_account& account) {
  return [account] {
    const gid_t groups[] = {account.gid};
    return ::setgroups(1, groups) == 0 && ::setgid(account.gid) == 0 && ::setuid(account.uid) == 0;
  };
}

// Keeps the child root but takes CAP_SETUID and CAP_SETGID out of its bounding set, so
// that the program it execs never has them (as in a container that dropped them).
bool drop_setid_capabilities() {
  return ::prctl(PR_CAPBSET_DROP, CAP_SETUID, 0, 0, 0) == 0 &&
         ::prctl(PR_CAPBSET_DROP, CAP_SETGID, 0, 0, 0) == 0;
}

// A scratch directory `account` can read, with a config of one demo cell that has `keys`.
struct readable_config {
  scratch tmp;
  std::string hub_path;
  fs::path file;

  readable_config(const std::string& name, const std::string& keys)
      : hub_path{cellhub::test::unique_hub_path(name)} {
    fs::permissions(tmp.dir,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::replace);
    file = tmp.write("cluster.toml", head_toml(hub_path) + cell_toml("w", {}, keys));
    fs::permissions(file,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                        fs::perms::others_read,
                    fs::perm_options::replace);
  }
};

// Fails the test, saying why, unless `account` can run cellhub and the demo cell.
void require_reachable(const test_account& account) {
  for (const auto& binary : {std::string{CELLHUB_PATH}, demo_cell_path()}) {
    const auto why = cellhub::test::cannot_execute(account, binary);
    BOOST_TEST_REQUIRE(!why, why.value_or(""));
  }
}

// Reads "served=N failed=M" from the last status line `run --plain` printed.
std::pair<long, long> served_and_failed(const std::string& output) {
  const auto at = output.rfind("served=");
  if (at == std::string::npos)
    return {0, 0};
  long served = 0;
  long failed = 0;
  if (std::sscanf(output.c_str() + at, "served=%ld failed=%ld", &served, &failed) != 2)
    return {0, 0};
  return {served, failed};
}

std::vector<nlohmann::json> ready_of(const std::vector<nlohmann::json>& events,
                                     const std::string& name) {
  std::vector<nlohmann::json> out;
  for (const auto& e : events)
    if (e["event"] == "ready" && e["name"] == name)
      out.push_back(e);
  return out;
}

void expect_runs_as(int pid, const test_account& account) {
  const auto ids = cellhub::test::ids_of(pid);
  BOOST_TEST_REQUIRE(ids.has_value(), "no /proc/" << pid << "/status");
  BOOST_TEST(ids->uids == std::vector<uid_t>(4, account.uid), boost::test_tools::per_element());
  BOOST_TEST(ids->gids == std::vector<gid_t>(4, account.gid), boost::test_tools::per_element());
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cli_user,
                      *boost::unit_test::precondition(cellhub::test::runs_as_root))

BOOST_AUTO_TEST_CASE(run_starts_a_cell_as_its_user_and_restarts_it_as_that_user_after_sigkill) {
  const auto account = nobody();
  require_reachable(account);
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-user-run");
  const auto config = tmp.write(
      "cluster.toml",
      head_toml(hub_path, "max_restarts = 10\nperiod = \"10s\"\n") +
          cell_toml("w", {},
                    "user = \"nobody\"\nbackoff = { min = \"0s\", max = \"1s\", jitter = 0.0 }\n") +
          // A generous reply timeout: a slow reply on a busy machine is not what is tested.
          "[load]\nrate = 50\ntimeout = \"30s\"\n");
  const auto events_file = tmp.dir / "events.jsonl";
  const auto output = tmp.dir / "output.txt";
  auto cellhub =
      spawn_cellhub({"run", config.string(), "--events", events_file.string(), "--plain"}, output);

  BOOST_TEST_REQUIRE(wait_for_events(
      events_file, [](const auto& events) { return ready_of(events, "w").size() >= 1; }, 60s));
  const int first = ready_of(read_events(events_file), "w").front()["pid"].get<int>();
  expect_runs_as(first, account);
  // It answers the demo load correctly (the load checks every reply).
  BOOST_TEST_REQUIRE(
      wait_until(
          tmp.dir, [&] { return served_and_failed(read_text(output)).first >= 5; }, 60s),
      read_text(output));
  BOOST_TEST(served_and_failed(read_text(output)).second == 0, read_text(output));

  const auto served_before = served_and_failed(read_text(output)).first;
  BOOST_TEST_REQUIRE(::kill(first, SIGKILL) == 0);
  BOOST_TEST_REQUIRE(wait_for_events(
      events_file, [](const auto& events) { return ready_of(events, "w").size() >= 2; }, 60s));
  const int second = ready_of(read_events(events_file), "w").at(1)["pid"].get<int>();
  BOOST_TEST(second != first);
  expect_runs_as(second, account);
  BOOST_TEST_REQUIRE(
      wait_until(
          tmp.dir, [&] { return served_and_failed(read_text(output)).first >= served_before + 5; },
          60s),
      read_text(output));

  BOOST_TEST_REQUIRE(cellhub.send_signal(SIGTERM).has_value());
  auto exit = cellhub.wait_for(60s);
  BOOST_TEST_REQUIRE(exit.has_value());
  BOOST_TEST(exit.value().clean(), exit.value().describe() << "\n" << read_text(output));
}

BOOST_AUTO_TEST_CASE(check_by_a_user_without_privilege_refuses_a_cell_of_another_user_with_exit_2) {
  const auto account = nobody();
  require_reachable(account);
  readable_config config{"cli-user-refused", "user = \"root\"\n"};
  auto [code, output] = run_cellhub_after(become(account), {"check", config.file.string()});
  BOOST_TEST(code == 2, output);
  BOOST_TEST(has(output, config.file.string() +
                             ":10:8: cell[1].user: cell \"w\" wants to run as "
                             "user root (0); that needs root (or "
                             "CAP_SETUID/CAP_SETGID), and this cellhub runs as " +
                             account.name + " (" + std::to_string(account.uid) + ") without them"),
             output);
  BOOST_TEST(!fs::exists(config.hub_path));
}

BOOST_AUTO_TEST_CASE(check_by_root_without_cap_setuid_refuses_a_cell_of_another_user) {
  require_reachable(nobody());
  readable_config config{"cli-user-nocap", "user = \"nobody\"\n"};
  auto [code, output] = run_cellhub_after(drop_setid_capabilities, {"check", config.file.string()});
  BOOST_TEST(code == 2, output);
  BOOST_TEST(has(output, "wants to run as user nobody"), output);
  BOOST_TEST(has(output, "that needs root (or CAP_SETUID/CAP_SETGID), and this cellhub runs as "
                         "root (0) without them"),
             output);
}

BOOST_AUTO_TEST_CASE(check_by_a_user_without_privilege_accepts_its_own_user) {
  const auto account = nobody();
  require_reachable(account);
  readable_config config{"cli-user-own", "user = \"" + account.name + "\"\n"};
  auto [code, output] = run_cellhub_after(become(account), {"check", config.file.string()});
  BOOST_TEST(code == 0, output);
  // Its own user is no change: the cell runs as cellhub runs, and the tree says nothing else.
  BOOST_TEST(!has(output, "user     "), output);
}

BOOST_AUTO_TEST_SUITE_END()
