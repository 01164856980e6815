// The cell_manager example as a real process: relaunch under a new peer id, the
// relaunch limit, goodbye versus crash, a protocol violation, and a clean stop on
// SIGTERM. Then the manager inside the test, over real cells, with a clock the test
// moves by hand: the backoff between relaunches and `peer_of` across relaunches.
#include "cell_manager.hpp"
#include "hub_path.hpp"

#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/process.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
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
namespace ex = cellhub::examples;
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

// Runs a cell_manager inside the test, on a hub of its own, with a clock that moves
// only when the test says so; keeps its event lines.
class manager_here {
public:
  using manager_clock = ex::cell_manager::clock;

  manager_here(ex::cell_manager_options options, std::string_view hub_name) {
    auto hub = tr::hub_host::create(cellhub::test::unique_hub_path(hub_name));
    BOOST_TEST_REQUIRE(hub.has_value(), (hub ? "" : hub.error().message()));
    options.now = [this] { return now_; };
    auto made =
        ex::cell_manager::create(hub.value(), std::move(options), [this](std::string_view line) {
          events_.push_back(parse(std::string{line}));
        });
    BOOST_TEST_REQUIRE(made.has_value(), (made ? "" : made.error().message()));
    manager_ = std::move(made).value();
  }
  manager_here(const manager_here&) = delete;
  manager_here& operator=(const manager_here&) = delete;

  ex::cell_manager* operator->() const { return manager_.get(); }

  /// Spawns the idle test cell `name` and returns its peer id.
  std::uint16_t spawn(const std::string& name) {
    auto spawned = manager_->spawn_cell(name, {.binary = TEST_CELL_PATH, .args = {"--mode=idle"}});
    BOOST_TEST_REQUIRE(spawned.has_value(), (spawned ? "" : spawned.error().message()));
    return spawned.value();
  }

  /// Lets the manager handle cell events until one that `match` accepts is among those
  /// at or after `from`; returns its index, or nothing after the hang guard.
  std::optional<std::size_t> run_until(const event_match& match, std::size_t from = 0) {
    const auto deadline = clock_type::now() + event_deadline;
    for (std::size_t i = from;;) {
      for (; i < events_.size(); ++i)
        if (match(events_[i]))
          return i;
      if (clock_type::now() >= deadline)
        return std::nullopt;
      // Returns at once when a cell event arrives; the bound only keeps the guard alive.
      auto ran = manager_->run_once(1s);
      BOOST_TEST_REQUIRE(ran.has_value(), (ran ? "" : ran.error().message()));
    }
  }

  /// Counts the events `match` accepts.
  std::size_t count(const event_match& match) const {
    return static_cast<std::size_t>(std::count_if(events_.begin(), events_.end(), match));
  }

  /// Returns event `index`.
  const event& operator[](std::size_t index) const { return events_.at(index); }

  /// Returns every event line, for failure messages.
  std::string transcript() const {
    std::string all;
    for (const auto& e : events_)
      all += e.text + "\n";
    return all;
  }

  /// Returns the manager's time.
  manager_clock::time_point now() const { return now_; }
  /// Moves the manager's time to `at`.
  void set_time(manager_clock::time_point at) { now_ = at; }

private:
  // Any fixed start: only differences count.
  manager_clock::time_point now_ = manager_clock::time_point{} + 1000h;
  std::vector<event> events_;
  // Last, so that it goes first: its callbacks point at the members above.
  std::unique_ptr<ex::cell_manager> manager_;
};

event_match of_peer(std::string kind, std::uint16_t peer_id) {
  return [kind = std::move(kind), peer = std::to_string(peer_id)](const event& e) {
    return e.kind == kind && e.at("peer_id") == peer;
  };
}

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

BOOST_AUTO_TEST_CASE(cell_that_breaks_the_protocol_is_killed_reported_and_relaunched) {
  // The cell publishes a descriptor of an unknown kind and rings: the transport kills
  // it and reports the death at once, through on_death like any other.
  manager_run run{{"--cells", "1", "--max-relaunches", "1", "--backoff-ms", "0", "--",
                   "--mode=hostile", "--attack=unknown_kind"}};
  const auto died = run.find(is("died"));
  BOOST_TEST_REQUIRE(died.has_value(), run.transcript());
  BOOST_TEST(run[*died].at("cause") == "protocol_violation");
  BOOST_TEST(run[*died].at("seen") == "protocol_violation");
  BOOST_TEST(run[*died].at("status") == "signal:SIGKILL");
  const auto relaunched = run.find(is("relaunched"), *died);
  BOOST_TEST_REQUIRE(relaunched.has_value(), run.transcript());
  // The next life breaks it too, and that death is final.
  const auto again = run.find(is("died"), *relaunched);
  BOOST_TEST_REQUIRE(again.has_value(), run.transcript());
  BOOST_TEST(run[*again].at("cause") == "protocol_violation");
  BOOST_TEST_REQUIRE(run.find(is("gave_up"), *again).has_value(), run.transcript());
  BOOST_TEST(run.terminate().clean());
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

BOOST_AUTO_TEST_CASE(stop_escalates_from_goodbye_to_sigterm_to_sigkill_for_cells_that_ignore_it) {
  // linger ignores the host's goodbye, and SIGTERM ends it; stubborn ignores both, and
  // only SIGKILL ends it. The stop timeout is generous so that SIGTERM, sent half-way,
  // has time to end a loaded machine's linger before SIGKILL is due.
  const std::array cases{std::pair{"linger", "signal:SIGTERM"}, std::pair{"stubborn", "killed"}};
  for (const auto& [mode, status] : cases) {
    BOOST_TEST_CONTEXT("mode " << mode) {
      manager_run run{
          {"--cells", "1", "--stop-timeout-ms", "4000", "--", std::string{"--mode="} + mode}};
      BOOST_TEST_REQUIRE(run.find(is("ready")).has_value(), run.transcript());
      const auto exit = run.terminate();
      BOOST_TEST(exit.clean(), exit.describe());
      BOOST_TEST_REQUIRE(run.read_to_eof());
      const auto stopped = run.find(is("stopped"));
      BOOST_TEST_REQUIRE(stopped.has_value(), run.transcript());
      BOOST_TEST(run[*stopped].at("status") == status, run.transcript());
      BOOST_TEST(run.count(is("died")) == 0u, run.transcript());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cell_manager_in_process)

BOOST_AUTO_TEST_CASE(relaunch_delay_doubles_from_the_base_up_to_the_cap_and_never_comes_early) {
  manager_here manager{{.max_relaunches = 4, .backoff_base = 100ms, .backoff_cap_exponent = 2},
                       "cell-manager-backoff"};
  // Relaunch n waits base * 2^min(n, cap); the 5th death is final (4 relaunches).
  const std::array<std::chrono::milliseconds, 4> delays{100ms, 200ms, 400ms, 400ms};
  auto peer = manager.spawn("cell-0");
  std::size_t from = 0;
  for (std::size_t life = 0; life <= delays.size(); ++life) {
    BOOST_TEST_CONTEXT("life " << life << " peer_id " << peer) {
      const auto started = manager.run_until(of_peer("started", peer), from);
      BOOST_TEST_REQUIRE(started.has_value(), manager.transcript());
      BOOST_TEST_REQUIRE(manager.run_until(of_peer("ready", peer), *started).has_value(),
                         manager.transcript());
      BOOST_TEST_REQUIRE(::kill(static_cast<pid_t>(manager[*started].number("pid")), SIGKILL) == 0);
      const auto died = manager.run_until(of_peer("died", peer), *started);
      BOOST_TEST_REQUIRE(died.has_value(), manager.transcript());
      BOOST_TEST(manager[*died].at("cause") == "crashed");
      BOOST_TEST(!manager->peer_of("cell-0").has_value());

      if (life == delays.size()) {
        BOOST_TEST(manager.run_until(is("gave_up"), *died).has_value(), manager.transcript());
        BOOST_TEST(!manager->relaunch_due("cell-0").has_value());
        BOOST_TEST(manager->live_cells() == 0u);
        break;
      }
      const auto due = manager->relaunch_due("cell-0");
      BOOST_TEST_REQUIRE(due.has_value(), manager.transcript());
      // The clock has not moved since the death: the whole wait is the backoff.
      BOOST_TEST(
          std::chrono::duration_cast<std::chrono::milliseconds>(*due - manager.now()).count() ==
          delays[life].count());

      // A millisecond early, nothing starts.
      manager.set_time(*due - 1ms);
      BOOST_TEST_REQUIRE(manager->run_once(0ms).has_value());
      BOOST_TEST(manager.count(is("started")) == life + 1, manager.transcript());
      BOOST_TEST((manager->relaunch_due("cell-0") == due));

      // On time, the cell starts again under a new peer id.
      manager.set_time(*due);
      BOOST_TEST_REQUIRE(manager->run_once(0ms).has_value());
      const auto relaunched = manager.run_until(is("relaunched"), *died);
      BOOST_TEST_REQUIRE(relaunched.has_value(), manager.transcript());
      BOOST_TEST(manager[*relaunched].number("relaunch") == static_cast<long>(life + 1));
      const auto next = static_cast<std::uint16_t>(manager[*relaunched].number("new_peer_id"));
      BOOST_TEST(next != peer);
      BOOST_TEST((manager->peer_of("cell-0") == next));
      peer = next;
      // The new life's `started` comes before `relaunched`.
      from = *died + 1;
    }
  }
  BOOST_TEST(manager.count(is("relaunched")) == delays.size(), manager.transcript());
}

BOOST_AUTO_TEST_CASE(peer_of_follows_a_relaunched_cell_to_each_new_peer_id_and_no_other) {
  manager_here manager{{.backoff_base = 0ms}, "cell-manager-peer-of"};
  const auto alpha = manager.spawn("alpha");
  auto beta = manager.spawn("beta");
  BOOST_TEST((manager->peer_of("alpha") == alpha));
  BOOST_TEST((manager->peer_of("beta") == beta));
  BOOST_TEST(!manager->peer_of("gamma").has_value());

  std::size_t from = 0;
  for (int relaunch = 1; relaunch <= 2; ++relaunch) {
    BOOST_TEST_CONTEXT("relaunch " << relaunch) {
      const auto started = manager.run_until(of_peer("started", beta), from);
      BOOST_TEST_REQUIRE(started.has_value(), manager.transcript());
      BOOST_TEST_REQUIRE(manager.run_until(of_peer("ready", beta), *started).has_value(),
                         manager.transcript());
      BOOST_TEST_REQUIRE(::kill(static_cast<pid_t>(manager[*started].number("pid")), SIGKILL) == 0);
      const auto relaunched = manager.run_until(
          [old = std::to_string(beta)](const event& e) {
            return is("relaunched", "beta")(e) && e.at("old_peer_id") == old;
          },
          *started);
      BOOST_TEST_REQUIRE(relaunched.has_value(), manager.transcript());
      const auto next = static_cast<std::uint16_t>(manager[*relaunched].number("new_peer_id"));
      BOOST_TEST(next != beta);
      BOOST_TEST(next != alpha);
      // The name now leads to the new life, which is a real cell that attached.
      BOOST_TEST((manager->peer_of("beta") == next));
      BOOST_TEST_REQUIRE(manager.run_until(of_peer("ready", next), *relaunched).has_value(),
                         manager.transcript());
      // The other cell kept its id.
      BOOST_TEST((manager->peer_of("alpha") == alpha));
      beta = next;
      from = *started + 1;
    }
  }
  BOOST_TEST(manager.count(is("died", "alpha")) == 0u, manager.transcript());
}

BOOST_AUTO_TEST_SUITE_END()
