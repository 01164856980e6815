// The cellhub program end to end: `run` with chaos, `status --json` over
// `--connect`, SIGTERM, `check`, bad configurations and a tree that gives up.
#include "hub_path.hpp"

#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <poll.h>
#include <set>
#include <sstream>
#include <string>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace tr = cellhub::transport;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// A directory of its own for one test, removed afterwards.
struct scratch {
  fs::path dir;
  scratch() {
    dir =
        fs::temp_directory_path() / ("cellhub-cli-" + std::to_string(::getpid()) + "-" +
                                     std::to_string(clock_type::now().time_since_epoch().count()));
    fs::create_directories(dir);
  }
  ~scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream{dir / name} << text;
    return dir / name;
  }
};

std::string cluster_toml(const std::string& hub_path, const std::string& extra = {}) {
  std::string text = "version = 1\n[hub]\npath = \"" + hub_path +
                     "\"\nmax_peers = 16\n[supervisor]\nstrategy = \"one_for_one\"\n"
                     "max_restarts = 1000\nperiod = \"10s\"\n[load]\nrate = 50\n";
  for (const char* name : {"w1", "w2", "w3"})
    text += std::string{"[[cell]]\nname = \""} + name +
            "\"\nbinary = \"cellhub-demo-cell\"\nstart_timeout = \"10s\"\n"
            "backoff = { min = \"0s\", max = \"1s\", jitter = 0.0 }\n";
  return text + extra;
}

// Runs a command, returns its exit code and everything it printed.
std::pair<int, std::string> run_capture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  BOOST_TEST_REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (auto n = std::fread(buffer.data(), 1, buffer.size(), pipe))
    out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<nlohmann::json> read_events(const fs::path& file) {
  std::vector<nlohmann::json> events;
  std::ifstream in{file};
  for (std::string line; std::getline(in, line);)
    if (!line.empty())
      events.push_back(nlohmann::json::parse(line));
  return events;
}

// Waits (inotify, with a deadline) until `done` holds for the events file.
template <class Done>
bool wait_for_events(const fs::path& file, Done done, std::chrono::seconds limit) {
  const int watch = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  ::inotify_add_watch(watch, file.parent_path().c_str(), IN_MODIFY | IN_CREATE);
  const auto deadline = clock_type::now() + limit;
  bool ok = false;
  while (!(ok = done(read_events(file))) && clock_type::now() < deadline) {
    pollfd pfd{watch, POLLIN, 0};
    ::poll(&pfd, 1, 1000);
    std::array<char, 4096> drain{};
    while (::read(watch, drain.data(), drain.size()) > 0) {
    }
  }
  ::close(watch);
  return ok;
}

std::size_t count(const std::vector<nlohmann::json>& events, const std::string& kind) {
  std::size_t n = 0;
  for (const auto& e : events)
    n += e["event"] == kind ? 1 : 0;
  return n;
}

bool process_gone(int pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cli)

BOOST_AUTO_TEST_CASE(run_with_chaos_restarts_every_killed_cell_and_stops_cleanly_on_sigterm) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-run");
  const auto config = tmp.write("cluster.toml", cluster_toml(hub_path));
  const auto events_file = tmp.dir / "events.jsonl";
  const auto port = free_port();
  auto cellhub =
      tr::process::spawn({.binary = CELLHUB_PATH,
                          .args = {"run", config.string(), "--events", events_file.string(),
                                   "--chaos", "2", "--listen", std::to_string(port), "--plain"}});
  BOOST_TEST_REQUIRE(cellhub.has_value());

  // Three cells ready, and at least three chaos kills answered by new lives.
  BOOST_TEST_REQUIRE(wait_for_events(
      events_file,
      [](const auto& events) { return count(events, "ready") >= 6 && count(events, "died") >= 3; },
      120s));

  auto [status_code, status_text] = run_capture(
      std::string{CELLHUB_PATH} + " status --json --connect 127.0.0.1:" + std::to_string(port));
  BOOST_TEST_REQUIRE(status_code == 0, status_text);
  const auto status = nlohmann::json::parse(status_text);
  std::set<std::string> names;
  for (const auto& cell : status) {
    names.insert(cell["name"].get<std::string>());
    if (cell["state"] == "running")
      BOOST_TEST(!process_gone(cell["pid"].get<int>()), cell.dump());
  }
  BOOST_TEST((names == std::set<std::string>{"w1", "w2", "w3"}));

  BOOST_TEST_REQUIRE(cellhub.value().send_signal(SIGTERM).has_value());
  auto exit = cellhub.value().wait_for(60s);
  BOOST_TEST_REQUIRE(exit.has_value());
  BOOST_TEST(exit.value().clean(), exit.value().describe());

  const auto events = read_events(events_file);
  // Every chaos death is followed by READY of a new life of the same name.
  std::set<int> pids;
  for (std::size_t i = 0; i < events.size(); ++i) {
    pids.insert(events[i]["pid"].get<int>());
    if (events[i]["event"] != "died")
      continue;
    BOOST_TEST(events[i]["signal"] == SIGKILL, events[i].dump());
    bool recovered = false;
    for (std::size_t j = i + 1; j < events.size() && !recovered; ++j)
      recovered = events[j]["event"] == "ready" && events[j]["name"] == events[i]["name"] &&
                  (events[j]["incarnation"] != events[i]["incarnation"] ||
                   events[j]["peer_id"] != events[i]["peer_id"]);
    BOOST_TEST(recovered, "no new life after " << events[i].dump());
  }
  for (int pid : pids)
    if (pid > 0)
      BOOST_TEST(process_gone(pid), "cell process " << pid << " still runs");
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_CASE(root_that_gives_up_makes_run_exit_3_naming_the_child) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-giveup");
  const auto config =
      tmp.write("cluster.toml", "version = 1\n[hub]\npath = \"" + hub_path +
                                    "\"\n[supervisor]\nmax_restarts = 2\nperiod = \"10s\"\n"
                                    "[[cell]]\nname = \"steady\"\nbinary = \"cellhub-demo-cell\"\n"
                                    "[[cell]]\nname = \"doomed\"\nbinary = \"cellhub-demo-cell\"\n"
                                    "args = [\"--crash-on-start\"]\nbackoff = { min = \"0s\" }\n");
  auto [code, output] =
      run_capture(std::string{CELLHUB_PATH} + " run " + config.string() + " --plain");
  BOOST_TEST(code == 3, output);
  BOOST_TEST(output.find("supervision gave up") != std::string::npos, output);
  BOOST_TEST(output.find("doomed") != std::string::npos, output);
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_CASE(duration_stops_the_cluster_with_exit_0) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-duration");
  const auto config = tmp.write("cluster.toml", cluster_toml(hub_path));
  auto [code, output] = run_capture(std::string{CELLHUB_PATH} + " run " + config.string() +
                                    " --duration 1500ms --plain");
  BOOST_TEST(code == 0, output);
  BOOST_TEST(output.find("served=") != std::string::npos, output);
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_CASE(check_accepts_every_shipped_configuration) {
  for (const auto& entry : fs::recursive_directory_iterator{CONFIG_DIR}) {
    if (entry.path().extension() != ".toml")
      continue;
    auto [code, output] =
        run_capture(std::string{CELLHUB_PATH} + " check " + entry.path().string());
    BOOST_TEST(code == 0, entry.path() << ": " << output);
  }
}

BOOST_AUTO_TEST_CASE(bad_configuration_exits_2_naming_file_line_and_key) {
  scratch tmp;
  const auto config = tmp.write("bad.toml", "version = 1\n[hub]\npath = \"/dev/shm/x\"\n"
                                            "[supervisor]\nmax_restarts = -1\n");
  for (const char* command : {" check ", " run "}) {
    auto [code, output] = run_capture(std::string{CELLHUB_PATH} + command + config.string());
    BOOST_TEST(code == 2, output);
    BOOST_TEST(output.find("bad.toml:5") != std::string::npos, output);
    BOOST_TEST(output.find("max_restarts") != std::string::npos, output);
  }
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_and_help_and_version_exit_0) {
  BOOST_TEST(run_capture(std::string{CELLHUB_PATH} + " run").first == 2);
  BOOST_TEST(run_capture(std::string{CELLHUB_PATH} + " frobnicate").first == 2);
  BOOST_TEST(run_capture(std::string{CELLHUB_PATH} + " status --connect nowhere").first == 2);
  for (const char* sub : {"", " run", " check", " status", " restart", " stop"}) {
    auto [code, output] = run_capture(std::string{CELLHUB_PATH} + sub + " --help");
    BOOST_TEST(code == 0, sub);
    BOOST_TEST(output.find("Usage") != std::string::npos, output);
  }
  auto [code, output] = run_capture(std::string{CELLHUB_PATH} + " --version");
  BOOST_TEST(code == 0);
  BOOST_TEST(output.find("cellhub 0.") != std::string::npos, output);
}

BOOST_AUTO_TEST_SUITE_END()
