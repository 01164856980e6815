// The sender's slot allocator on its own: which slot it hands out, and what it
// makes of the indices that come back through the return ring.
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/slot_pool.hpp"
#include "cellhub/transport/spsc_ring.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;

namespace {

// A pool over `classes` whose return ring lives in this object; `give_back` plays
// the receiver returning a slot.
struct pool_with_returns {
  tr::hub_geometry geometry;
  shm::ring_header header{};
  std::vector<std::uint32_t> elements;
  tr::ring_producer<std::uint32_t> returns;
  tr::slot_pool pool;

  explicit pool_with_returns(std::vector<tr::slot_class> classes)
      : geometry{tr::hub_geometry::compute({.max_peers = 1, .slot_classes = std::move(classes)})
                     .value()}
      , elements(geometry.return_capacity)
      , returns{&header, elements.data(), geometry.return_capacity}
      , pool{geometry,
             tr::ring_consumer<std::uint32_t>{&header, elements.data(), geometry.return_capacity}} {
  }

  std::uint32_t allocate(std::size_t length) {
    auto slot = pool.allocate(length);
    BOOST_TEST_REQUIRE(slot.has_value());
    BOOST_TEST_REQUIRE(slot.value().has_value());
    return *slot.value();
  }

  void give_back(std::uint32_t slot) { BOOST_TEST_REQUIRE(returns.push(slot).has_value()); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(slot_pool)

BOOST_AUTO_TEST_CASE(allocate_reuses_a_returned_slot_before_taking_a_larger_class) {
  pool_with_returns p{{{1024, 2}, {4096, 2}}};
  const auto first = p.allocate(1000);
  const auto second = p.allocate(1000);
  BOOST_TEST(p.geometry.class_of(second) == 0u);
  p.give_back(first);
  const auto third = p.allocate(1000);
  BOOST_TEST(third == first);
  BOOST_TEST(p.pool.in_flight() == 2u);
}

BOOST_AUTO_TEST_CASE(allocate_reuses_the_slot_returned_last_while_its_class_has_cold_ones) {
  pool_with_returns p{{{1u << 20, 16}}};
  const auto first = p.allocate(1u << 20);
  p.give_back(first);
  // A stream with one payload in flight keeps writing the same warm slot.
  for (int i = 0; i < 32; ++i) {
    const auto next = p.allocate(1u << 20);
    BOOST_TEST_REQUIRE(next == first);
    p.give_back(next);
  }
}

BOOST_AUTO_TEST_CASE(allocate_takes_a_larger_class_when_nothing_came_back) {
  pool_with_returns p{{{1024, 1}, {4096, 1}}};
  const auto small = p.allocate(100);
  const auto spilled = p.allocate(100);
  BOOST_TEST(p.geometry.class_of(small) == 0u);
  BOOST_TEST(p.geometry.class_of(spilled) == 1u);
  auto none = p.pool.allocate(100);
  BOOST_TEST_REQUIRE(none.has_value());
  BOOST_TEST(!none.value().has_value());
}

BOOST_AUTO_TEST_CASE(returned_index_that_is_not_in_flight_is_a_protocol_violation) {
  pool_with_returns p{{{1024, 1}, {4096, 1}}};
  (void)p.allocate(100);
  p.give_back(1); // never handed out
  auto slot = p.pool.allocate(100);
  BOOST_TEST_REQUIRE(!slot.has_value());
  BOOST_TEST(slot.error().code == tr::errc::protocol_violation);
}

BOOST_AUTO_TEST_SUITE_END()
