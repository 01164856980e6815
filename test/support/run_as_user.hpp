#pragma once

// What the tests of cells that run as a user of their own share: the `nobody` account,
// a precondition that skips (visibly) unless the test runs as root, a real check that
// an account can execute a binary (every directory on the way included), and the ids a
// running process has (/proc/PID/status).

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace cellhub::test {

/// Describes an account a test runs something as.
struct test_account {
  /// Holds the login name.
  std::string name;
  /// Holds the user id.
  uid_t uid = 0;
  /// Holds the primary group id.
  gid_t gid = 0;
};

/// Returns the `nobody` account of the user database, or nothing if there is none.
inline std::optional<test_account> nobody_account() {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwnam_r("nobody", &pw, buffer.data(), buffer.size(), &found) != 0 || found == nullptr)
    return std::nullopt;
  return test_account{found->pw_name, found->pw_uid, found->pw_gid};
}

/// Is a Boost.Test precondition: the test runs only as root (only root may start a
/// process as another user); otherwise it is skipped, and the log says why.
inline boost::test_tools::assertion_result runs_as_root(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result root{::geteuid() == 0};
  root.message() << "skipped: starting a cell as another user needs root, and this test "
                    "runs as uid "
                 << ::geteuid();
  return root;
}

/// Runs `body` in a child process that has dropped to `account` (no supplementary
/// groups but its own group); returns the child's exit code, or -1 if it did not exit
/// (or could not drop). `body` must only make system calls: the child of a process with
/// threads may not take locks.
template <class Body>
int exit_code_as(const test_account& account, Body body) {
  const pid_t child = ::fork();
  if (child == 0) {
    const gid_t groups[] = {account.gid};
    if (::setgroups(1, groups) != 0 || ::setgid(account.gid) != 0 || ::setuid(account.uid) != 0)
      ::_exit(255);
    ::_exit(body());
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) == 255)
    return -1;
  return WEXITSTATUS(status);
}

/// Returns why `account` cannot run `binary`, or nothing if it can: the first directory
/// on the way it cannot enter, or the file itself. Asks the kernel as that account
/// (access(X_OK) in a child that has dropped to it), so modes, ACLs and mounts all count.
inline std::optional<std::string> cannot_execute(const test_account& account,
                                                 const std::filesystem::path& binary) {
  // Every prefix of the path, from the root directory (everyone's) to the binary.
  std::vector<std::string> paths;
  std::filesystem::path step;
  for (const auto& part : std::filesystem::absolute(binary)) {
    step /= part;
    paths.push_back(step.string());
  }
  // The child reports the index of the first step it cannot take, or 0 when all pass.
  const int failed = exit_code_as(account, [&paths] {
    for (std::size_t i = 1; i < paths.size() && i < 250; ++i)
      if (::access(paths[i].c_str(), X_OK) != 0)
        return static_cast<int>(i);
    return 0;
  });
  if (failed == 0)
    return std::nullopt;
  if (failed < 0)
    return "could not check: a child process could not drop to " + account.name;
  const auto& at = paths[static_cast<std::size_t>(failed)];
  const bool last = static_cast<std::size_t>(failed) + 1 == paths.size();
  std::ostringstream why;
  struct stat st {};
  const auto mode = ::stat(at.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  why << account.name << " (uid " << account.uid << ") cannot " << (last ? "execute " : "enter ")
      << at << " (mode 0" << std::oct << mode << std::dec << ", owner uid " << st.st_uid
      << "), so a cell started as " << account.name << " from " << binary.string()
      << " would fail to exec: "
      << (last ? "make it executable by others (chmod o+rx)"
               : "build in a tree every user can enter (chmod o+x on the directories on the "
                 "way)");
  return why.str();
}

/// Holds the ids of a running process, from /proc/PID/status.
struct process_ids {
  /// Holds the real, effective, saved and filesystem user ids.
  std::vector<uid_t> uids;
  /// Holds the real, effective, saved and filesystem group ids.
  std::vector<gid_t> gids;
  /// Holds the supplementary groups.
  std::vector<gid_t> groups;
};

/// Reads the ids of process `pid`; nothing if it is gone.
inline std::optional<process_ids> ids_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  if (!in)
    return std::nullopt;
  process_ids out;
  bool seen_uid = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields{line.substr(line.find(':') + 1)};
    std::vector<unsigned> values;
    for (unsigned v = 0; fields >> v;)
      values.push_back(v);
    if (line.starts_with("Uid:")) {
      seen_uid = true;
      out.uids.assign(values.begin(), values.end());
    } else if (line.starts_with("Gid:")) {
      out.gids.assign(values.begin(), values.end());
    } else if (line.starts_with("Groups:")) {
      out.groups.assign(values.begin(), values.end());
    }
  }
  if (!seen_uid)
    return std::nullopt;
  return out;
}

} // namespace cellhub::test
