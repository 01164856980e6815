// What a running cluster reports about itself: `status --json` lists the children whose
// spec the tree holds, and the summary counts only what really restarts.
#include "cli_support.hpp"

#include <csignal>

using namespace cellhub::test::cli;
using namespace std::chrono_literals;

namespace {

std::set<std::string> status_names(std::uint16_t port) {
  auto [code, text] =
      run_cellhub({"status", "--json", "--connect", "127.0.0.1:" + std::to_string(port)});
  BOOST_TEST_REQUIRE(code == 0, text);
  std::set<std::string> names;
  for (const auto& row : nlohmann::json::parse(text))
    names.insert(row["name"].get<std::string>());
  return names;
}

int pid_of(const std::vector<nlohmann::json>& events, const std::string& name) {
  for (const auto& e : events)
    if (e["event"] == "ready" && e["name"] == name)
      return e["pid"].get<int>();
  return 0;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cli_status)

// Issue 10, defect 10: an ended temporary child's spec is dropped, so it leaves the
// status; a transient child that ended cleanly stays, but is not "restarting".
BOOST_AUTO_TEST_CASE(ended_temporary_child_leaves_status_and_nothing_counts_as_restarting) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-status-temp");
  const auto config =
      tmp.write("cluster.toml",
                head_toml(hub_path, "max_restarts = 10\n") + cell_toml("steady") +
                    cell_toml("temp", {}, "restart = \"temporary\"\n") +
                    cell_toml("once", "\"--exit-after\", \"100ms\"", "restart = \"transient\"\n"));
  const auto events_file = tmp.dir / "events.jsonl";
  const auto output = tmp.dir / "output.txt";
  const auto port = free_port();
  auto cellhub = spawn_cellhub({"run", config.string(), "--plain", "--events", events_file.string(),
                                "--listen", std::to_string(port)},
                               output);
  BOOST_TEST_REQUIRE(wait_for_events(
      events_file,
      [](const auto& events) {
        return count(events, "ready", "steady") == 1 && count(events, "ready", "temp") == 1 &&
               count(events, "died", "once") == 1;
      },
      60s));
  BOOST_TEST_REQUIRE(wait_for_text(output, "control listening", 30s), read_text(output));
  BOOST_TEST((status_names(port) == std::set<std::string>{"steady", "temp", "once"}));

  const int temp_pid = pid_of(read_events(events_file), "temp");
  BOOST_TEST_REQUIRE(temp_pid > 0);
  BOOST_TEST_REQUIRE(::kill(temp_pid, SIGKILL) == 0);
  BOOST_TEST_REQUIRE(wait_for_events(
      events_file, [](const auto& events) { return count(events, "removed", "temp") == 1; }, 60s));
  BOOST_TEST((status_names(port) == std::set<std::string>{"steady", "once"}));

  auto [stop_code, stop_text] =
      run_cellhub({"stop", "--connect", "127.0.0.1:" + std::to_string(port)});
  BOOST_TEST(stop_code == 0, stop_text);
  auto exit = cellhub.wait_for(60s);
  BOOST_TEST_REQUIRE(exit.has_value());
  const auto text = read_text(output);
  BOOST_TEST(exit.value().clean(), exit.value().describe() << "\n" << text);
  BOOST_TEST(text.find("stopping (remote stop)") != std::string::npos, text);
  // steady stopped, once ended for good: two rows, neither restarting.
  BOOST_TEST(text.find("cellhub: stopped: ") != std::string::npos, text);
  BOOST_TEST(text.find("cells=2 running=0 starting=0 restarting=0 down=2") != std::string::npos,
             text);
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_SUITE_END()
