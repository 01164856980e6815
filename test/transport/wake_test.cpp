// Who rings whom: a side rings its peer for a new message only when the peer asks
// for messages, and for freed space (a returned slot, descriptors taken out of a
// ring) only when the peer is blocked on it. Doorbells are looked at with a zero
// timeout right after the operation, which is deterministic.
#include "linked_pair.hpp"
#include "payload_check.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>
#include <unistd.h>

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using cellhub::test::make_payload;
using lack = tr::endpoint::lack;

namespace {

using cellhub::test::take;

// A linked pair plus a copy of the host's doorbell end, to watch the rings the
// host gets.
struct linked_pair : cellhub::test::linked_pair {
  tr::doorbell host_bell;

  explicit linked_pair(tr::hub_config config = {})
      : cellhub::test::linked_pair{std::move(config), "wake"}
      , host_bell{tr::doorbell::adopt(::dup(host->doorbell_fd()))} {
    // READY rang the host; start from a silent doorbell.
    BOOST_TEST_REQUIRE((host_bell.drain() != tr::doorbell::drain_result::peer_dead));
  }

  // Tells whether the host has been rung since the last look, and forgets it.
  bool host_rang() { return host_bell.drain() == tr::doorbell::drain_result::drained; }

  // Tells whether the cell has been rung since the last look, and forgets it.
  bool cell_rang() { return cell->link().bell().drain() == tr::doorbell::drain_result::drained; }
};

// Takes every waiting message, as a cell's receive loop does before it sleeps.
int take_all(tr::cell& cell) {
  int taken = 0;
  for (;;) {
    auto msg = cell.try_receive();
    BOOST_TEST_REQUIRE(msg.has_value());
    if (!msg.value())
      return taken;
    ++taken;
  }
}

tr::incoming_message take(tr::peer_transport& host) {
  auto msg = host.try_receive();
  BOOST_TEST_REQUIRE(msg.has_value());
  BOOST_TEST_REQUIRE(msg.value().has_value());
  return std::move(*msg.value());
}

} // namespace

BOOST_AUTO_TEST_SUITE(wake)

BOOST_AUTO_TEST_CASE(returned_slot_does_not_ring_a_host_that_did_not_ask_for_space) {
  linked_pair link;
  BOOST_TEST_REQUIRE(link.host->send(make_payload(1000, 1)).has_value());
  auto msg = take(*link.cell);
  BOOST_TEST_REQUIRE(msg.payload.in_slot());
  msg.payload.release();
  BOOST_TEST(link.host->slots_in_flight() == 0u);
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::nothing)); // it never asked
  BOOST_TEST(!link.host_rang());
}

BOOST_AUTO_TEST_CASE(returned_slot_rings_a_host_that_ran_out_of_slots_until_it_sends_again) {
  linked_pair link{{.slot_classes = {{4096, 2}}}};
  const auto payload = make_payload(1000, 2);
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  auto refused = link.host->send(payload);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST_REQUIRE(refused.error().code == tr::errc::no_slot);
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::slot)); // it asks for a slot
  BOOST_TEST(!link.host_rang());

  take(*link.cell).payload.release();
  BOOST_TEST(link.host_rang());
  // The host's backlog goes out; from then on returns are silent again.
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::nothing));
  take(*link.cell).payload.release();
  BOOST_TEST(!link.host_rang());
}

BOOST_AUTO_TEST_CASE(
    host_blocked_on_a_full_ring_of_inline_messages_is_rung_when_the_cell_takes_them) {
  linked_pair link{{.ring_capacity = 4}};
  const auto small = make_payload(16, 3);
  for (int i = 0; i < 4; ++i)
    BOOST_TEST_REQUIRE(link.host->send(small).has_value());
  auto refused = link.host->send(small);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST_REQUIRE(refused.error().code == tr::errc::ring_full);
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::room)); // blocked on ring room
  BOOST_TEST(!link.host_rang());

  BOOST_TEST(take_all(*link.cell) == 4);
  BOOST_TEST(link.host_rang());
  BOOST_TEST_REQUIRE(link.host->send(small).has_value());
}

BOOST_AUTO_TEST_CASE(host_blocked_on_a_full_ring_is_rung_once_a_quarter_of_it_was_taken) {
  linked_pair link{{.ring_capacity = 16}};
  const auto small = make_payload(16, 8);
  for (int i = 0; i < 16; ++i)
    BOOST_TEST_REQUIRE(link.host->send(small).has_value());
  BOOST_TEST_REQUIRE(!link.host->send(small).has_value());
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::room)); // blocked on ring room
  for (int i = 0; i < 3; ++i) {
    take(*link.cell);
    BOOST_TEST(!link.host_rang());
  }
  take(*link.cell);
  BOOST_TEST(link.host_rang());
}

BOOST_AUTO_TEST_CASE(host_that_muted_message_wakeups_is_not_rung_until_it_restores_them) {
  linked_pair link{{.slot_classes = {{4096, 2}}}};
  const auto small = make_payload(16, 9);
  // Event-driven: every message rings the host.
  BOOST_TEST_REQUIRE(link.cell->send(small).has_value());
  BOOST_TEST_REQUIRE(link.host_rang());
  take(*link.host);

  // A receiver that polls the ring itself mutes the doorbell for messages...
  link.host->mute_message_wakeups();
  BOOST_TEST(!link.host->message_hint());
  BOOST_TEST_REQUIRE(link.cell->send(small).has_value());
  BOOST_TEST(!link.host_rang());
  BOOST_TEST(link.host->message_hint());
  // ...and restoring them tells it what came meanwhile, which rang nobody.
  BOOST_TEST(link.host->restore_message_wakeups());
  take(*link.host);
  BOOST_TEST(!link.host->restore_message_wakeups());
  BOOST_TEST(!link.host->message_hint());
  BOOST_TEST_REQUIRE(link.cell->send(small).has_value());
  BOOST_TEST(link.host_rang());
  take(*link.host);

  // A wish for space outlives the mute: a host out of slots is still rung for one.
  const auto big = make_payload(1000, 10);
  BOOST_TEST_REQUIRE(link.host->send(big).has_value());
  BOOST_TEST_REQUIRE(link.host->send(big).has_value());
  BOOST_TEST_REQUIRE(!link.host->send(big).has_value());
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::slot));
  link.host->mute_message_wakeups();
  take(*link.cell).payload.release();
  BOOST_TEST(link.host_rang());
  BOOST_TEST(!link.host->restore_message_wakeups());
}

BOOST_AUTO_TEST_CASE(taking_messages_does_not_ring_a_host_that_did_not_ask_for_room) {
  linked_pair link{{.ring_capacity = 4}};
  for (int i = 0; i < 4; ++i)
    BOOST_TEST_REQUIRE(link.host->send(make_payload(16, 4)).has_value());
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::nothing)); // full, but never refused
  BOOST_TEST(take_all(*link.cell) == 4);
  BOOST_TEST(!link.host_rang());
}

BOOST_AUTO_TEST_CASE(cell_that_ran_out_of_slots_is_rung_when_the_host_returns_one) {
  linked_pair link{{.slot_classes = {{4096, 1}}}};
  const auto payload = make_payload(1000, 5);
  BOOST_TEST_REQUIRE(link.cell->send(payload).has_value());
  auto refused = link.cell->send(payload);
  BOOST_TEST_REQUIRE(!refused.has_value());
  BOOST_TEST_REQUIRE(refused.error().code == tr::errc::no_slot);
  BOOST_TEST_REQUIRE((link.cell->link().lacking() == lack::slot)); // it asks for a slot
  BOOST_TEST(!link.cell_rang());
  take(*link.host).payload.release();
  BOOST_TEST(link.cell_rang());
}

BOOST_AUTO_TEST_CASE(wait_for_space_after_no_slot_waits_for_a_slot_not_for_ring_room) {
  linked_pair link{{.slot_classes = {{4096, 1}}}};
  const auto payload = make_payload(1000, 6);
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  BOOST_TEST_REQUIRE(!link.host->send(payload).has_value());
  BOOST_TEST_REQUIRE((link.host->lacking() == lack::slot));
  // The ring has room, but that does not make a slot come back.
  auto waited = link.host->wait_for_space(0ns);
  BOOST_TEST_REQUIRE(!waited.has_value());
  BOOST_TEST(waited.error().code == tr::errc::timeout);
  take(*link.cell).payload.release();
  BOOST_TEST(link.host->wait_for_space(10s).has_value());
  BOOST_TEST(link.host->send(payload).has_value());
}

BOOST_AUTO_TEST_CASE(wait_for_space_after_no_slot_is_ready_when_an_unsent_slot_is_given_back) {
  linked_pair link{{.slot_classes = {{4096, 2}}}};
  const auto payload = make_payload(1000, 9);
  std::optional<tr::outgoing_payload> unsent{link.host->prepare(1000).value()};
  BOOST_TEST_REQUIRE(link.host->send(payload).has_value());
  BOOST_TEST_REQUIRE(!link.host->send(payload).has_value());
  unsent.reset(); // its slot is free again, and no return will announce it
  BOOST_TEST(link.host->wait_for_space(0ns).has_value());
  BOOST_TEST(link.host->send(payload).has_value());
}

// The actor layer's pattern: queue what does not fit, sleep on the doorbell, flush
// when it rings. A lost wake-up shows as a doorbell that stays silent to the deadline.
// The host must really have blocked on `blocked_on` at least once, or the test proved
// nothing; each wait must follow a wish the cell can see.
void stream_through_back_pressure(std::size_t size, tr::hub_config config, lack blocked_on) {
  linked_pair link{std::move(config)};
  constexpr int messages = 20000;
  std::thread cell_thread{[&] {
    for (int i = 0; i < messages; ++i) {
      auto msg = link.cell->receive(10s);
      if (!msg || msg.value().msg_id != static_cast<std::uint64_t>(i))
        return;
    }
  }};
  const auto payload = make_payload(size, 7);
  int sent = 0;
  int waits = 0;
  int waits_on_it = 0;
  int waits_without_a_wish = 0;
  while (sent < messages) {
    auto done =
        link.host->send(shm::message_kind::message, static_cast<std::uint64_t>(sent), payload);
    if (done) {
      ++sent;
      continue;
    }
    if (done.error().code != tr::errc::no_slot && done.error().code != tr::errc::ring_full)
      break;
    ++waits;
    waits_on_it += link.host->lacking() == blocked_on ? 1 : 0;
    waits_without_a_wish += link.host->lacking() == lack::nothing ? 1 : 0;
    if (link.host_bell.wait(10s) != tr::doorbell::wait_result::rang)
      break;
    (void)link.host_bell.drain();
  }
  cell_thread.join();
  BOOST_TEST(sent == messages);
  BOOST_TEST(waits_on_it > 0, "blocked " << waits << " times, never for what the test is about");
  BOOST_TEST(waits_without_a_wish == 0);
  BOOST_TEST_MESSAGE("blocked " << waits << " times, " << waits_on_it << " of them for it");
}

BOOST_AUTO_TEST_CASE(event_driven_host_blocked_on_ring_room_is_never_left_waiting) {
  stream_through_back_pressure(16, {.ring_capacity = 8}, lack::room);
}

BOOST_AUTO_TEST_CASE(event_driven_host_blocked_on_slots_is_never_left_waiting) {
  stream_through_back_pressure(1000, {.slot_classes = {{4096, 4}}}, lack::slot);
}

BOOST_AUTO_TEST_SUITE_END()
