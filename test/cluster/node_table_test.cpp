#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/cluster/node_table.hpp"

#include <boost/test/unit_test.hpp>

namespace ac = cellhub::actors;
namespace cl = cellhub::cluster;

namespace {

ac::lifecycle_event event(ac::event_kind kind, const std::string& name, std::int32_t peer_id = -1,
                          std::uint32_t incarnation = 0) {
  ac::lifecycle_event e;
  e.ts_ns = 1000;
  e.kind = kind;
  e.name = name;
  e.supervisor = "root";
  e.peer_id = peer_id;
  e.incarnation = incarnation;
  e.pid = peer_id >= 0 ? 4000 + peer_id : 0;
  return e;
}

// Returns the error a name resolves to, or none.
std::optional<ac::errc> error_of(const cl::node_table& table, std::string_view name) {
  const auto resolved = table.resolve(name);
  if (const auto* code = std::get_if<ac::errc>(&resolved))
    return *code;
  return std::nullopt;
}

// Returns the node a name resolves to, or "".
std::string node_of(const cl::node_table& table, std::string_view name) {
  const auto resolved = table.resolve(name);
  if (const auto* target = std::get_if<cl::cell_target>(&resolved))
    return target->node;
  return {};
}

cl::cell_record record(const std::string& name, std::int32_t peer_id) {
  return {.name = name, .state = ac::child_state::running, .peer_id = peer_id, .incarnation = 1};
}

} // namespace

BOOST_AUTO_TEST_SUITE(node_table)

BOOST_AUTO_TEST_CASE(cells_follow_their_lifecycle_events_and_supervisors_stay_out) {
  cl::node_table table{"a"};
  table.apply("a", event(ac::event_kind::started, "workers")); // a supervisor: no peer id
  table.apply("a", event(ac::event_kind::started, "w1", 3, 1));
  auto cells = table.own_cells();
  BOOST_TEST_REQUIRE(cells.size() == 1u);
  BOOST_TEST(cells[0].name == "w1");
  BOOST_TEST(cells[0].node == "a");
  BOOST_TEST((cells[0].state == ac::child_state::starting));
  table.apply("a", event(ac::event_kind::ready, "w1", 3, 1));
  BOOST_TEST((table.own_cells()[0].state == ac::child_state::running));
  BOOST_TEST(table.own_cells()[0].ready_ns == 1000);

  auto died = event(ac::event_kind::died, "w1", 3, 1);
  died.end = ac::life_end{.how = ac::ending::killed, .pid = 4003};
  table.apply("a", died);
  table.apply("a", event(ac::event_kind::restarting, "w1"));
  table.apply("a", event(ac::event_kind::ready, "w1", 5, 2));
  cells = table.own_cells();
  BOOST_TEST((cells[0].state == ac::child_state::running));
  BOOST_TEST(cells[0].peer_id == 5);
  BOOST_TEST(cells[0].incarnation == 2u);
  BOOST_TEST(cells[0].restarts == 1u);
  BOOST_TEST_REQUIRE(static_cast<bool>(cells[0].last_end));
  BOOST_TEST((cells[0].last_end->how == ac::ending::killed));

  table.apply("a", event(ac::event_kind::removed, "w1"));
  BOOST_TEST(table.own_cells().empty());
}

BOOST_AUTO_TEST_CASE(names_resolve_by_node_or_uniquely_and_say_why_not) {
  cl::node_table table{"a"};
  table.apply("a", event(ac::event_kind::ready, "front", 1, 1));
  table.apply("a", event(ac::event_kind::ready, "shared", 2, 1));
  BOOST_TEST(table.node_up("b", {record("store", 1), record("shared", 4)}, 10));
  BOOST_TEST(!table.node_up("b", {record("store", 1), record("shared", 4)}, 11)); // not again

  BOOST_TEST(node_of(table, "front") == "a");
  BOOST_TEST(node_of(table, "store") == "b");
  BOOST_TEST(node_of(table, "b/store") == "b");
  BOOST_TEST(node_of(table, "a/shared") == "a");
  BOOST_TEST(node_of(table, "b/shared") == "b");
  // This node's registry decides its own names, even one the table has not seen.
  BOOST_TEST(node_of(table, "a/not-yet") == "a");
  BOOST_TEST((error_of(table, "shared") == ac::errc::ambiguous_name));
  BOOST_TEST((error_of(table, "nobody") == ac::errc::unknown_name));
  BOOST_TEST((error_of(table, "b/nobody") == ac::errc::unknown_name));
  BOOST_TEST((error_of(table, "c/store") == ac::errc::unknown_node));
}

BOOST_AUTO_TEST_CASE(a_lost_node_keeps_its_cells_unreachable_until_it_comes_back) {
  cl::node_table table{"a"};
  table.node_up("b", {record("store", 1)}, 10);
  BOOST_TEST(table.is_up("b"));
  BOOST_TEST(table.node_down("b", 20));
  BOOST_TEST(!table.node_down("b", 21)); // once
  BOOST_TEST(!table.node_down("a", 22)); // this node is never down to itself
  BOOST_TEST(!table.is_up("b"));
  BOOST_TEST((error_of(table, "store") == ac::errc::node_down));
  BOOST_TEST((error_of(table, "b/store") == ac::errc::node_down));
  auto status = table.status();
  BOOST_TEST(status.node == "a");
  BOOST_TEST_REQUIRE(status.nodes.size() == 1u);
  BOOST_TEST(!status.nodes[0].up);
  BOOST_TEST(status.nodes[0].since_ns == 20);
  BOOST_TEST_REQUIRE(status.cells.size() == 1u);
  BOOST_TEST(!status.cells[0].reachable);

  // Back with a new life of its cell: the snapshot replaces what was known.
  BOOST_TEST(table.node_up("b", {record("store", 7)}, 30));
  status = table.status();
  BOOST_TEST(status.nodes[0].up);
  BOOST_TEST(status.cells[0].reachable);
  BOOST_TEST(status.cells[0].peer_id == 7);
  BOOST_TEST(node_of(table, "store") == "b");
}

BOOST_AUTO_TEST_CASE(a_snapshot_cannot_speak_for_another_node) {
  cl::node_table table{"a"};
  auto forged = record("store", 1);
  forged.node = "c";
  table.node_up("b", {forged}, 10);
  const auto status = table.status();
  BOOST_TEST_REQUIRE(status.cells.size() == 1u);
  BOOST_TEST(status.cells[0].node == "b");
  BOOST_TEST((error_of(table, "c/store") == ac::errc::unknown_node));
}

BOOST_AUTO_TEST_CASE(a_node_cannot_grow_the_table_past_its_bound) {
  cl::node_table table{"a"};
  std::vector<cl::cell_record> many;
  for (std::size_t i = 0; i < cl::node_table::max_cells_per_node + 10; ++i)
    many.push_back(record("c" + std::to_string(i), 1));
  table.node_up("b", std::move(many), 10);
  table.apply("b", event(ac::event_kind::started, "one-more", 2, 1));
  BOOST_TEST(table.status().cells.size() == cl::node_table::max_cells_per_node);
  BOOST_TEST((error_of(table, "b/one-more") == ac::errc::unknown_name));
}

BOOST_AUTO_TEST_CASE(node_names_and_addresses_are_checked) {
  BOOST_TEST(cl::check_node_name("node-b.1_x").empty());
  BOOST_TEST(!cl::check_node_name("").empty());
  BOOST_TEST(!cl::check_node_name("a/b").empty());
  BOOST_TEST(!cl::check_node_name(std::string(65, 'a')).empty());
  cl::node_address address;
  BOOST_TEST(cl::parse_node_address("127.0.0.1:7001", address));
  BOOST_TEST(address.host == "127.0.0.1");
  BOOST_TEST(address.port == 7001);
  BOOST_TEST(address.to_string() == "127.0.0.1:7001");
  BOOST_TEST(cl::parse_node_address("[::1]:0", address));
  BOOST_TEST(address.host == "::1");
  BOOST_TEST(address.to_string() == "[::1]:0");
  BOOST_TEST(!cl::parse_node_address("::1:7001", address));
  BOOST_TEST(!cl::parse_node_address("host:", address));
  BOOST_TEST(!cl::parse_node_address(":7001", address));
  BOOST_TEST(!cl::parse_node_address("host:70000", address));
  BOOST_TEST(!cl::parse_node_address("host:7x", address));
}

BOOST_AUTO_TEST_SUITE_END()
