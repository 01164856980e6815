// Fuzzes what the host reads from a cell on its sending side: the tail of the host→cell ring
// (the cell takes descriptors; a hostile one moves it anywhere), the return ring through
// which the cell gives the host's slots back (the slot indices and the ring's head), and the
// cell's wake wish and doorbell.
//
// A model of the host's slot pool and producer predicts every send: the slot it must take
// (the most recently freed of the smallest fitting class with one free), `no_slot`,
// `ring_full`, or `protocol_violation` for an index that was not in flight or a tail outside
// [last seen, head]. The host must never hand out a slot that is in flight or out of range,
// must publish exactly the descriptor and bytes it was given, and its in-flight and unread
// counts must match the model after every step.

#include "fuzz_hub.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

namespace {

using namespace cellhub::fuzz;

enum class op : std::uint8_t {
  send,             // host: send a message of a given length
  take,             // cell: take descriptors (move the tail within what was published)
  move_tail,        // cell: set the host→cell ring's tail to anything
  give_back,        // cell: push a slot index into the return ring
  move_return_head, // cell: set the return ring's head to anything
  set_wake_on,      // cell: write its wake wish
  hang_up,          // cell: close its doorbell end
  wait_for_space,   // host: wait for space with a deadline already passed
  progress,         // host: read how much waits for the cell
  audit,            // host: audit the hub
  count
};

// Predicts the host's slot pool (stacks per class, in flight), the return ring's consumer and
// the host→cell ring's producer.
struct model {
  std::vector<std::vector<std::uint32_t>> free;
  std::vector<bool> in_flight;
  std::uint32_t in_flight_count = 0;
  std::uint64_t return_tail = 0;
  std::uint64_t return_cached_head = 0;
  std::uint64_t head = 0;
  std::uint64_t cached_tail = 0;
  bool violated = false;
  bool dead = false;
};

class run {
public:
  explicit run(fuzz_input& in)
      : in_{in}
      , g_{fuzz_hub().geometry()} {
    m_.free.resize(g_.classes.size());
    for (std::uint32_t cls = 0; cls < g_.classes.size(); ++cls)
      for (auto slot = g_.class_first_slot[cls + 1]; slot > g_.class_first_slot[cls];)
        m_.free[cls].push_back(--slot);
    m_.in_flight.assign(g_.slot_total(), false);
  }

  void go() {
    for (int steps = 0; !in_.empty() && steps < 256; ++steps) {
      step(static_cast<op>(in_.take<std::uint8_t>() % static_cast<int>(op::count)));
      check_counts();
    }
  }

private:
  shm::ring_header& out_ring() const { return peer_.view.ring(g_.to_cell_ring_offset); }
  shm::ring_header& return_ring() const { return peer_.view.ring(g_.to_cell_return_offset); }

  void step(op code) {
    auto& v = peer_.view;
    switch (code) {
    case op::send:
      send(in_.take<std::uint16_t>() % (g_.classes.back().slot_size + 64),
           in_.take<std::uint8_t>());
      break;
    case op::take: {
      const auto head = out_ring().head.load();
      const auto tail = out_ring().tail.load();
      if (tail <= head)
        out_ring().tail.store(std::min(head, tail + in_.take<std::uint8_t>()));
      break;
    }
    case op::move_tail:
      out_ring().tail.store(next_index(in_, out_ring().tail.load()));
      break;
    case op::give_back: {
      // Mostly a real slot index; now and then anything at all.
      const auto raw = in_.take<std::uint8_t>();
      const std::uint32_t slot =
          raw < 0xF0 ? raw % (g_.slot_total() + 1) : in_.take<std::uint32_t>();
      *v.element<std::uint32_t>(g_.to_cell_return_offset, return_head_, g_.return_capacity) = slot;
      return_ring().head.store(++return_head_, std::memory_order_release);
      break;
    }
    case op::move_return_head:
      return_head_ = next_index(in_, return_head_);
      return_ring().head.store(return_head_, std::memory_order_release);
      break;
    case op::set_wake_on:
      v.control().cell.wake_on.store(in_.take<std::uint32_t>());
      break;
    case op::hang_up:
      peer_.cell_bell = tr::doorbell{};
      break;
    case op::wait_for_space: {
      const auto outcome = peer_.transport->wait_for_space(std::chrono::nanoseconds{0});
      FUZZ_CHECK(outcome || outcome.error().code == tr::errc::timeout ||
                     outcome.error().code == tr::errc::peer_dead,
                 "wait_for_space failed with {}", outcome.error().message());
      if (!outcome && outcome.error().code == tr::errc::peer_dead)
        m_.dead = true;
      break;
    }
    case op::progress: {
      const auto unread = peer_.transport->progress().unread_by_cell;
      FUZZ_CHECK(unread <= g_.ring_capacity, "{} messages unread in a ring of {}", unread,
                 g_.ring_capacity);
      const auto tail = out_ring().tail.load();
      if (tail >= m_.cached_tail && tail <= m_.head)
        FUZZ_CHECK(unread == m_.head - tail, "{} unread, model {}", unread, m_.head - tail);
      break;
    }
    case op::audit: {
      const auto a = fuzz_hub().audit();
      FUZZ_CHECK(a.slots_in_flight_to_cells == model_in_flight(), "audit: {} in flight, model {}",
                 a.slots_in_flight_to_cells, model_in_flight());
      FUZZ_CHECK(a.slots_leased_from_cells == 0, "audit: {} leases, none received",
                 a.slots_leased_from_cells);
      break;
    }
    case op::count:
      break;
    }
  }

  // Counts what the host reports in flight: sent and not returned, where returned slots it
  // has not collected yet count as back (as far as the return ring's head looks sane).
  std::uint32_t model_in_flight() const {
    const auto head = return_ring().head.load();
    const std::uint64_t pending =
        head >= m_.return_tail && head - m_.return_tail <= g_.return_capacity
            ? head - m_.return_tail
            : 0;
    return m_.in_flight_count -
           static_cast<std::uint32_t>(std::min<std::uint64_t>(pending, m_.in_flight_count));
  }

  // Collects returned slots as the pool does; returns why it must fail, or nothing.
  std::optional<std::string> collect() {
    for (;;) {
      if (m_.return_tail == m_.return_cached_head) {
        const auto head = return_ring().head.load();
        if (head < m_.return_cached_head || head - m_.return_tail > g_.return_capacity)
          return fmt::format("return head {}", head);
        m_.return_cached_head = head;
        if (m_.return_tail == head)
          return std::nullopt;
      }
      const auto slot = *peer_.view.element<std::uint32_t>(g_.to_cell_return_offset,
                                                           m_.return_tail++, g_.return_capacity);
      if (slot >= g_.slot_total() || !m_.in_flight[slot])
        return fmt::format("returned slot {} not in flight", slot);
      give_back(slot);
    }
  }

  void give_back(std::uint32_t slot) {
    m_.in_flight[slot] = false;
    --m_.in_flight_count;
    m_.free[g_.class_of(slot)].push_back(slot);
  }

  void send(std::uint32_t length, std::uint8_t pattern) {
    std::vector<std::byte> bytes(length);
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<std::byte>(pattern + i);
    const auto msg_id = ++msg_id_;

    // The model's prediction: an error code (and why), or success with `slot`.
    std::optional<tr::errc> expected;
    std::string why;
    std::uint32_t slot = shm::inline_slot;
    if (m_.violated || m_.dead) {
      expected = tr::errc::peer_dead;
    } else if (length > g_.classes.back().slot_size) {
      expected = tr::errc::payload_too_large;
    } else if (length > shm::inline_capacity) {
      if (auto bad = collect()) {
        expected = tr::errc::protocol_violation;
        why = *bad;
      } else {
        std::size_t cls = 0;
        while (g_.classes[cls].slot_size < length)
          ++cls;
        while (cls < m_.free.size() && m_.free[cls].empty())
          ++cls;
        if (cls == m_.free.size()) {
          expected = tr::errc::no_slot;
        } else {
          slot = m_.free[cls].back();
          m_.free[cls].pop_back();
          m_.in_flight[slot] = true;
          ++m_.in_flight_count;
        }
      }
    }
    if (!expected && m_.head - m_.cached_tail >= g_.ring_capacity) {
      const auto tail = out_ring().tail.load();
      if (tail < m_.cached_tail || tail > m_.head) {
        expected = tr::errc::protocol_violation;
        why = fmt::format("tail {} outside [{}, {}]", tail, m_.cached_tail, m_.head);
      } else {
        m_.cached_tail = tail;
        if (m_.head - m_.cached_tail >= g_.ring_capacity)
          expected = tr::errc::ring_full;
      }
      // An unsent payload gives its slot back.
      if (expected && slot != shm::inline_slot)
        give_back(slot);
    }
    const bool rings = (peer_.view.control().cell.wake_on.load() & shm::wake_on_message) != 0;
    if (!expected && rings && !peer_.cell_bell.valid())
      expected = tr::errc::peer_dead; // published, but the doorbell reports the death

    auto sent = peer_.transport->send(shm::message_kind::message, msg_id, bytes);
    if (expected && *expected != tr::errc::peer_dead) {
      FUZZ_CHECK(!sent && sent.error().code == *expected,
                 "send of {} bytes: model expects {} ({}), "
                 "host gave {}",
                 length, tr::to_string(*expected), why,
                 sent ? std::string{"success"} : sent.error().message());
      if (*expected == tr::errc::protocol_violation) {
        FUZZ_CHECK(peer_.transport->violated() && peer_.transport->closed(),
                   "a violation left the transport open");
        m_.violated = true;
      }
      return;
    }
    const bool published = !m_.violated && !m_.dead;
    if (expected) {
      FUZZ_CHECK(!sent && sent.error().code == tr::errc::peer_dead,
                 "send to a dead cell: host gave {}",
                 sent ? std::string{"success"} : sent.error().message());
      m_.dead = true;
      if (!published)
        return;
    } else {
      FUZZ_CHECK(sent.has_value(),
                 "send of {} bytes: model expects success (slot {}), host gave {}", length, slot,
                 sent.error().message());
    }
    // Published: check what the host wrote where the cell reads it.
    shm::descriptor d{};
    std::memcpy(
        &d, peer_.view.element<shm::descriptor>(g_.to_cell_ring_offset, m_.head, g_.ring_capacity),
        sizeof(d));
    ++m_.head;
    FUZZ_CHECK(out_ring().head.load() == m_.head, "host head {}, model {}", out_ring().head.load(),
               m_.head);
    FUZZ_CHECK(d.slot == slot, "host sent slot {}, model expects {}", d.slot, slot);
    FUZZ_CHECK(d.kind == static_cast<std::uint16_t>(shm::message_kind::message) && d.flags == 0 &&
                   d.length == length && d.msg_id == msg_id,
               "descriptor kind {} flags {} length {} id {}", d.kind, d.flags, d.length, d.msg_id);
    const std::byte* payload = d.slot == shm::inline_slot
                                   ? d.inline_data
                                   : peer_.view.to_cell_arena() + g_.slot_offset(d.slot);
    FUZZ_CHECK(length == 0 || std::memcmp(payload, bytes.data(), length) == 0,
               "payload bytes differ in slot {}", d.slot);
  }

  void check_counts() {
    FUZZ_CHECK(peer_.transport->slots_in_flight() == model_in_flight(),
               "host counts {} slots in flight, model {}", peer_.transport->slots_in_flight(),
               model_in_flight());
    FUZZ_CHECK(peer_.transport->slots_leased() == 0, "host holds {} leases, received nothing",
               peer_.transport->slots_leased());
  }

  fuzz_input& in_;
  const tr::hub_geometry& g_;
  fuzz_peer peer_;
  model m_;
  std::uint64_t return_head_ = 0;
  std::uint64_t msg_id_ = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in{data, size};
  run{in}.go();
  return 0;
}
