// The cellhub program end to end: `run` with chaos, `status --json` over `--connect`,
// SIGTERM, `--duration`, trees that give up (the root, or only a group), the events
// file (complete from the first event, appended, write errors), bad `--chaos` rates,
// `check`, bad configurations and usage.
#include "cli_support.hpp"

#include <csignal>
#include <map>

using namespace cellhub::test::cli;
using namespace std::chrono_literals;

namespace {

std::string cluster_toml(const std::string& hub_path, const std::string& extra = {}) {
  std::string text = head_toml(hub_path,
                               "strategy = \"one_for_one\"\nmax_restarts = 1000\n"
                               "period = \"10s\"\n",
                               "max_peers = 16\n") +
                     "[load]\nrate = 50\n";
  for (const char* name : {"w1", "w2", "w3"})
    text += cell_toml(name, {}, "backoff = { min = \"0s\", max = \"1s\", jitter = 0.0 }\n");
  return text + extra;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cli)

BOOST_AUTO_TEST_CASE(run_with_chaos_restarts_every_killed_cell_and_stops_cleanly_on_sigterm) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-run");
  const auto config = tmp.write("cluster.toml", cluster_toml(hub_path));
  const auto events_file = tmp.dir / "events.jsonl";
  const auto port = free_port();
  // cellhub is a host, not a cell: started as from a shell (the file itself, not a
  // sealed copy), it finds its cells next to its /proc/self/exe.
  auto cellhub =
      tr::process::spawn({.binary = CELLHUB_PATH,
                          .args = {"run", config.string(), "--events", events_file.string(),
                                   "--chaos", "2", "--listen", std::to_string(port), "--plain"},
                          .sealed_image = false});
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
  // A running row shows a life that became ready. (Whether its process still runs is
  // not asked: chaos may kill it between the status and the check.)
  const auto seen = read_events(events_file);
  std::set<std::string> names;
  for (const auto& cell : status) {
    names.insert(cell["name"].get<std::string>());
    if (cell["state"] != "running")
      continue;
    bool ready = false;
    for (const auto& e : seen)
      ready =
          ready || (e["event"] == "ready" && e["name"] == cell["name"] && e["pid"] == cell["pid"] &&
                    e["peer_id"] == cell["peer_id"] && e["incarnation"] == cell["incarnation"]);
    BOOST_TEST(ready, cell.dump());
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
    BOOST_TEST(events[i]["ending"] == "killed", events[i].dump());
    BOOST_TEST(events[i]["cause"] == "killed: signal 9 (SIGKILL)", events[i].dump());
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
      tmp.write("cluster.toml",
                head_toml(hub_path, "max_restarts = 2\nperiod = \"10s\"\n") + cell_toml("steady") +
                    cell_toml("doomed", "\"--crash-on-start\"", "backoff = { min = \"0s\" }\n"));
  auto [code, output] = run_cellhub({"run", config.string(), "--plain"});
  BOOST_TEST(code == 3, output);
  BOOST_TEST(output.find("supervision gave up") != std::string::npos, output);
  BOOST_TEST(output.find("supervisor \"root\" gave up because of child \"doomed\"") !=
                 std::string::npos,
             output);
  BOOST_TEST(!fs::exists(hub_path));
}

// Issue 10, defect 1: a group that gives up is restarted by the root; only the root
// giving up ends a run.
BOOST_AUTO_TEST_CASE(nested_group_that_gives_up_is_restarted_and_the_run_lasts_its_duration) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-group-gives-up");
  const auto config =
      tmp.write("cluster.toml", head_toml(hub_path, "max_restarts = 100\nperiod = \"10s\"\n") +
                                    cell_toml("steady") +
                                    "[[group]]\nname = \"g\"\nmax_restarts = 1\nperiod = \"5s\"\n" +
                                    cell_toml("crasher", "\"--crash-after\", \"300ms\"",
                                              "backoff = { min = \"0s\" }\n", "[[group.cell]]"));
  const auto events_file = tmp.dir / "events.jsonl";
  auto [code, output] = run_cellhub(
      {"run", config.string(), "--plain", "--duration", "5s", "--events", events_file.string()});
  BOOST_TEST(code == 0, output);
  BOOST_TEST(output.find("gave up") == std::string::npos, output);

  const auto events = read_events(events_file);
  BOOST_TEST_REQUIRE(!events.empty());
  std::size_t group_escalations = 0;
  std::size_t group_restarts = 0;
  for (const auto& e : events) {
    group_escalations += e["event"] == "escalated" && e["supervisor"] == "g" ? 1 : 0;
    group_restarts += e["event"] == "restarting" && e["name"] == "g" && e["supervisor"] == "root";
    BOOST_TEST(!(e["event"] == "escalated" && e["supervisor"] == "root"), e.dump());
  }
  // The group gave up, the root started it again, and the run went on.
  BOOST_TEST(group_escalations >= 1u);
  BOOST_TEST(group_restarts >= 1u);
  BOOST_TEST(count(events, "started", "g") >= 2u);
  // --duration 5s ran out: the stop came 5 s after the start, not at the first escalation.
  const auto span_ns =
      events.back()["ts_ns"].get<std::int64_t>() - events.front()["ts_ns"].get<std::int64_t>();
  BOOST_TEST(span_ns >= 4'500'000'000, "the events span " << span_ns << " ns");
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_CASE(duration_stops_the_cluster_with_exit_0) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-duration");
  const auto config = tmp.write("cluster.toml", cluster_toml(hub_path));
  auto [code, output] = run_cellhub({"run", config.string(), "--duration", "1500ms", "--plain"});
  BOOST_TEST(code == 0, output);
  BOOST_TEST(output.find("served=") != std::string::npos, output);
  BOOST_TEST(output.find("stopping (--duration reached)") != std::string::npos, output);
  BOOST_TEST(!fs::exists(hub_path));
}

// Issue 10, defect 10: the console subscribes before the first child starts. A group as
// the root's first child is started (and published) in the root's very first turn.
BOOST_AUTO_TEST_CASE(events_file_starts_with_started_and_holds_a_started_for_every_child) {
  for (int run = 0; run < 3; ++run) {
    BOOST_TEST_CONTEXT("run " << run) {
      scratch tmp;
      const auto hub_path = cellhub::test::unique_hub_path("cli-first-event");
      const auto config =
          tmp.write("cluster.toml", head_toml(hub_path) + "[[group]]\nname = \"g\"\n" +
                                        cell_toml("a1", {}, {}, "[[group.cell]]") +
                                        cell_toml("a2", {}, {}, "[[group.cell]]") + cell_toml("b"));
      const auto events_file = tmp.dir / "events.jsonl";
      auto cellhub =
          spawn_cellhub({"run", config.string(), "--plain", "--events", events_file.string()},
                        tmp.dir / "output.txt");
      BOOST_TEST_REQUIRE(wait_for_events(
          events_file,
          [](const auto& events) {
            return count(events, "ready", "a1") >= 1 && count(events, "ready", "a2") >= 1 &&
                   count(events, "ready", "b") >= 1;
          },
          60s));
      BOOST_TEST_REQUIRE(cellhub.send_signal(SIGTERM).has_value());
      auto exit = cellhub.wait_for(60s);
      BOOST_TEST_REQUIRE(exit.has_value());
      BOOST_TEST(exit.value().clean(), read_text(tmp.dir / "output.txt"));

      const auto events = read_events(events_file);
      BOOST_TEST_REQUIRE(!events.empty());
      BOOST_TEST(events.front()["event"] == "started", events.front().dump());
      std::map<std::string, std::string> first_of;
      for (const auto& e : events)
        first_of.emplace(e["name"].get<std::string>(), e["event"].get<std::string>());
      for (const char* name : {"g", "a1", "a2", "b"}) {
        BOOST_TEST_REQUIRE(first_of.count(name) == 1u, name);
        BOOST_TEST(first_of[name] == "started", name);
      }
    }
  }
}

// Issue 10, defect 9: the events file is checked before anything starts.
BOOST_AUTO_TEST_CASE(unwritable_events_path_is_refused_at_start_with_exit_2) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-events-path");
  const auto config = tmp.write("cluster.toml", head_toml(hub_path) + cell_toml("w"));
  const std::vector<std::pair<fs::path, std::string>> cases = {
      {tmp.dir / "missing" / "events.jsonl", "No such file or directory"},
      {tmp.dir, "Is a directory"},
  };
  for (const auto& [path, reason] : cases) {
    // --duration only bounds a cellhub that wrongly starts anyway.
    auto [code, output] = run_cellhub(
        {"run", config.string(), "--plain", "--duration", "2s", "--events", path.string()});
    BOOST_TEST(code == 2, output);
    BOOST_TEST(output.find("--events") != std::string::npos, output);
    BOOST_TEST(output.find(path.string()) != std::string::npos, output);
    BOOST_TEST(output.find(reason) != std::string::npos, output);
    BOOST_TEST(!fs::exists(hub_path));
  }
}

BOOST_AUTO_TEST_CASE(events_write_error_stops_the_cluster_in_order_with_exit_1) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-events-full");
  const auto config = tmp.write("cluster.toml", head_toml(hub_path) + cell_toml("w"));
  // --duration only bounds a cellhub that wrongly carries on.
  auto [code, output] = run_cellhub(
      {"run", config.string(), "--plain", "--duration", "10s", "--events", "/dev/full"});
  BOOST_TEST(code == 1, output);
  BOOST_TEST(output.find("cannot write to /dev/full: No space left on device") != std::string::npos,
             output);
  BOOST_TEST(output.find("stopping (cannot write to /dev/full") != std::string::npos, output);
  BOOST_TEST(output.find("running=0") != std::string::npos, output);
  BOOST_TEST(!fs::exists(hub_path));
}

BOOST_AUTO_TEST_CASE(events_file_is_appended_to_never_truncated) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-events-append");
  const auto config = tmp.write("cluster.toml", head_toml(hub_path) + cell_toml("w"));
  const std::string earlier = "{\"event\":\"from an earlier run\"}\n";
  const auto events_file = tmp.write("events.jsonl", earlier);
  auto [code, output] = run_cellhub(
      {"run", config.string(), "--plain", "--duration", "300ms", "--events", events_file.string()});
  BOOST_TEST(code == 0, output);
  const auto text = read_text(events_file);
  BOOST_TEST(text.rfind(earlier, 0) == 0u, text);
  const auto events = read_events(events_file);
  BOOST_TEST(count(events, "started", "w") == 1u, text);
}

// Issue 10, defect 9: --chaos takes a finite rate within 0..1000.
BOOST_AUTO_TEST_CASE(chaos_rate_that_is_not_a_sane_number_is_refused_with_exit_2) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-chaos-bad");
  const auto config = tmp.write("cluster.toml", head_toml(hub_path) + cell_toml("w"));
  for (const char* rate :
       {"nan", "NaN", "inf", "-inf", "-1", "-0.5", "1e9", "1001", "1e400", "abc", "2x", ""}) {
    auto [code, output] =
        run_cellhub({"run", config.string(), "--plain", "--duration", "2s", "--chaos", rate});
    BOOST_TEST(code == 2, rate << ": " << output);
    BOOST_TEST(output.find("--chaos") != std::string::npos, rate << ": " << output);
    BOOST_TEST(!fs::exists(hub_path));
  }
}

BOOST_AUTO_TEST_CASE(tiny_chaos_rate_kills_nothing) {
  scratch tmp;
  const auto hub_path = cellhub::test::unique_hub_path("cli-chaos-tiny");
  const auto config = tmp.write("cluster.toml", cluster_toml(hub_path));
  const auto events_file = tmp.dir / "events.jsonl";
  auto [code, output] = run_cellhub({"run", config.string(), "--plain", "--chaos", "1e-300",
                                     "--duration", "1500ms", "--events", events_file.string()});
  BOOST_TEST(code == 0, output);
  const auto events = read_events(events_file);
  // Something was up to be killed (under load not every cell may be ready in 1.5 s).
  BOOST_TEST(count(events, "ready") >= 1u);
  BOOST_TEST(count(events, "died") == 0u);
}

BOOST_AUTO_TEST_CASE(check_accepts_every_shipped_configuration) {
  for (const auto& entry : fs::recursive_directory_iterator{CONFIG_DIR}) {
    if (entry.path().extension() != ".toml")
      continue;
    auto [code, output] = run_cellhub({"check", entry.path().string()});
    BOOST_TEST(code == 0, entry.path() << ": " << output);
  }
}

BOOST_AUTO_TEST_CASE(bad_configuration_exits_2_naming_file_line_and_key) {
  scratch tmp;
  const auto config = tmp.write("bad.toml", "version = 1\n[hub]\npath = \"/dev/shm/x\"\n"
                                            "[supervisor]\nmax_restarts = -1\n");
  for (const char* command : {"check", "run"}) {
    auto [code, output] = run_cellhub({command, config.string()});
    BOOST_TEST(code == 2, output);
    BOOST_TEST(output.find("bad.toml:5") != std::string::npos, output);
    BOOST_TEST(output.find("max_restarts") != std::string::npos, output);
  }
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2_and_help_and_version_exit_0) {
  BOOST_TEST(run_cellhub({"run"}).first == 2);
  BOOST_TEST(run_cellhub({"frobnicate"}).first == 2);
  BOOST_TEST(run_cellhub({"status", "--connect", "nowhere"}).first == 2);
  for (const char* sub : {"", "run", "check", "status", "restart", "stop"}) {
    std::vector<std::string> args;
    if (*sub != '\0')
      args.emplace_back(sub);
    args.emplace_back("--help");
    auto [code, output] = run_cellhub(args);
    BOOST_TEST(code == 0, sub);
    BOOST_TEST(output.find("Usage") != std::string::npos, output);
  }
  auto [code, output] = run_cellhub({"--version"});
  BOOST_TEST(code == 0);
  BOOST_TEST(output.find("cellhub 0.") != std::string::npos, output);
}

BOOST_AUTO_TEST_SUITE_END()
