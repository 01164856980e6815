// How `cellhub run` stops: a second SIGTERM during the ordered stop kills every cell at
// once, and the exit code says the stop was requested.
#include "cli_support.hpp"

#include <csignal>
#include <poll.h>
#include <sys/syscall.h>

using namespace cellhub::test::cli;
using namespace std::chrono_literals;

namespace {

// Owns a pidfd of a process that is not our child (a cell of the cellhub under test).
struct pidfd {
  int fd = -1;
  explicit pidfd(int pid)
      : fd{static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))} {}
  ~pidfd() {
    if (fd >= 0)
      ::close(fd);
  }
  pidfd(const pidfd&) = delete;
  pidfd& operator=(const pidfd&) = delete;
};

// Waits until every process behind `fds` has exited or `limit` passes; returns how many
// still run.
std::size_t wait_all_gone(const std::vector<std::unique_ptr<pidfd>>& fds,
                          std::chrono::milliseconds limit) {
  const auto deadline = clock_type::now() + limit;
  std::vector<pollfd> left;
  for (const auto& p : fds)
    left.push_back({p->fd, POLLIN, 0});
  while (!left.empty()) {
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (wait.count() <= 0)
      break;
    ::poll(left.data(), left.size(), static_cast<int>(wait.count()));
    std::erase_if(left, [](const pollfd& p) { return (p.revents & POLLIN) != 0; });
    for (auto& p : left)
      p.revents = 0;
  }
  return left.size();
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cli_stop)

// Issue 10, defect 8: cells that ignore goodbye and SIGTERM would hold an ordered stop
// for 2 x shutdown_timeout each (6 minutes here); a second SIGTERM ends them at once.
BOOST_AUTO_TEST_CASE(second_sigterm_during_the_ordered_stop_kills_every_cell_at_once_exit_0) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-second-signal");
  // SIG_IGN survives exec: the demo cell ignores SIGTERM, and after READY it stops
  // reading its ring, so it never sees the goodbye either.
  const auto stubborn =
      tmp.write("stubborn-cell", "#!/bin/sh\ntrap '' TERM\nexec " + shell_quote(demo_cell_path()) +
                                     " --hang-after 0ms \"$@\"\n");
  fs::permissions(stubborn, fs::perms::owner_all, fs::perm_options::replace);
  std::string config_text = head_toml(hub_path, "strategy = \"one_for_one\"\n");
  for (const char* name : {"s1", "s2", "s3"})
    config_text += std::string{"[[cell]]\nname = \""} + name + "\"\nbinary = \"" +
                   stubborn.string() +
                   "\"\nstart_timeout = \"10s\"\nshutdown_timeout = \"60s\"\n"
                   "hang_timeout = \"0s\"\n";
  const auto config = tmp.write("cluster.toml", config_text);
  const auto events_file = tmp.dir / "events.jsonl";
  const auto output = tmp.dir / "output.txt";
  auto cellhub =
      spawn_cellhub({"run", config.string(), "--plain", "--events", events_file.string()}, output);

  BOOST_TEST_REQUIRE(wait_for_events(
      events_file, [](const auto& events) { return count(events, "ready") == 3; }, 60s));
  std::vector<std::unique_ptr<pidfd>> cells;
  for (const auto& e : read_events(events_file))
    if (e["event"] == "ready") {
      cells.push_back(std::make_unique<pidfd>(e["pid"].get<int>()));
      BOOST_TEST_REQUIRE(cells.back()->fd >= 0, e.dump());
    }

  BOOST_TEST_REQUIRE(cellhub.send_signal(SIGTERM).has_value());
  BOOST_TEST_REQUIRE(wait_for_text(output, "stopping (signal)", 30s), read_text(output));
  // The ordered stop now waits on the first cell's goodbye, for a minute.
  BOOST_TEST(wait_all_gone(cells, 0ms) == 3u);
  BOOST_TEST_REQUIRE(cellhub.send_signal(SIGTERM).has_value());

  // Far below one shutdown_timeout: only the kill can end them in time.
  BOOST_TEST(wait_all_gone(cells, 20s) == 0u);
  auto exit = cellhub.wait_for(30s);
  BOOST_TEST_REQUIRE(exit.has_value());
  const auto text = read_text(output);
  BOOST_TEST(exit.value().clean(), exit.value().describe() << "\n" << text);
  BOOST_TEST(text.find("send it again to kill every cell now") != std::string::npos, text);
  BOOST_TEST(text.find("killing every cell now") != std::string::npos, text);
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_SUITE_END()
