// The cell_manager example as a real process: relaunch under a new peer id, the
// relaunch limit, goodbye versus crash, and a clean stop on SIGTERM.
#include "hub_path.hpp"

#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <map>
#include <optional>
#include <poll.h>
#include <signal.h>
#include <sstream>
#include <string>
#include <string_view>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>
#include <vector>

#ifndef CELL_MANAGER_PATH
#error "CELL_MANAGER_PATH must name the cell_manager executable"
#endif
#ifndef TEST_CELL_PATH
#error "TEST_CELL_PATH must name the test cell executable"
#endif

namespace tr = cellhub::transport;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// Only catches hangs: every event below normally arrives within milliseconds, but a
// noisy CI machine running ASan may stall for seconds.
constexpr auto event_deadline = 60s;

// One event line of the manager: `died name=cell-0 peer_id=3 ...`.
struct event {
  std::string kind;
  std::map<std::string, std::string> fields;
  std::string text;

  [[nodiscard]] const std::string& at(const std::string& key) const {
    static const std::string missing;
    const auto it = fields.find(key);
    return it == fields.end() ? missing : it->second;
  }
  [[nodiscard]] long number(const std::string& key) const { return std::stol(at(key)); }
};

event parse(std::string line) {
  event parsed;
  std::istringstream words{line};
  words >> parsed.kind;
  for (std::string word; words >> word;)
    if (const auto eq = word.find('='); eq != std::string::npos)
      parsed.fields[word.substr(0, eq)] = word.substr(eq + 1);
  parsed.text = std::move(line);
  return parsed;
}

using event_match = std::function<bool(const event&)>;

event_match is(std::string kind, std::string name = "cell-0") {
  return [kind = std::move(kind), name = std::move(name)](const event& e) {
    return e.kind == kind && e.at("name") == name;
  };
}

// Runs cell_manager with its event lines going into a pipe (fd 3 in the manager).
class manager_run {
public:
  explicit manager_run(std::vector<std::string> args)
      : hub_path_{cellhub::test::unique_hub_path("cell-manager")} {
    int report[2];
    BOOST_TEST_REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
    tr::spawn_options command{
        .binary = CELL_MANAGER_PATH,
        .args = {"--cell-binary", TEST_CELL_PATH, "--hub-path", hub_path_, "--report-fd", "3"},
        .inherit = {{report[1], 3}}};
    command.args.insert(command.args.end(), args.begin(), args.end());
    auto spawned = tr::process::spawn(command);
    ::close(report[1]);
    read_fd_ = report[0];
    BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
    manager_ = std::move(spawned).value();
  }
  manager_run(const manager_run&) = delete;
  manager_run& operator=(const manager_run&) = delete;
  ~manager_run() {
    // A test that failed half-way leaves the manager running: kill it (its cells die
    // with it) and remove the hub file it could not remove itself.
    manager_ = tr::process{};
    ::unlink(hub_path_.c_str());
    ::close(read_fd_);
  }

  /// Returns the index of the first event at or after `from` that `match` accepts,
  /// reading more lines as they come; nothing on EOF or after the deadline.
  std::optional<std::size_t> find(const event_match& match, std::size_t from = 0) {
    const auto deadline = clock_type::now() + event_deadline;
    for (std::size_t i = from;; ++i) {
      while (i >= events_.size())
        if (!read_more(deadline))
          return std::nullopt;
      if (match(events_[i]))
        return i;
    }
  }

  /// Reads every line up to EOF (the manager and its cells closed the pipe).
  bool read_to_eof() {
    const auto deadline = clock_type::now() + event_deadline;
    while (!eof_)
      if (!read_more(deadline) && !eof_)
        return false;
    return true;
  }

  /// Counts the events `match` accepts among those read so far.
  std::size_t count(const event_match& match) const {
    return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(), match));
  }

  /// Returns event `index`.
  const event& operator[](std::size_t index) const { return events_.at(index); }

  /// Returns everything read so far, for failure messages.
  std::string transcript() const {
    std::string all;
    for (const auto& e : events_)
      all += e.text + "\n";
    return all;
  }

  /// Sends SIGTERM and waits for the manager to exit.
  tr::exit_status terminate() {
    BOOST_TEST_REQUIRE(manager_.send_signal(SIGTERM).has_value());
    auto status = manager_.wait_for(event_deadline);
    BOOST_TEST_REQUIRE(status.has_value(), (status ? "" : status.error().message()));
    return status.value();
  }

  /// Returns the hub file's path.
  const std::string& hub_path() const { return hub_path_; }

private:
  // Waits for more bytes and splits them into events; false on EOF or deadline.
  bool read_more(clock_type::time_point deadline) {
    for (;;) {
      if (eof_)
        return false;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left <= 0ms)
        return false;
      pollfd pfd{read_fd_, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR)
        continue;
      if (ready <= 0)
        return false;
      char buffer[4096];
      const auto got = ::read(read_fd_, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0) {
        eof_ = true;
        return false;
      }
      partial_.append(buffer, static_cast<std::size_t>(got));
      bool any = false;
      for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n')) {
        events_.push_back(parse(partial_.substr(0, nl)));
        partial_.erase(0, nl + 1);
        any = true;
      }
      if (any)
        return true;
    }
  }

  std::string hub_path_;
  tr::process manager_;
  int read_fd_ = -1;
  std::string partial_;
  std::vector<event> events_;
  bool eof_ = false;
};

// Returns whether the process behind `pidfd` has exited, without waiting.
bool has_exited(int pidfd) {
  pollfd pfd{pidfd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cell_manager)

BOOST_AUTO_TEST_CASE(killed_cell_is_relaunched_under_a_new_peer_id_with_a_new_pid) {
  manager_run run{{"--cells", "1", "--backoff-ms", "10", "--", "--mode=idle"}};
  const auto started = run.find(is("started"));
  BOOST_TEST_REQUIRE(started.has_value(), run.transcript());
  BOOST_TEST_REQUIRE(run.find(is("ready"), *started).has_value(), run.transcript());
  const auto old_pid = static_cast<pid_t>(run[*started].number("pid"));
  const auto old_peer = run[*started].at("peer_id");

  BOOST_TEST_REQUIRE(::kill(old_pid, SIGKILL) == 0);

  const auto died = run.find(is("died"), *started);
  BOOST_TEST_REQUIRE(died.has_value(), run.transcript());
  BOOST_TEST(run[*died].at("peer_id") == old_peer);
  BOOST_TEST(run[*died].at("cause") == "crashed");
  BOOST_TEST(run[*died].at("status") == "signal:SIGKILL");
  const auto relaunched = run.find(is("relaunched"), *died);
  BOOST_TEST_REQUIRE(relaunched.has_value(), run.transcript());
  BOOST_TEST(run[*relaunched].at("old_peer_id") == old_peer);
  const auto new_peer = run[*relaunched].at("new_peer_id");
  BOOST_TEST(new_peer != old_peer);
  const auto restarted = run.find(
      [&](const event& e) { return is("started")(e) && e.at("peer_id") == new_peer; }, *died);
  BOOST_TEST_REQUIRE(restarted.has_value(), run.transcript());
  BOOST_TEST(run[*restarted].number("pid") != old_pid);

  BOOST_TEST(run.terminate().clean());
}

BOOST_AUTO_TEST_CASE(cell_is_given_up_once_its_relaunch_limit_is_spent) {
  manager_run run{
      {"--cells", "1", "--max-relaunches", "1", "--backoff-ms", "10", "--", "--mode=idle"}};
  std::size_t from = 0;
  for (int life = 0; life < 2; ++life) {
    BOOST_TEST_CONTEXT("life " << life) {
      const auto started = run.find(is("started"), from);
      BOOST_TEST_REQUIRE(started.has_value(), run.transcript());
      BOOST_TEST_REQUIRE(::kill(static_cast<pid_t>(run[*started].number("pid")), SIGKILL) == 0);
      const auto died = run.find(is("died"), *started);
      BOOST_TEST_REQUIRE(died.has_value(), run.transcript());
      BOOST_TEST(run[*died].at("cause") == "crashed");
      from = *died + 1;
    }
  }
  // The second death is final: it is followed by gave_up, not by a relaunch.
  BOOST_TEST_REQUIRE(run.find(is("gave_up"), from).has_value(), run.transcript());
  BOOST_TEST(run.terminate().clean());
  BOOST_TEST_REQUIRE(run.read_to_eof());
  BOOST_TEST(run.count(is("relaunched")) == 1u, run.transcript());
  BOOST_TEST(run.count(is("started")) == 2u, run.transcript());
}

BOOST_AUTO_TEST_CASE(cell_that_said_goodbye_is_not_relaunched) {
  // With no backoff a relaunch would be due in the same loop round that prints
  // `died`, so it would show up before the manager even looks at SIGTERM.
  manager_run run{{"--cells", "1", "--backoff-ms", "0", "--", "--mode=goodbye"}};
  const auto died = run.find(is("died"));
  BOOST_TEST_REQUIRE(died.has_value(), run.transcript());
  BOOST_TEST(run[*died].at("cause") == "goodbye");
  BOOST_TEST(run[*died].at("status") == "exit:0");
  BOOST_TEST(run.terminate().clean());
  BOOST_TEST_REQUIRE(run.read_to_eof());
  BOOST_TEST(run.count(is("relaunched")) == 0u, run.transcript());
  BOOST_TEST(run.count(is("started")) == 1u, run.transcript());
}

BOOST_AUTO_TEST_CASE(sigterm_makes_the_manager_exit_0_after_every_cell_exited) {
  manager_run run{{"--cells", "2", "--stop-timeout-ms", "30000", "--", "--mode=idle"}};
  std::vector<int> cell_pidfds;
  for (const char* name : {"cell-0", "cell-1"}) {
    const auto started = run.find(is("started", name));
    BOOST_TEST_REQUIRE(started.has_value(), run.transcript());
    // READY first: the stop then exercises the goodbye path, not an early kill.
    BOOST_TEST_REQUIRE(run.find(is("ready", name)).has_value(), run.transcript());
    // The manager reaps its cells only after they exit, so the pid is still theirs.
    const int pidfd = ::pidfd_open(static_cast<pid_t>(run[*started].number("pid")), 0);
    BOOST_TEST_REQUIRE(pidfd >= 0);
    cell_pidfds.push_back(pidfd);
  }

  const auto status = run.terminate();
  BOOST_TEST(status.clean(), status.describe());
  // No waiting here: the manager reaps every cell before it exits.
  for (const int pidfd : cell_pidfds) {
    BOOST_TEST(has_exited(pidfd));
    ::close(pidfd);
  }
  BOOST_TEST_REQUIRE(run.read_to_eof());
  for (const char* name : {"cell-0", "cell-1"}) {
    const auto stopped = run.find(is("stopped", name));
    BOOST_TEST_REQUIRE(stopped.has_value(), run.transcript());
    BOOST_TEST(run[*stopped].at("status") == "exit:0");
  }
  BOOST_TEST(run.count(is("died", "cell-0")) + run.count(is("died", "cell-1")) == 0u);
  BOOST_TEST(::access(run.hub_path().c_str(), F_OK) != 0, "hub file left behind");
}

BOOST_AUTO_TEST_SUITE_END()
