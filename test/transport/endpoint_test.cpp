// Traffic between a host transport and a cell in the same process: payload
// classes, zero-copy leases, back-pressure, wake-up skipping and the audit.
#include "linked_pair.hpp"
#include "payload_check.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using cellhub::test::make_payload;

namespace {

using cellhub::test::linked_pair;
using cellhub::test::take;

tr::incoming_message take(tr::peer_transport& host) {
  auto msg = host.try_receive();
  BOOST_TEST_REQUIRE(msg.has_value(), (msg ? "" : msg.error().message()));
  BOOST_TEST_REQUIRE(msg.value().has_value());
  return std::move(*msg.value());
}

} // namespace

BOOST_AUTO_TEST_SUITE(endpoint)

BOOST_AUTO_TEST_CASE(payloads_of_every_size_round_trip_both_ways) {
  linked_pair link;
  for (std::size_t size : {8u, 40u, 41u, 64u, 4096u, 16384u, 65536u, 1u << 20}) {
    BOOST_TEST_CONTEXT("size " << size) {
      const auto request = make_payload(size, size);
      BOOST_TEST_REQUIRE(link.host->send(shm::message_kind::request, size, request).has_value());
      auto got = take(*link.cell);
      BOOST_TEST((got.kind == shm::message_kind::request));
      BOOST_TEST(got.msg_id == size);
      BOOST_TEST(got.payload.in_slot() == (size > shm::inline_capacity));
      BOOST_TEST(cellhub::test::checksum_ok(got.payload.bytes()));

      auto answer = link.cell->prepare(size).value();
      cellhub::test::write_answer(got.payload.bytes(), answer.bytes());
      BOOST_TEST_REQUIRE(
          link.cell->commit(answer, shm::message_kind::reply, got.msg_id, 0).has_value());
      auto reply = take(*link.host);
      BOOST_TEST((reply.kind == shm::message_kind::reply));
      BOOST_TEST(cellhub::test::is_answer(request, reply.payload.bytes()));
    }
  }
}

BOOST_AUTO_TEST_CASE(lease_is_zero_copy_and_returns_its_slot_when_released) {
  linked_pair link{{.slot_classes = {{4096, 2}}}};
  const auto payload = make_payload(3000, 1);
  BOOST_TEST_REQUIRE(link.cell->send(payload).has_value());
  auto msg = take(*link.host);
  BOOST_TEST(msg.payload.in_slot());
  BOOST_TEST(link.host->slots_leased() == 1u);
  // The lease reads the cell's slot itself: a byte the cell changes in its arena
  // (slot 0, the first one handed out) shows through the lease.
  auto* slot0 = link.cell->region() + link.hub->geometry().to_host_arena_offset;
  BOOST_TEST((msg.payload.bytes()[100] == slot0[100]));
  slot0[100] = ~slot0[100];
  BOOST_TEST((msg.payload.bytes()[100] == slot0[100]));
  msg.payload.release();
  BOOST_TEST(link.host->slots_leased() == 0u);
}

BOOST_AUTO_TEST_CASE(exhausted_arena_reports_no_slot_until_the_receiver_releases) {
  linked_pair link{{.slot_classes = {{4096, 2}}}};
  const auto payload = make_payload(1000, 2);
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  auto third = link.host->send(payload);
  BOOST_TEST_REQUIRE(!third.has_value());
  BOOST_TEST(third.error().code == tr::errc::no_slot);
  BOOST_TEST(link.hub->audit().slots_in_flight_to_cells == 2u);

  auto first = take(*link.cell);
  first.payload.release();
  BOOST_TEST(link.hub->audit().slots_in_flight_to_cells == 1u);
  BOOST_TEST(link.host->send(payload).has_value());
}

BOOST_AUTO_TEST_CASE(no_slot_formats_no_detail_but_still_reads_well) {
  linked_pair link{{.slot_classes = {{4096, 1}}}};
  BOOST_TEST_REQUIRE(link.host->send(make_payload(1000, 4)).has_value());
  auto refused = link.host->prepare(1000);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST(refused.error().code == tr::errc::no_slot);
  // Back-pressure is routine: an empty detail costs no allocation.
  BOOST_TEST(refused.error().detail.empty());
  BOOST_TEST(refused.error().message() == "no_slot: every fitting slot is in flight");
}

BOOST_AUTO_TEST_CASE(payload_larger_than_the_largest_class_is_refused) {
  linked_pair link{{.slot_classes = {{4096, 2}}}};
  auto sent = link.host->send(std::vector<std::byte>(4097));
  BOOST_TEST_REQUIRE(!sent.has_value());
  BOOST_TEST(sent.error().code == tr::errc::payload_too_large);
}

BOOST_AUTO_TEST_CASE(full_ring_reports_ring_full) {
  linked_pair link{{.ring_capacity = 4}};
  for (int i = 0; i < 4; ++i)
    BOOST_TEST_REQUIRE(link.host->send(std::vector<std::byte>(8)).has_value());
  auto sent = link.host->send(std::vector<std::byte>(8));
  BOOST_TEST_REQUIRE(!sent.has_value());
  BOOST_TEST(sent.error().code == tr::errc::ring_full);
  take(*link.cell);
  BOOST_TEST(link.host->send(std::vector<std::byte>(8)).has_value());
}

BOOST_AUTO_TEST_CASE(awake_cell_gets_no_doorbell_but_event_driven_host_does) {
  linked_pair link;
  // The cell is not waiting: the host must not ring it.
  BOOST_TEST_REQUIRE(link.host->send(std::vector<std::byte>(8)).has_value());
  BOOST_TEST((link.cell->link().bell().drain() == tr::doorbell::drain_result::empty));
  // The host waits on its doorbell (event-driven): a cell message rings it.
  auto host_bell = tr::doorbell::adopt(::dup(link.host->doorbell_fd()));
  BOOST_TEST((host_bell.drain() != tr::doorbell::drain_result::peer_dead));
  BOOST_TEST_REQUIRE(link.cell->send(std::vector<std::byte>(8)).has_value());
  BOOST_TEST((host_bell.drain() == tr::doorbell::drain_result::drained));
}

BOOST_AUTO_TEST_CASE(sleeping_cell_is_woken_by_every_message_without_loss) {
  linked_pair link;
  constexpr int rounds = 2000;
  std::thread cell_thread{[&] {
    for (int i = 0; i < rounds; ++i) {
      auto msg = link.cell->receive(10s);
      if (!msg || msg.value().msg_id != static_cast<std::uint64_t>(i))
        return;
      if (!link.cell->reply(msg.value().msg_id, msg.value().payload.bytes()))
        return;
    }
  }};
  int answered = 0;
  for (int i = 0; i < rounds; ++i) {
    if (!link.host->send(shm::message_kind::request, static_cast<std::uint64_t>(i),
                         make_payload(16, static_cast<std::uint64_t>(i))))
      break;
    // No spinning on the host: each reply must arrive through the doorbell.
    auto reply = link.host->receive(10s);
    if (!reply || reply.value().msg_id != static_cast<std::uint64_t>(i))
      break;
    ++answered;
  }
  cell_thread.join();
  BOOST_TEST(answered == rounds);
}

BOOST_AUTO_TEST_CASE(lease_outlives_its_transport_and_keeps_the_entry_until_released) {
  linked_pair link{{.max_peers = 1}};
  const auto payload = make_payload(2000, 3);
  BOOST_TEST_REQUIRE(link.cell->send(payload).has_value());
  auto msg = take(*link.host);
  link.cell.reset();
  link.host.reset();
  auto audit = link.hub->audit();
  BOOST_TEST(audit.peers_draining == 1u);
  BOOST_TEST(audit.slots_leased_from_cells == 1u);
  BOOST_TEST(!link.hub->add_peer_transport().has_value());
  // The payload is intact although its transport is gone.
  BOOST_TEST(std::equal(payload.begin(), payload.end(), msg.payload.bytes().begin()));
  msg.payload.release();
  audit = link.hub->audit();
  BOOST_TEST(audit.peers_free == 1u);
  BOOST_TEST(audit.slots_leased_from_cells == 0u);
  BOOST_TEST(link.hub->add_peer_transport().has_value());
}

BOOST_AUTO_TEST_SUITE_END()
