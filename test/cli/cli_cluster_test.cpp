// Clusters of `cellhub run` hosts on loopback, end to end: joining, calls by name
// across nodes, a cell killed on one node, a node killed and restarted, refusals.
// Every host has its own hub, ports and events file; the nodes of one test share a TLS
// directory (one CA), made by the first that starts.

#include "cli_support.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <optional>

namespace {

using namespace cellhub::test::cli;
using namespace std::chrono_literals;

// One cell of a node's configuration: the test cell in `mode` with more `args`.
struct cell_def {
  std::string name;
  std::string mode;
  std::string args; // TOML array items after --mode
};

// One `cellhub run` node of a test cluster.
struct node {
  std::string name;
  std::uint16_t cluster_port = 0;
  std::uint16_t control_port = 0;
  std::string hub_path;
  fs::path config;
  fs::path output;
  fs::path events;
  std::optional<tr::process> proc;

  node(const scratch& tmp, std::string node_name, const std::vector<cell_def>& cells)
      : name{std::move(node_name)}
      , cluster_port{free_port()}
      , control_port{free_port()}
      , hub_path{cellhub::test::unique_hub_path("cluster-" + name)}
      , output{tmp.dir / (name + ".out")}
      , events{tmp.dir / (name + ".events")} {
    std::string text = head_toml(hub_path, "max_restarts = 100\nperiod = \"10s\"\n");
    for (const auto& cell : cells)
      text += "[[cell]]\nname = \"" + cell.name +
              "\"\nbinary = \"" TEST_CELL_PATH "\"\nargs = [\"--mode=" + cell.mode + "\"" +
              (cell.args.empty() ? "" : ", " + cell.args) + "]\nstart_timeout = \"10s\"\n";
    body = text;
  }

  // Writes the configuration with the `[cluster]` table joining `others`, and starts.
  void start(const scratch& tmp, const std::vector<const node*>& others, const fs::path& tls) {
    std::string join;
    for (const auto* other : others)
      join += (join.empty() ? "\"" : ", \"") + other->address() + "\"";
    const auto text = body + "[cluster]\nnode = \"" + name + "\"\nlisten = \"" + address() +
                      "\"\njoin = [" + join +
                      "]\nheartbeat_interval = \"100ms\"\nheartbeat_timeout = \"2s\"\n"
                      "join_retry = \"100ms\"\n";
    config = tmp.write(name + ".toml", text);
    restart(tls);
  }

  // Starts (again) from the configuration written by `start`.
  void restart(const fs::path& tls) {
    std::error_code ec;
    fs::remove(events, ec);
    proc.emplace(
        spawn_cellhub({"run", config.string(), "--plain", "--events", events.string(), "--listen",
                       std::to_string(control_port), "--tls-dir", tls.string()},
                      output));
    BOOST_TEST_REQUIRE(wait_for_text(output, "control listening", 60s), read_text(output));
    BOOST_TEST_REQUIRE(wait_for_text(output, "cluster node " + name + " listening", 60s),
                       read_text(output));
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(cluster_port); }
  std::string control() const { return "127.0.0.1:" + std::to_string(control_port); }

  // Waits until this node's events file holds `count` events `kind` about `about`.
  bool saw(const std::string& kind, const std::string& about, std::size_t n = 1,
           std::chrono::seconds limit = 60s) const {
    return wait_for_events(
        events, [&](const auto& all) { return count(all, kind, about) >= n; }, limit);
  }

  // Stops the node with SIGTERM and checks that it ended cleanly.
  void stop() {
    if (!proc)
      return;
    BOOST_TEST_REQUIRE(proc->send_signal(SIGTERM).has_value());
    auto exit = proc->wait_for(60s);
    BOOST_TEST_REQUIRE(exit.has_value());
    BOOST_TEST(exit.value().clean(), exit.value().describe() << "\n" << read_text(output));
    proc.reset();
  }

  ~node() {
    if (proc)
      (void)proc->send_signal(SIGKILL);
  }

private:
  std::string body;
};

// Runs `cellhub ARGS... --connect` against `target`'s control port with the TLS dir;
// returns the exit code and what it printed on stdout, with its stderr after it when
// it failed (a sanitizer's note on stderr must not spoil a reply or JSON).
std::pair<int, std::string> ask(const node& target, std::vector<std::string> args,
                                const fs::path& tls) {
  args.insert(args.end(), {"--connect", target.control(), "--tls-dir", tls.string()});
  char err_name[] = "/tmp/cellhub-ask-XXXXXX";
  const int err_fd = ::mkstemp(err_name);
  BOOST_TEST_REQUIRE(err_fd >= 0);
  ::close(err_fd);
  std::string command = "{ exec " + shell_quote(CELLHUB_PATH);
  for (const auto& arg : args)
    command += " " + shell_quote(arg);
  command += " 2>" + shell_quote(err_name) + "; }";
  auto [code, out] = run_capture(command);
  if (code != 0)
    out += read_text(err_name);
  ::unlink(err_name);
  return {code, out};
}

// Returns the cells of `status --json`, as (node/name → entry).
std::map<std::string, nlohmann::json> cells_of(const std::string& json_text) {
  std::map<std::string, nlohmann::json> out;
  const auto doc = nlohmann::json::parse(json_text);
  for (const auto& cell : doc["cells"])
    out[cell["node"].get<std::string>() + "/" + cell["name"].get<std::string>()] = cell;
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cluster)

BOOST_AUTO_TEST_CASE(two_nodes_join_call_each_other_by_name_and_show_one_status) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  node a{tmp, "alpha", {{"front", "reverse"}, {"twin", "reverse"}}};
  node b{tmp, "beta", {{"store", "reverse"}, {"twin", "echo"}}};
  b.start(tmp, {}, tls); // b joins nobody: a finds it
  a.start(tmp, {&b}, tls);
  BOOST_TEST_REQUIRE(a.saw("node_up", "beta"), read_text(a.output));
  BOOST_TEST_REQUIRE(b.saw("node_up", "alpha"), read_text(b.output));

  // Across nodes, by node/name and by a bare name unique in the cluster: the reverse
  // cell on beta answers.
  auto [code, out] = ask(a, {"call", "beta/store", "abc"}, tls);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(out == "cba");
  std::tie(code, out) = ask(a, {"call", "store", "hello"}, tls);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(out == "olleh");
  std::tie(code, out) = ask(b, {"call", "front", "xyz", "--json"}, tls);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(nlohmann::json::parse(out)["reply"] == "zyx");
  // A local name still goes to this node's own cell.
  std::tie(code, out) = ask(a, {"call", "alpha/twin", "12"}, tls);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(out == "21");
  // The errors say what is wrong.
  std::tie(code, out) = ask(a, {"call", "twin", "x"}, tls);
  BOOST_TEST(code == 1);
  BOOST_TEST(contains(out, "ambiguous_name"), out);
  std::tie(code, out) = ask(a, {"call", "gamma/store", "x"}, tls);
  BOOST_TEST(code == 1);
  BOOST_TEST(contains(out, "unknown_node"), out);
  std::tie(code, out) = ask(a, {"call", "beta/nobody", "x"}, tls);
  BOOST_TEST(code == 1);
  BOOST_TEST(contains(out, "unknown_name"), out);

  // One status shows both nodes' cells, with a NODE column.
  std::tie(code, out) = ask(b, {"status", "--json"}, tls);
  BOOST_TEST_REQUIRE(code == 0, out);
  const auto cells = cells_of(out);
  for (const auto* name : {"alpha/front", "alpha/twin", "beta/store", "beta/twin"}) {
    BOOST_TEST_REQUIRE(cells.contains(name), name << " missing from " << out);
    BOOST_TEST(cells.at(name)["reachable"] == true);
  }
  std::tie(code, out) = ask(a, {"status"}, tls);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(contains(out, "NODE"), out);
  BOOST_TEST(contains(out, "beta (up)"), out);
  a.stop();
  BOOST_TEST(b.saw("node_down", "alpha"), read_text(b.output));
  b.stop();
}

BOOST_AUTO_TEST_CASE(cell_killed_on_one_node_fails_the_call_with_cell_died_and_comes_back) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  const auto mark = tmp.dir / "request-arrived";
  node a{tmp, "alpha", {}};
  node b{tmp, "beta", {{"sleepy", "idle", "\"--mark=" + mark.string() + "\""}}};
  b.start(tmp, {}, tls);
  a.start(tmp, {&b}, tls);
  BOOST_TEST_REQUIRE(a.saw("node_up", "beta"), read_text(a.output));
  BOOST_TEST_REQUIRE(b.saw("ready", "sleepy"), read_text(b.output));

  // The call waits at the cell (it never answers) until the cell is killed.
  const auto call_out = tmp.dir / "call.out";
  auto call = spawn_cellhub({"call", "beta/sleepy", "zzz", "--connect", a.control(), "--tls-dir",
                             tls.string(), "--timeout", "60s"},
                            call_out);
  BOOST_TEST_REQUIRE(wait_until(
      tmp.dir, [&] { return fs::exists(mark); }, 60s));
  const auto status = nlohmann::json::parse(ask(b, {"status", "--json"}, tls).second);
  int pid = 0;
  for (const auto& cell : status["cells"])
    if (cell["name"] == "sleepy")
      pid = cell["pid"].get<int>();
  BOOST_TEST_REQUIRE(pid > 0);
  BOOST_TEST_REQUIRE(::kill(pid, SIGKILL) == 0);
  auto ended = call.wait_for(30s);
  BOOST_TEST_REQUIRE(ended.has_value());
  BOOST_TEST((!ended.value().signaled && ended.value().code == 1), ended.value().describe());
  BOOST_TEST(contains(read_text(call_out), "cell_died"), read_text(call_out));

  // Its next life is reachable from alpha by the same name: the mark of a new request.
  BOOST_TEST_REQUIRE(b.saw("ready", "sleepy", 2), read_text(b.output));
  fs::remove(mark);
  auto again = spawn_cellhub({"call", "beta/sleepy", "zzz", "--connect", a.control(), "--tls-dir",
                              tls.string(), "--timeout", "60s"},
                             tmp.dir / "again.out");
  BOOST_TEST(wait_until(
      tmp.dir, [&] { return fs::exists(mark); }, 60s));
  (void)again.send_signal(SIGKILL);
  a.stop();
  b.stop();
}

BOOST_AUTO_TEST_CASE(node_killed_fails_calls_in_flight_at_once_and_rejoins_when_restarted) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  const auto mark = tmp.dir / "request-arrived";
  node a{tmp, "alpha", {}};
  node b{
      tmp, "beta", {{"sleepy", "idle", "\"--mark=" + mark.string() + "\""}, {"store", "reverse"}}};
  node c{tmp, "gamma", {}};
  b.start(tmp, {}, tls);
  a.start(tmp, {&b}, tls);
  c.start(tmp, {&a, &b}, tls);
  for (const auto* n : {&a, &c})
    BOOST_TEST_REQUIRE(n->saw("node_up", "beta"), read_text(n->output));
  BOOST_TEST_REQUIRE(b.saw("ready", "store"), read_text(b.output));

  const auto call_out = tmp.dir / "call.out";
  auto call = spawn_cellhub({"call", "beta/sleepy", "zzz", "--connect", a.control(), "--tls-dir",
                             tls.string(), "--timeout", "60s"},
                            call_out);
  BOOST_TEST_REQUIRE(wait_until(
      tmp.dir, [&] { return fs::exists(mark); }, 60s));

  // The node's process dies: the call in flight fails with node_down, not by its own
  // 60 s timeout, and both other nodes publish node_down.
  BOOST_TEST_REQUIRE(b.proc->send_signal(SIGKILL).has_value());
  BOOST_TEST_REQUIRE(b.proc->wait_for(30s).has_value());
  b.proc.reset();
  auto ended = call.wait_for(30s);
  BOOST_TEST_REQUIRE(ended.has_value());
  BOOST_TEST(contains(read_text(call_out), "node_down"), read_text(call_out));
  for (const auto* n : {&a, &c})
    BOOST_TEST_REQUIRE(n->saw("node_down", "beta"), read_text(n->output));
  auto [code, out] = ask(c, {"call", "beta/store", "abc"}, tls);
  BOOST_TEST(code == 1);
  BOOST_TEST(contains(out, "node_down"), out);
  std::tie(code, out) = ask(a, {"status", "--json"}, tls);
  BOOST_TEST_REQUIRE(code == 0, out);
  BOOST_TEST(cells_of(out).at("beta/store")["reachable"] == false);

  // Back on the same port: it rejoins (a and c retry it), names resolve again.
  b.restart(tls);
  for (const auto* n : {&a, &c})
    BOOST_TEST_REQUIRE(n->saw("node_up", "beta", 2), read_text(n->output));
  BOOST_TEST_REQUIRE(b.saw("ready", "store"), read_text(b.output));
  BOOST_TEST_REQUIRE(wait_until(
      tmp.dir,
      [&] {
        return ask(c, {"call", "beta/store", "abc"}, tls).second == "cba";
      },
      60s));
  c.stop();
  a.stop();
  b.stop();
}

BOOST_AUTO_TEST_CASE(client_without_the_clusters_ca_is_refused_and_plain_links_stay_on_loopback) {
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  node a{tmp, "alpha", {{"front", "reverse"}}};
  a.start(tmp, {}, tls);

  // A certificate of another CA: refused at the TLS handshake, on the cluster port.
  const auto foreign = tmp.dir / "foreign";
  auto [code, out] =
      run_cellhub({"status", "--connect", a.address(), "--tls-dir", foreign.string()});
  // The foreign directory does not exist: a client never generates; make one first.
  if (code != 1 || !contains(out, "TLS handshake")) {
    node f{tmp, "foreign-maker", {}};
    f.start(tmp, {}, foreign);
    f.stop();
    std::tie(code, out) =
        run_cellhub({"status", "--connect", a.address(), "--tls-dir", foreign.string()});
  }
  BOOST_TEST(code == 1);
  BOOST_TEST(contains(out, "TLS handshake"), out);
  std::tie(code, out) = ask(a, {"call", "alpha/front", "ok"}, tls);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(out == "ko");
  a.stop();

  // Without TLS, a cluster may only listen on and join loopback addresses.
  const std::string head = head_toml(cellhub::test::unique_hub_path("cluster-plain"));
  const auto wide = tmp.write("wide.toml", head + "[cluster]\nnode = \"w\"\nlisten = \"0.0.0.0:" +
                                               std::to_string(free_port()) + "\"\n");
  std::tie(code, out) = run_cellhub({"run", wide.string(), "--plain", "--insecure"});
  BOOST_TEST(code == 2, out);
  BOOST_TEST(contains(out, "insecure"), out);
  const auto far =
      tmp.write("far.toml", head + "[cluster]\nnode = \"f\"\nlisten = \"127.0.0.1:" +
                                std::to_string(free_port()) + "\"\njoin = [\"10.1.2.3:7000\"]\n");
  std::tie(code, out) = run_cellhub({"run", far.string(), "--plain", "--insecure"});
  BOOST_TEST(code == 2, out);
  BOOST_TEST(contains(out, "insecure"), out);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// Runs a command through /bin/sh; returns whether it exited 0.
bool sh(const std::string& command) {
  return run_capture(command).first == 0;
}

// Two network namespaces joined by a veth pair, so that two hosts have distinct
// addresses; removed again (with their links) by the destructor.
struct netns_pair {
  std::string a;
  std::string b;
  std::string address_a;
  std::string address_b;
  std::string va; // a's end of the veth pair
  std::string vb;
  bool made = false;

  netns_pair() {
    const auto tag = std::to_string(::getpid() % 100000);
    a = "chA" + tag;
    b = "chB" + tag;
    const auto subnet = std::to_string(::getpid() % 250 + 1);
    address_a = "10.213." + subnet + ".1";
    address_b = "10.213." + subnet + ".2";
    va = "vchA" + tag;
    vb = "vchB" + tag;
    made = sh("ip netns add " + a) && sh("ip netns add " + b) &&
           sh("ip link add " + va + " type veth peer name " + vb) &&
           sh("ip link set " + va + " netns " + a) && sh("ip link set " + vb + " netns " + b) &&
           sh("ip -n " + a + " addr add " + address_a + "/24 dev " + va) &&
           sh("ip -n " + b + " addr add " + address_b + "/24 dev " + vb) &&
           sh("ip -n " + a + " link set " + va + " up") &&
           sh("ip -n " + b + " link set " + vb + " up") && sh("ip -n " + a + " link set lo up") &&
           sh("ip -n " + b + " link set lo up");
  }
  netns_pair(const netns_pair&) = delete;
  netns_pair& operator=(const netns_pair&) = delete;
  ~netns_pair() {
    // Deleting a namespace deletes its end of the veth pair, and so the pair.
    sh("ip netns del " + a + " 2>/dev/null");
    sh("ip netns del " + b + " 2>/dev/null");
  }
};

// Tells whether this process may make network namespaces (root with `ip netns`).
boost::test_tools::assertion_result netns_available(boost::unit_test::test_unit_id) {
  const auto tag = "chprobe" + std::to_string(::getpid());
  const bool ok = sh("ip netns add " + tag) && sh("ip netns del " + tag);
  boost::test_tools::assertion_result result{ok};
  if (!ok)
    result.message() << "no `ip netns` here (needs root and iproute2)";
  return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cellhub_cluster_netns)

BOOST_AUTO_TEST_CASE(nodes_in_two_network_namespaces_link_over_tls_across_a_veth_pair,
                     *boost::unit_test::precondition(netns_available)) {
  netns_pair net;
  BOOST_TEST_REQUIRE(net.made);
  scratch tmp;
  const auto tls = tmp.dir / "tls";
  const auto port = std::to_string(free_port());
  const auto control = std::to_string(free_port());
  const auto config = [&](const std::string& name, const std::string& self, const std::string& peer,
                          const std::string& cell) {
    return tmp.write(
        name + ".toml",
        head_toml(cellhub::test::unique_hub_path("netns-" + name)) + "[[cell]]\nname = \"" + cell +
            "\"\nbinary = \"" TEST_CELL_PATH
            "\"\nargs = [\"--mode=reverse\"]\nstart_timeout = \"10s\"\n"
            "[cluster]\nnode = \"" +
            name + "\"\nlisten = \"" + self + ":" + port + "\"\njoin = [\"" + peer + ":" + port +
            "\"]\njoin_retry = \"100ms\"\nheartbeat_interval = \"100ms\"\n"
            "heartbeat_timeout = \"1s\"\n");
  };
  // `cellhub` runs in the namespace through `ip netns exec`, which execs it.
  const auto in_ns = [](const std::string& ns, const std::vector<std::string>& args) {
    std::vector<std::string> all{"netns", "exec", ns, CELLHUB_PATH};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  };
  const auto out_a = tmp.dir / "a.out";
  const auto out_b = tmp.dir / "b.out";
  // Both listen on the same port number: each in its own namespace.
  auto host_a =
      tr::process::spawn({.binary = "/bin/sh",
                          .args = {"-c", "exec ip \"$@\" >'" + out_a.string() + "' 2>&1", "sh",
                                   "netns", "exec", net.a, CELLHUB_PATH, "run",
                                   config("alpha", net.address_a, net.address_b, "front").string(),
                                   "--plain", "--listen", control, "--tls-dir", tls.string(),
                                   "--events", (tmp.dir / "a.events").string()}});
  BOOST_TEST_REQUIRE(host_a.has_value());
  BOOST_TEST_REQUIRE(wait_for_text(out_a, "cluster node alpha listening", 60s), read_text(out_a));
  auto host_b = tr::process::spawn(
      {.binary = "/bin/sh",
       .args = {"-c", "exec ip \"$@\" >'" + out_b.string() + "' 2>&1", "sh", "netns", "exec", net.b,
                CELLHUB_PATH, "run", config("beta", net.address_b, net.address_a, "store").string(),
                "--plain", "--listen", control, "--tls-dir", tls.string(), "--events",
                (tmp.dir / "b.events").string()}});
  BOOST_TEST_REQUIRE(host_b.has_value());
  BOOST_TEST_REQUIRE(wait_for_events(
                         tmp.dir / "a.events",
                         [](const auto& all) { return count(all, "node_up", "beta") >= 1; }, 60s),
                     read_text(out_a) << read_text(out_b));
  BOOST_TEST_REQUIRE(wait_for_events(
      tmp.dir / "b.events", [](const auto& all) { return count(all, "ready", "store") >= 1; },
      60s));
  // From alpha's namespace, through its control port, to beta's cell at 10.213.x.2.
  std::string command = "exec ip";
  for (const auto& arg : in_ns(net.a, {"call", "beta/store", "veth", "--connect",
                                       "127.0.0.1:" + control, "--tls-dir", tls.string()}))
    command += " " + shell_quote(arg);
  const auto [code, out] = run_capture(command);
  BOOST_TEST(code == 0, out);
  BOOST_TEST(out == "htev", out);

  // A partition: the link carries nothing, yet no connection closes. Silence for the
  // heartbeat timeout makes each side see the other down; the link back, up again.
  BOOST_TEST_REQUIRE(sh("ip -n " + net.a + " link set " + net.va + " down"));
  for (const auto* events : {"a.events", "b.events"})
    BOOST_TEST(wait_for_events(
                   tmp.dir / events,
                   [](const auto& all) {
                     return count(all, "node_down", "alpha") + count(all, "node_down", "beta") >= 1;
                   },
                   60s),
               events);
  BOOST_TEST_REQUIRE(sh("ip -n " + net.a + " link set " + net.va + " up"));
  for (const auto* events : {"a.events", "b.events"})
    BOOST_TEST(wait_for_events(
                   tmp.dir / events,
                   [](const auto& all) {
                     return count(all, "node_up", "alpha") + count(all, "node_up", "beta") >= 2;
                   },
                   60s),
               events);
  for (auto* host : {&host_a.value(), &host_b.value()}) {
    BOOST_TEST_REQUIRE(host->send_signal(SIGTERM).has_value());
    const auto ended = host->wait_for(60s);
    BOOST_TEST_REQUIRE(ended.has_value());
    BOOST_TEST(ended.value().clean(), ended.value().describe());
  }
}

BOOST_AUTO_TEST_SUITE_END()
