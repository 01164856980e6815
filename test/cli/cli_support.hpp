#pragma once

// What the cellhub CLI tests share: a scratch directory, running the cellhub program
// (to the end, or in the background with its output in a file), reading its events
// file, and waiting on files with a deadline instead of sleeping.

#include "hub_path.hpp"
#include "loopback.hpp"
#include "scratch_dir.hpp"

#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace cellhub::test::cli {

namespace fs = std::filesystem;
namespace tr = cellhub::transport;
using clock_type = std::chrono::steady_clock;

/// Holds a directory of its own for one test (mode 0700), removed afterwards.
struct scratch : cellhub::test::scratch_dir {
  scratch()
      : scratch_dir{"cellhub-cli"} {}
};

using cellhub::test::free_port;

/// Returns the demo cell next to the cellhub binary under test.
inline std::string demo_cell_path() {
  return (fs::path{CELLHUB_PATH}.parent_path() / "cellhub-demo-cell").string();
}

/// Returns the text of a `[[cell]]` table (or `[[group.cell]]`, per `header`) running
/// the demo cell with `args` (TOML array items, e.g. `"--crash-after", "300ms"`) and
/// `extra` keys.
inline std::string cell_toml(const std::string& name, const std::string& args = {},
                             const std::string& extra = {},
                             const std::string& header = "[[cell]]") {
  return header + "\nname = \"" + name + "\"\nbinary = \"cellhub-demo-cell\"\nargs = [" + args +
         "]\nstart_timeout = \"10s\"\n" + extra;
}

/// Returns the head of a configuration: version, hub at `hub_path`, root settings.
inline std::string head_toml(const std::string& hub_path, const std::string& root_settings = {},
                             const std::string& hub_settings = {}) {
  return "version = 1\n[hub]\npath = \"" + hub_path + "\"\n" + hub_settings + "[supervisor]\n" +
         root_settings;
}

/// Runs a shell command to its end; returns its exit code and everything it printed.
inline std::pair<int, std::string> run_capture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// Quotes `word` for /bin/sh.
inline std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (const char c : word)
    out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return out + "'";
}

/// Runs `cellhub ARGS...` to its end (through /bin/sh, after `prefix`, e.g. a ulimit);
/// returns its exit code and everything it printed.
inline std::pair<int, std::string> run_cellhub(const std::vector<std::string>& args,
                                               const std::string& prefix = {}) {
  std::string command = prefix + " exec " + shell_quote(CELLHUB_PATH);
  for (const auto& arg : args)
    command += " " + shell_quote(arg);
  return run_capture(command);
}

/// Starts `cellhub ARGS...` in the background with its stdout and stderr in `output`;
/// the process handle's pid is cellhub's (the shell execs it).
inline tr::process spawn_cellhub(const std::vector<std::string>& args, const fs::path& output) {
  std::vector<std::string> sh_args = {"-c", "exec \"$0\" \"$@\" >\"$CELLHUB_TEST_OUTPUT\" 2>&1",
                                      CELLHUB_PATH};
  sh_args.insert(sh_args.end(), args.begin(), args.end());
  auto spawned = tr::process::spawn(
      {.binary = "/bin/sh", .args = sh_args, .env = {{"CELLHUB_TEST_OUTPUT", output.string()}}});
  BOOST_TEST_REQUIRE(spawned.has_value());
  return std::move(spawned).value();
}

/// Returns a file's whole text (empty if it cannot be read).
inline std::string read_text(const fs::path& file) {
  std::ifstream in{file};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// Reads a JSON-lines events file.
inline std::vector<nlohmann::json> read_events(const fs::path& file) {
  std::vector<nlohmann::json> events;
  std::ifstream in{file};
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      events.push_back(nlohmann::json::parse(line));
  return events;
}

/// Waits (inotify on its directory, with a deadline) until `done()` holds; returns
/// whether it did. `done` reads whatever files it needs.
template <class Done>
bool wait_until(const fs::path& dir, Done done, std::chrono::seconds limit) {
  const int watch = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ::inotify_add_watch(watch, dir.c_str(), IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE);
  const auto deadline = clock_type::now() + limit;
  bool ok = false;
  while (!(ok = done()) && clock_type::now() < deadline) {
    pollfd pfd{watch, POLLIN, 0};
    ::poll(&pfd, 1, 1000);
    std::array<char, 4096> drain{};
    while (::read(watch, drain.data(), drain.size()) > 0) {
    }
  }
  ::close(watch);
  return ok;
}

/// Waits until `done` holds for the events in `file`.
template <class Done>
bool wait_for_events(const fs::path& file, Done done, std::chrono::seconds limit) {
  return wait_until(
      file.parent_path(), [&] { return done(read_events(file)); }, limit);
}

/// Waits until `file` holds `text`.
inline bool wait_for_text(const fs::path& file, const std::string& text,
                          std::chrono::seconds limit) {
  return wait_until(
      file.parent_path(), [&] { return read_text(file).find(text) != std::string::npos; }, limit);
}

/// Counts the events of `kind` (of `name`, if given).
inline std::size_t count(const std::vector<nlohmann::json>& events, const std::string& kind,
                         const std::string& name = {}) {
  std::size_t n = 0;
  for (const auto& e : events)
    n += e["event"] == kind && (name.empty() || e["name"] == name) ? 1 : 0;
  return n;
}

/// Tells whether no process has this pid any more.
inline bool process_gone(int pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

} // namespace cellhub::test::cli
