// What a hostile cell writes into its shared memory, as the host reads it: the cases the
// fuzz targets (test/fuzz) found the host getting wrong, each kept here as a plain test.

#include "linked_pair.hpp"

#include "cellhub/transport/shm_layout.hpp"

#include <boost/test/unit_test.hpp>

#include <array>
#include <cstddef>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using cellhub::test::linked_pair;

namespace {

// Returns the header of the host→cell ring, as the cell can write it.
shm::ring_header& to_cell_ring(linked_pair& pair) {
  return *reinterpret_cast<shm::ring_header*>(pair.cell->region() +
                                              pair.hub->geometry().to_cell_ring_offset);
}

} // namespace

BOOST_AUTO_TEST_SUITE(hostile_cell)

// host_send / host_receive fuzz targets: the cell moved the tail of the ring the host writes
// past the host's head, and progress() reported 2^64 - 93 messages waiting for the cell, so
// that hang detection took an idle cell for a busy one.
BOOST_AUTO_TEST_CASE(tail_written_past_the_head_does_not_count_as_unread_messages) {
  linked_pair pair{{}, "tail-past-head"};
  BOOST_TEST(pair.host->progress().unread_by_cell == 0u);
  to_cell_ring(pair).tail.store(93);
  BOOST_TEST(pair.host->progress().unread_by_cell == 0u);

  const std::array<std::byte, 8> bytes{};
  BOOST_TEST_REQUIRE(pair.host->send(bytes).has_value());
  BOOST_TEST_REQUIRE(pair.host->send(bytes).has_value());
  // Nonsense counts as the last tail the host accepted: both messages still wait.
  BOOST_TEST(pair.host->progress().unread_by_cell == 2u);
  to_cell_ring(pair).tail.store(~std::uint64_t{0});
  BOOST_TEST(pair.host->progress().unread_by_cell == 2u);
  // A sane tail counts again.
  to_cell_ring(pair).tail.store(1);
  BOOST_TEST(pair.host->progress().unread_by_cell == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
