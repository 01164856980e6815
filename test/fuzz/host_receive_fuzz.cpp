// Fuzzes what the host reads from a cell: the descriptors in the cell→host ring (kind, flags,
// length, slot, inline data), that ring's head (far ahead, behind, exact), payloads in the
// cell's arena (READY among them), the peer entry the cell writes (state, pid, heartbeat,
// last progress) and the return ring through which the host gives the cell's slots back.
//
// The input is a program of cell moves and host calls. A model of the host's documented
// checks (docs/shm_layout.md, "Crash safety" 3) predicts every outcome: a descriptor the
// model rejects must come back as `protocol_violation` (and close the transport), one it
// accepts must arrive intact, with its payload inside the slot it names; the host's lease
// and slot counts must match the model after every step, every released slot must come back
// to the cell exactly once, and the hub must be back at its baseline after the life ends.

#include "fuzz_hub.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

namespace {

using namespace cellhub::fuzz;

enum class op : std::uint8_t {
  publish,          // cell: write a descriptor at its head and move the head on
  move_head,        // cell: set the ring's head to anything
  fill_slot,        // cell: write bytes into one of its slots
  receive,          // host: try_receive, compare with the model; maybe keep the lease
  release,          // host: release a kept lease
  write_entry,      // cell: write a field of its peer entry
  progress,         // host: read the cell's progress
  set_wake_on,      // cell: write its wake wish (the host rings when it asks)
  take_returns,     // cell: take the slots the host returned
  move_return_tail, // cell: set the return ring's tail to anything
  move_send_tail,   // cell: set the tail of the host→cell ring to anything
  report_death,     // host: learn of the cell's death
  hang_up,          // cell: close its doorbell end
  audit,            // host: audit the hub
  count
};

// Predicts the host's consumer of the cell→host ring and its leases.
struct model {
  std::uint64_t tail = 0;        // the host's private tail
  std::uint64_t cached_head = 0; // the head it last accepted
  std::vector<bool> leased;      // cell slots the host holds
  std::uint32_t leased_count = 0;
  bool violated = false;
  std::uint32_t ready_pid = 0;
  // Slots released and not yet taken back by the cell, and whether the return ring can
  // still be checked (a tail moved by the cell makes its contents the cell's business).
  std::map<std::uint32_t, std::uint32_t> returned;
  bool returns_checked = true;
};

bool known_kind(std::uint16_t kind) {
  return kind >= 1 && kind <= 5;
}

// Returns why the model rejects `d`, or nothing.
std::optional<std::string> reject(const shm::descriptor& d, const model& m,
                                  const tr::hub_geometry& g) {
  if (!known_kind(d.kind))
    return "unknown kind";
  if (d.flags != 0)
    return "flags";
  if (d.slot == shm::inline_slot)
    return d.length > shm::inline_capacity ? std::optional<std::string>{"inline length"}
                                           : std::nullopt;
  if (d.slot >= g.slot_total())
    return "slot out of range";
  if (d.length > g.slot_size(d.slot))
    return "length past the slot";
  if (m.leased[d.slot])
    return "slot leased";
  return std::nullopt;
}

struct kept_lease {
  tr::payload_lease lease;
  std::uint32_t slot;
};

class run {
public:
  explicit run(fuzz_input& in)
      : in_{in}
      , g_{fuzz_hub().geometry()} {
    m_.leased.assign(g_.slot_total(), false);
  }

  void go() {
    for (int steps = 0; !in_.empty() && steps < 256; ++steps) {
      const auto code = static_cast<op>(in_.take<std::uint8_t>() % static_cast<int>(op::count));
      step(code);
      check_counts();
    }
    // The life ends with leases still held: they go first, then the transport.
    while (!kept_.empty())
      release_kept(kept_.size() - 1);
    take_returns();
  }

private:
  shm::ring_header& in_ring() const { return peer_.view.ring(g_.to_host_ring_offset); }

  void step(op code) {
    auto& v = peer_.view;
    switch (code) {
    case op::publish: {
      shm::descriptor d{};
      d.kind = in_.take<std::uint16_t>();
      d.flags = in_.take<std::uint16_t>();
      d.length = in_.take<std::uint32_t>();
      d.slot = in_.take<std::uint32_t>();
      d.aux = in_.take<std::uint32_t>();
      d.msg_id = in_.take<std::uint64_t>();
      const auto n = std::min<std::size_t>(in_.take<std::uint8_t>(), shm::inline_capacity);
      in_.take_bytes({d.inline_data, n});
      std::memcpy(v.element<shm::descriptor>(g_.to_host_ring_offset, cell_head_, g_.ring_capacity),
                  &d, sizeof(d));
      in_ring().head.store(++cell_head_, std::memory_order_release);
      break;
    }
    case op::move_head:
      cell_head_ = next_index(in_, cell_head_);
      in_ring().head.store(cell_head_, std::memory_order_release);
      break;
    case op::fill_slot: {
      const auto slot = in_.take<std::uint8_t>() % g_.slot_total();
      const auto offset = in_.take<std::uint16_t>() % g_.slot_size(slot);
      const auto n = std::min<std::size_t>(in_.take<std::uint8_t>(), g_.slot_size(slot) - offset);
      in_.take_bytes({v.to_host_arena() + g_.slot_offset(slot) + offset, n});
      break;
    }
    case op::receive:
      receive(in_.take<std::uint8_t>() & 1);
      break;
    case op::release:
      if (!kept_.empty())
        release_kept(in_.take<std::uint8_t>() % kept_.size());
      break;
    case op::write_entry: {
      const auto field = in_.take<std::uint8_t>() % 4;
      const auto value = in_.take<std::uint64_t>();
      if (field == 0)
        v.entry->state.store(static_cast<std::uint32_t>(value));
      else if (field == 1)
        v.entry->cell_pid.store(static_cast<std::uint32_t>(value));
      else if (field == 2)
        v.entry->heartbeat.store(value);
      else
        v.entry->last_progress_ns.store(value);
      break;
    }
    case op::progress: {
      const auto p = peer_.transport->progress();
      FUZZ_CHECK(p.heartbeat == v.entry->heartbeat.load(), "heartbeat {} read as {}",
                 v.entry->heartbeat.load(), p.heartbeat);
      FUZZ_CHECK(p.last_progress_ns == v.entry->last_progress_ns.load(),
                 "last progress {} read as {}", v.entry->last_progress_ns.load(),
                 p.last_progress_ns);
      // The host sent nothing: whatever the cell writes into that ring's tail, nothing of
      // the host's waits there.
      FUZZ_CHECK(p.unread_by_cell == 0, "host sent nothing, yet {} messages wait for the cell",
                 p.unread_by_cell);
      break;
    }
    case op::set_wake_on:
      v.control().cell.wake_on.store(in_.take<std::uint32_t>());
      v.control().cell.cpu.store(in_.take<std::uint32_t>());
      break;
    case op::take_returns:
      take_returns();
      break;
    case op::move_return_tail: {
      auto& ring = v.ring(g_.to_host_return_offset);
      return_tail_ = next_index(in_, return_tail_);
      ring.tail.store(return_tail_, std::memory_order_release);
      m_.returns_checked = false;
      break;
    }
    case op::move_send_tail: {
      auto& ring = v.ring(g_.to_cell_ring_offset);
      ring.tail.store(next_index(in_, ring.tail.load()), std::memory_order_release);
      break;
    }
    case op::report_death:
      peer_.transport->report_death(static_cast<tr::death_cause>(in_.take<std::uint8_t>() % 3));
      FUZZ_CHECK(peer_.transport->closed(), "a reported death left the transport open");
      break;
    case op::hang_up:
      peer_.cell_bell = tr::doorbell{};
      break;
    case op::audit: {
      const auto a = fuzz_hub().audit();
      FUZZ_CHECK(a.peers_live == 1 && a.peers_free == 0 && a.peers_draining == 0,
                 "audit sees {} live, {} free, {} draining with one transport alive", a.peers_live,
                 a.peers_free, a.peers_draining);
      FUZZ_CHECK(a.slots_leased_from_cells == m_.leased_count, "audit counts {} leases, model {}",
                 a.slots_leased_from_cells, m_.leased_count);
      FUZZ_CHECK(a.slots_in_flight_to_cells == 0, "audit counts {} host slots in flight, none sent",
                 a.slots_in_flight_to_cells);
      break;
    }
    case op::count:
      break;
    }
  }

  // Predicts one try_receive, calls it and compares.
  void receive(bool keep) {
    auto& t = *peer_.transport;
    std::optional<shm::descriptor> next;
    std::optional<std::string> why; // set: the model expects a violation
    if (m_.violated) {
      why = "already violated";
    } else {
      bool have = m_.tail != m_.cached_head;
      if (!have) {
        const auto head = in_ring().head.load();
        if (head < m_.cached_head || head - m_.tail > g_.ring_capacity) {
          why = fmt::format("head {} outside [{}, {}]", head, m_.cached_head,
                            m_.tail + g_.ring_capacity);
        } else {
          m_.cached_head = head;
          have = m_.tail != m_.cached_head;
        }
      }
      if (!why && have) {
        next.emplace();
        std::memcpy(
            &*next,
            peer_.view.element<shm::descriptor>(g_.to_host_ring_offset, m_.tail, g_.ring_capacity),
            sizeof(shm::descriptor));
        ++m_.tail;
        why = reject(*next, m_, g_);
      }
    }
    // A READY is checked once its payload is in hand (peer_transport's rules).
    bool ready_accepted = false;
    if (!why && next && next->kind == static_cast<std::uint16_t>(shm::message_kind::ready)) {
      shm::ready_payload r{};
      const bool sized = next->length == sizeof(r);
      if (sized)
        std::memcpy(&r, payload_of(*next), sizeof(r));
      if (!sized || m_.ready_pid != 0)
        why = "malformed or repeated READY";
      else if (r.pid == 0 || r.name_length > sizeof(r.name))
        why = "READY with a bad pid or name";
      else {
        ready_accepted = true;
        m_.ready_pid = r.pid;
      }
      // The READY's lease is dropped by the host when it refuses it: its slot comes back.
      if (why && next->slot != shm::inline_slot)
        ++m_.returned[next->slot];
    }

    auto got = t.try_receive();
    if (why) {
      FUZZ_CHECK(!got && got.error().code == tr::errc::protocol_violation,
                 "model expects a protocol violation ({}), host gave {}", *why,
                 got ? (got.value() ? "a message" : "nothing") : got.error().message());
      FUZZ_CHECK(t.violated() && t.closed(), "a violation left the transport open");
      m_.violated = true;
      return;
    }
    FUZZ_CHECK(got.has_value(), "model accepts, host refused: {}", got.error().message());
    if (!next) {
      FUZZ_CHECK(!got.value(), "model sees an empty ring, host took a message");
      return;
    }
    FUZZ_CHECK(got.value().has_value(), "model sees a message, host took nothing");
    auto& msg = *got.value();
    const auto& d = *next;
    FUZZ_CHECK(static_cast<std::uint16_t>(msg.kind) == d.kind && msg.msg_id == d.msg_id &&
                   msg.aux == d.aux,
               "message fields differ: kind {} vs {}, id {} vs {}, aux {} vs {}",
               static_cast<int>(msg.kind), d.kind, msg.msg_id, d.msg_id, msg.aux, d.aux);
    const auto bytes = msg.payload.bytes();
    FUZZ_CHECK(bytes.size() == d.length, "payload of {} bytes, descriptor says {}", bytes.size(),
               d.length);
    if (d.slot == shm::inline_slot) {
      FUZZ_CHECK(!msg.payload.in_slot(), "inline payload handed out as a slot lease");
    } else {
      // The payload must be exactly the named slot's bytes, inside this cell's arena.
      const auto* start = peer_.view.to_host_arena() + g_.slot_offset(d.slot);
      FUZZ_CHECK(msg.payload.in_slot() && bytes.data() == start,
                 "slot {} payload at {}, expected {}", d.slot, fmt::ptr(bytes.data()),
                 fmt::ptr(start));
      FUZZ_CHECK(g_.slot_offset(d.slot) + g_.slot_size(d.slot) <= g_.arena_size,
                 "slot {} ends past the arena", d.slot);
      m_.leased[d.slot] = true;
      ++m_.leased_count;
    }
    FUZZ_CHECK(bytes.empty() || std::memcmp(bytes.data(), payload_of(d), bytes.size()) == 0,
               "payload bytes differ from what the cell wrote");
    if (ready_accepted)
      FUZZ_CHECK(t.ready() && t.ready_pid() == m_.ready_pid, "READY pid {} recorded as {}",
                 m_.ready_pid, t.ready_pid());
    if (d.kind == static_cast<std::uint16_t>(shm::message_kind::goodbye))
      FUZZ_CHECK(t.goodbye_received(), "goodbye not recorded");
    if (msg.payload.in_slot()) {
      if (keep && kept_.size() < 16) {
        kept_.push_back({std::move(msg.payload), d.slot});
      } else {
        msg.payload.release();
        released(d.slot);
      }
    }
  }

  // Points at where the model reads descriptor `d`'s payload.
  const std::byte* payload_of(const shm::descriptor& d) {
    if (d.slot == shm::inline_slot)
      return d.inline_data;
    return peer_.view.to_host_arena() + g_.slot_offset(d.slot);
  }

  void released(std::uint32_t slot) {
    m_.leased[slot] = false;
    --m_.leased_count;
    ++m_.returned[slot];
  }

  void release_kept(std::size_t index) {
    const auto slot = kept_[index].slot;
    kept_[index].lease.release();
    kept_.erase(kept_.begin() + static_cast<std::ptrdiff_t>(index));
    released(slot);
  }

  // The cell takes what the host pushed into the return ring: each index must be a slot the
  // host released and had not returned already.
  void take_returns() {
    if (!m_.returns_checked)
      return;
    auto& ring = peer_.view.ring(g_.to_host_return_offset);
    const auto head = ring.head.load(std::memory_order_acquire);
    FUZZ_CHECK(head >= return_tail_ && head - return_tail_ <= g_.return_capacity,
               "host's return head {} outside [{}, {}]", head, return_tail_,
               return_tail_ + g_.return_capacity);
    for (; return_tail_ < head; ++return_tail_) {
      const auto slot = *peer_.view.element<std::uint32_t>(g_.to_host_return_offset, return_tail_,
                                                           g_.return_capacity);
      auto it = m_.returned.find(slot);
      FUZZ_CHECK(it != m_.returned.end() && it->second > 0,
                 "host returned slot {}, which it did not release", slot);
      if (--it->second == 0)
        m_.returned.erase(it);
    }
    ring.tail.store(return_tail_, std::memory_order_release);
  }

  void check_counts() {
    FUZZ_CHECK(peer_.transport->slots_leased() == m_.leased_count, "host holds {} leases, model {}",
               peer_.transport->slots_leased(), m_.leased_count);
    FUZZ_CHECK(peer_.transport->slots_in_flight() == 0, "{} host slots in flight, none sent",
               peer_.transport->slots_in_flight());
  }

  fuzz_input& in_;
  const tr::hub_geometry& g_;
  fuzz_peer peer_;
  model m_;
  std::vector<kept_lease> kept_;
  std::uint64_t cell_head_ = 0;
  std::uint64_t return_tail_ = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in{data, size};
  run{in}.go();
  return 0;
}
