// Two nodes in one process, each its own actor system with its own middleman, linked
// over loopback: calls and casts by cluster name through the embedding API, the
// cluster's status, and a node that ends while a call to it is in flight. (The CLI's
// tests run real `cellhub run` hosts: test/cli/cli_cluster_test.cpp.)

#include "hub_path.hpp"
#include "log_capture.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/cluster/cluster_node.hpp"
#include "cellhub/cluster/messages.hpp"
#include "cellhub/remote/link_security.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace ac = cellhub::actors;
namespace cl = cellhub::cluster;
namespace rm = cellhub::remote;
using namespace std::chrono_literals;

namespace {

// Every wait is bounded by this: a broken link fails a test, never hangs it.
constexpr auto deadline = 60s;

caf::actor_system_config& prepared(caf::actor_system_config& cfg) {
  ac::prepare_config(cfg);
  cl::prepare_config(cfg);
  rm::link_security::insecure().configure(cfg);
  return cfg;
}

// A test cell child named `name` in `mode`.
ac::child_spec test_cell(const std::string& name, const std::string& mode) {
  ac::cell_spec spec;
  spec.name = name;
  spec.binary = TEST_CELL_PATH;
  spec.args = {"--mode=" + mode};
  spec.start_timeout = 30s; // generous: sanitizers make starting slow
  spec.hang_timeout = 0ms;
  return spec;
}

// One node: an actor system, its node actor and its supervision tree of `cells`.
struct test_node {
  caf::actor_system_config cfg;
  caf::actor_system sys{prepared(cfg)};
  caf::scoped_actor self{sys};
  std::optional<cl::cluster_node> node;
  std::optional<ac::supervision_tree> tree;
  std::uint16_t port = 0;

  test_node(const std::string& name, std::vector<ac::child_spec> cells,
            std::vector<cl::node_address> join = {}) {
    node.emplace(cl::cluster_node::spawn(sys,
                                         {.node = name,
                                          .listen = {"127.0.0.1", 0},
                                          .join = std::move(join),
                                          .heartbeat_interval = 100ms,
                                          .heartbeat_timeout = 5s,
                                          .join_retry = 100ms},
                                         rm::link_security::insecure()));
    // The test's own actor hears node_up/node_down.
    self->request(node->actor(), deadline, caf::subscribe_atom_v, caf::actor{self})
        .receive([](caf::ok_atom) {}, [&](const caf::error& err) { BOOST_FAIL(sys.render(err)); });
    ac::supervisor_spec root;
    root.name = name;
    root.max_restarts = 10;
    root.period = 10s;
    root.children = std::move(cells);
    auto started =
        ac::supervision_tree::start(sys, cellhub::test::unique_hub_path("cluster-node-" + name),
                                    std::move(root), {.subscribers = {node->subscriber()}});
    BOOST_TEST_REQUIRE(static_cast<bool>(started), (started ? "" : sys.render(started.error())));
    tree.emplace(std::move(*started));
    auto bound = node->start(tree->registry());
    BOOST_TEST_REQUIRE(bound.has_value(), (bound ? "" : bound.error().message()));
    port = bound.value();
  }

  ~test_node() {
    if (node)
      node->stop();
    if (tree)
      (void)tree->stop();
  }

  // Waits for the node event `kind` about `about`.
  void expect_node_event(ac::event_kind kind, const std::string& about) {
    bool seen = false;
    while (!seen) {
      self->receive(
          [&](const ac::lifecycle_event& event) {
            seen = event.kind == kind && event.name == about;
          },
          caf::after(deadline) >> [&] { BOOST_FAIL("no " << ac::to_string(kind)); });
    }
  }

  // Calls `name` by cluster name; returns the reply's text or the error's name.
  std::string call(const std::string& name, const std::string& text) {
    std::string out;
    self->request(node->actor(), deadline, ac::call_atom_v, name, ac::payload::from_string(text))
        .receive([&](const ac::payload& reply) { out = std::string{reply.as_string()}; },
                 [&](const caf::error& err) { out = "error: " + sys.render(err); });
    return out;
  }

  // Calls `name` until it answers (its cell may still be starting); returns the reply.
  std::string call_when_ready(const std::string& name, const std::string& text) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    std::string out;
    do {
      out = call(name, text);
    } while (out.starts_with("error") && std::chrono::steady_clock::now() < until);
    return out;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cluster_node)

BOOST_AUTO_TEST_CASE(calls_and_casts_by_cluster_name_cross_nodes_in_order) {
  cellhub::test::log_capture log;
  test_node b{"b", {test_cell("store", "reverse"), test_cell("tally", "tally")}};
  test_node a{"a", {test_cell("front", "reverse")}, {{"127.0.0.1", b.port}}};
  a.expect_node_event(ac::event_kind::node_up, "b");
  b.expect_node_event(ac::event_kind::node_up, "a");

  BOOST_TEST(a.call_when_ready("b/store", "abc") == "cba");
  BOOST_TEST(a.call_when_ready("front", "xy") == "yx"); // a's own, by a bare name
  BOOST_TEST(b.call_when_ready("a/front", "12") == "21");
  BOOST_TEST(contains(a.call("c/store", "x"), "unknown_node"));

  // Casts by a bare name, then a call behind them on the same way: all arrived, in order.
  BOOST_TEST_REQUIRE(a.call_when_ready("tally", "count") == "0 in order");
  for (int i = 0; i < 200; ++i)
    caf::anon_send(a.node->actor(), ac::cast_atom_v, std::string{"tally"},
                   ac::payload::from_string("cast-" + std::to_string(i)));
  BOOST_TEST(a.call("b/tally", "count") == "200 in order");

  // A stray error message ends neither a node actor nor a registry (CAF's default
  // handler would quit with it): both still answer.
  caf::anon_send(caf::actor_cast<caf::actor>(b.node->actor()),
                 caf::make_error(caf::sec::unexpected_message));
  caf::anon_send(caf::actor_cast<caf::actor>(b.tree->registry()),
                 caf::make_error(caf::sec::unexpected_message));
  BOOST_TEST(a.call("b/store", "stray") == "yarts");

  // The whole cluster, from either node.
  a.self->request(a.node->actor(), deadline, cl::cluster_atom_v)
      .receive(
          [](const cl::cluster_status& status) {
            BOOST_TEST(status.node == "a");
            BOOST_TEST_REQUIRE(status.nodes.size() == 1u);
            BOOST_TEST(status.nodes[0].name == "b");
            BOOST_TEST(status.nodes[0].up);
            std::vector<std::string> names;
            for (const auto& cell : status.cells)
              names.push_back(cell.node + "/" + cell.name);
            BOOST_TEST((names == std::vector<std::string>{"a/front", "b/store", "b/tally"}));
          },
          [&](const caf::error& err) { BOOST_FAIL(a.sys.render(err)); });
}

BOOST_AUTO_TEST_CASE(a_node_that_ends_fails_the_calls_in_flight_to_it_with_node_down) {
  cellhub::test::log_capture log;
  std::optional<test_node> b;
  b.emplace("b", std::vector{test_cell("sleepy", "idle"), test_cell("store", "reverse")});
  test_node a{"a", {}, {{"127.0.0.1", b->port}}};
  a.expect_node_event(ac::event_kind::node_up, "b");
  BOOST_TEST_REQUIRE(a.call_when_ready("b/store", "ok") == "ko");

  // The idle cell never answers: the call stays in flight until b goes.
  std::optional<std::string> answer;
  auto in_flight = a.self->request(a.node->actor(), deadline, ac::call_atom_v,
                                   std::string{"b/sleepy"}, ac::payload::from_string("zzz"));
  b->node->stop();
  a.expect_node_event(ac::event_kind::node_down, "b");
  // Answered by the loss, long before its own deadline would end it with a timeout.
  in_flight.receive([&](const ac::payload&) { answer = "a reply"; },
                    [&](const caf::error& err) { answer = a.sys.render(err); });
  BOOST_TEST(contains(*answer, "node_down"), *answer);
  BOOST_TEST(contains(a.call("b/store", "x"), "node_down"));
  BOOST_TEST(contains(a.call("store", "x"), "node_down"));
  b.reset();
}

BOOST_AUTO_TEST_SUITE_END()
