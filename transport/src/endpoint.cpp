#include "cellhub/transport/endpoint.hpp"

#include "cellhub/transport/cpu_relax.hpp"
#include "cellhub/transport/detail/crash_point.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <sched.h>

namespace cellhub::transport {
namespace {

using clock = std::chrono::steady_clock;

template <class T>
T* at(std::byte* region, std::uint64_t offset) noexcept {
  return reinterpret_cast<T*>(region + offset);
}

bool known_kind(std::uint16_t kind) noexcept {
  return kind >= static_cast<std::uint16_t>(shm::message_kind::message) &&
         kind <= static_cast<std::uint16_t>(shm::message_kind::goodbye);
}

error violation(std::string what) {
  return make_error(errc::protocol_violation, std::move(what));
}

} // namespace

endpoint::endpoint(endpoint_side side, std::byte* region, const hub_geometry& geometry,
                   doorbell bell, std::shared_ptr<void> keepalive, std::function<void()> on_destroy)
    : side_{side}
    , geometry_{geometry}
    , bell_{std::move(bell)}
    , leased_(geometry.slot_total(), 0)
    , keepalive_{std::move(keepalive)}
    , on_destroy_{std::move(on_destroy)} {
  const bool host = side == endpoint_side::host;
  auto* control = at<shm::peer_control>(region, geometry.control_offset);
  own_wish_ = host ? &control->host : &control->cell;
  peer_wish_ = host ? &control->cell : &control->host;
  resting_wake_on_ = host ? shm::wake_on_message : 0u;
  // A producer blocked on a full ring is woken once a quarter of it was taken, not
  // for every descriptor: one fence per interval here, fewer wake-ups there.
  room_check_interval_ = std::max(1u, geometry.ring_capacity / 4);
  publish_wake_on(idle_wake_on());

  const auto out_ring = host ? geometry.to_cell_ring_offset : geometry.to_host_ring_offset;
  const auto in_ring = host ? geometry.to_host_ring_offset : geometry.to_cell_ring_offset;
  // Slots we send come back through the peer's return ring; slots we receive go
  // back through ours.
  const auto out_returns = host ? geometry.to_cell_return_offset : geometry.to_host_return_offset;
  const auto in_returns = host ? geometry.to_host_return_offset : geometry.to_cell_return_offset;
  out_arena_ = region + (host ? geometry.to_cell_arena_offset : geometry.to_host_arena_offset);
  in_arena_ = region + (host ? geometry.to_host_arena_offset : geometry.to_cell_arena_offset);

  auto ring_elements = [&](std::uint64_t offset) {
    return at<std::byte>(region, offset + sizeof(shm::ring_header));
  };
  out_ = ring_producer<shm::descriptor>{at<shm::ring_header>(region, out_ring),
                                        reinterpret_cast<shm::descriptor*>(ring_elements(out_ring)),
                                        geometry.ring_capacity};
  in_ = ring_consumer<shm::descriptor>{
      at<shm::ring_header>(region, in_ring),
      reinterpret_cast<const shm::descriptor*>(ring_elements(in_ring)), geometry.ring_capacity};
  pool_ =
      slot_pool{geometry_, ring_consumer<std::uint32_t>{
                               at<shm::ring_header>(region, out_returns),
                               reinterpret_cast<const std::uint32_t*>(ring_elements(out_returns)),
                               geometry.return_capacity}};
  returns_ = ring_producer<std::uint32_t>{
      at<shm::ring_header>(region, in_returns),
      reinterpret_cast<std::uint32_t*>(ring_elements(in_returns)), geometry.return_capacity};
}

endpoint::~endpoint() {
  if (on_destroy_)
    on_destroy_();
}

result<outgoing_payload> endpoint::prepare(std::size_t length) {
  if (length <= shm::inline_capacity)
    return outgoing_payload{nullptr, shm::inline_slot, nullptr, static_cast<std::uint32_t>(length)};
  BOOST_OUTCOME_TRY(first_look, pool_.allocate(length));
  std::optional<std::uint32_t> slot = first_look;
  if (!slot) {
    // Ask for a ring on the next returned slot, then look again: a slot returned
    // before the peer could see the wish is found now (see ask_for_space).
    ask_for_space(lack::slot);
    wanted_length_ = length;
    BOOST_OUTCOME_TRY(second_look, pool_.allocate(length));
    slot = second_look;
  }
  // Back-pressure is routine: no text to format, nothing to allocate.
  if (!slot)
    return make_error(errc::no_slot, {});
  return outgoing_payload{shared_from_this(), *slot, out_arena_ + geometry_.slot_offset(*slot),
                          static_cast<std::uint32_t>(length)};
}

result<void> endpoint::commit(outgoing_payload& payload, shm::message_kind kind,
                              std::uint64_t msg_id, std::uint32_t aux) {
  shm::descriptor d{};
  d.msg_id = msg_id;
  d.kind = static_cast<std::uint16_t>(kind);
  d.length = payload.length_;
  d.slot = payload.slot_;
  d.aux = aux;
  if (payload.slot_ == shm::inline_slot)
    std::memcpy(d.inline_data, payload.inline_.data(), payload.length_);
  detail::crash_point();
  if (auto pushed = out_.push(d); !pushed) {
    if (pushed.error().code != errc::ring_full)
      return pushed.error();
    // As in prepare: ask for a ring when the peer takes descriptors, then look again.
    ask_for_space(lack::room);
    BOOST_OUTCOME_TRY(out_.push(d));
  }
  stop_asking_for_space();
  // The slot now belongs to the message; the payload object must not give it back.
  payload.owner_.reset();
  payload.slot_ = shm::inline_slot;
  payload.length_ = 0;
  detail::crash_point();
  if (wake_peer_for(shm::wake_on_message) == signal_result::peer_dead)
    return make_error(errc::peer_dead, "doorbell signal failed");
  return success();
}

result<void> endpoint::send(shm::message_kind kind, std::uint64_t msg_id,
                            std::span<const std::byte> bytes, std::uint32_t aux) {
  BOOST_OUTCOME_TRY(payload, prepare(bytes.size()));
  if (!bytes.empty())
    std::memcpy(payload.bytes().data(), bytes.data(), bytes.size());
  detail::crash_point();
  return commit(payload, kind, msg_id, aux);
}

result<std::optional<incoming_message>> endpoint::try_receive() {
  BOOST_OUTCOME_TRY(next, in_.pop());
  if (!next)
    return std::optional<incoming_message>{};
  // Taking descriptors frees ring room the peer may wait for. It waits only on a
  // full ring, so of the descriptors we must take before the ring runs dry, a
  // whole interval comes after its wish: the look at the end of it sees the wish.
  // Its death is seen by the doorbell's hang-up, so a failed ring is not reported.
  if (++unchecked_takes_ == room_check_interval_) {
    unchecked_takes_ = 0;
    (void)wake_peer_for(shm::wake_on_space);
  }
  detail::crash_point();
  const shm::descriptor& d = *next;
  if (!known_kind(d.kind))
    return violation(fmt::format("descriptor kind {} unknown", d.kind));
  if (d.flags != 0)
    return violation(fmt::format("descriptor flags {:#x} unknown", d.flags));
  incoming_message msg;
  msg.kind = static_cast<shm::message_kind>(d.kind);
  msg.msg_id = d.msg_id;
  msg.aux = d.aux;
  if (d.slot == shm::inline_slot) {
    if (d.length > shm::inline_capacity)
      return violation(fmt::format("inline length {} exceeds {}", d.length, shm::inline_capacity));
    msg.payload = payload_lease::from_inline({d.inline_data, d.length});
    return std::optional<incoming_message>{std::move(msg)};
  }
  if (d.slot >= geometry_.slot_total())
    return violation(
        fmt::format("slot {} outside the arena's {} slots", d.slot, geometry_.slot_total()));
  if (d.length > geometry_.slot_size(d.slot))
    return violation(fmt::format("length {} exceeds slot {}'s {} bytes", d.length, d.slot,
                                 geometry_.slot_size(d.slot)));
  {
    std::lock_guard guard{lease_mutex_};
    if (leased_[d.slot] != 0)
      return violation(fmt::format("slot {} sent again while still leased", d.slot));
    leased_[d.slot] = 1;
    ++leased_count_;
  }
  detail::crash_point();
  msg.payload = payload_lease::from_slot(shared_from_this(), d.slot,
                                         in_arena_ + geometry_.slot_offset(d.slot), d.length);
  return std::optional<incoming_message>{std::move(msg)};
}

void endpoint::release(std::uint32_t slot) noexcept {
  {
    std::lock_guard guard{lease_mutex_};
    if (slot >= leased_.size() || leased_[slot] == 0)
      return;
    leased_[slot] = 0;
    --leased_count_;
    detail::crash_point();
    // A full return ring means the peer re-sent slots it never collected back:
    // its problem, and its arena is reset when it dies. The slot is ours again.
    (void)returns_.push(slot);
  }
  detail::crash_point();
  (void)wake_peer_for(shm::wake_on_space);
}

std::uint32_t endpoint::slots_leased() const noexcept {
  std::lock_guard guard{lease_mutex_};
  return leased_count_;
}

signal_result endpoint::wake_peer_for(std::uint32_t wanted) noexcept {
  // Pairs with the peer's wish store followed by its fence and its look at the
  // ring: either it sees what we published (or freed), or we see its wish and ring.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // Only the bit asked about counts, so a hostile wish can only cost its own side a
  // wake-up (or add a spurious one).
  if ((peer_wish_->wake_on.load(std::memory_order_relaxed) & wanted) == 0)
    return signal_result::sent;
  return bell_.signal();
}

void endpoint::publish_wake_on(std::uint32_t bits) noexcept {
  own_wish_->wake_on.store(bits, std::memory_order_seq_cst);
}

std::uint32_t endpoint::idle_wake_on() const noexcept {
  return (messages_muted_ ? 0u : resting_wake_on_) |
         (lack_ == lack::nothing ? 0u : shm::wake_on_space);
}

void endpoint::mute_message_wakeups() noexcept {
  messages_muted_ = true;
  publish_wake_on(idle_wake_on());
}

bool endpoint::restore_message_wakeups() noexcept {
  messages_muted_ = false;
  publish_wake_on(idle_wake_on());
  // Orders the wish before the look at the ring (pairs with wake_peer_for).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return in_.has_pending();
}

bool endpoint::peer_on_this_cpu() const noexcept {
  const int cpu = ::sched_getcpu();
  return cpu >= 0 &&
         peer_wish_->cpu.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(cpu) + 1;
}

void endpoint::ask_for_space(lack what) noexcept {
  const bool asked = lack_ != lack::nothing;
  lack_ = what;
  if (!asked)
    publish_wake_on(idle_wake_on());
  // Orders the wish before the caller's second look at returns or ring room; pairs
  // with the peer's fence between freeing space and reading our wish (Dekker).
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void endpoint::stop_asking_for_space() noexcept {
  if (lack_ == lack::nothing)
    return;
  lack_ = lack::nothing;
  publish_wake_on(idle_wake_on());
}

wait_outcome endpoint::wait_for_message(clock::time_point deadline, std::chrono::nanoseconds spin) {
  return wait_until([this] { return in_.has_pending(); }, shm::wake_on_message, deadline, spin);
}

wait_outcome endpoint::wait_for_space(clock::time_point deadline, std::chrono::nanoseconds spin) {
  const auto ring_has_room = [this] { return out_.pending() < geometry_.ring_capacity; };
  wait_outcome outcome = wait_outcome::ready;
  switch (lack_) {
  case lack::slot:
    outcome =
        wait_until([this] { return pool_.returns_pending() || pool_.has_free(wanted_length_); },
                   shm::wake_on_space, deadline, spin);
    break;
  case lack::room:
    outcome = wait_until(ring_has_room, shm::wake_on_space, deadline, spin);
    break;
  case lack::nothing:
    outcome = wait_until([&] { return pool_.returns_pending() || ring_has_room(); },
                         shm::wake_on_space, deadline, spin);
    break;
  }
  // The caller tries again now; should that fail, it asks anew.
  if (outcome == wait_outcome::ready)
    stop_asking_for_space();
  return outcome;
}

template <class Ready>
wait_outcome endpoint::wait_until(Ready ready, std::uint32_t wake_on, clock::time_point deadline,
                                  std::chrono::nanoseconds spin) {
  auto finish = [this](wait_outcome outcome) {
    publish_wake_on(idle_wake_on());
    return outcome;
  };
  if (ready())
    return wait_outcome::ready;
  // No wake-ups while spinning: the spin looks at the ring itself.
  publish_wake_on(0);
  // Spinning pays only while the peer runs on another CPU; sharing ours, it would
  // wait for the spin to end (the scheduler often puts both sides on one vCPU).
  const int cpu = ::sched_getcpu();
  own_wish_->cpu.store(cpu < 0 ? 0u : static_cast<std::uint32_t>(cpu) + 1,
                       std::memory_order_relaxed);
  const auto peer_cpu = peer_wish_->cpu.load(std::memory_order_relaxed);
  if (cpu >= 0 && peer_cpu == static_cast<std::uint32_t>(cpu) + 1)
    spin = std::chrono::nanoseconds{0};
  const auto spin_end = std::min(deadline, clock::now() + spin);
  for (unsigned i = 0; spin.count() > 0; ++i) {
    if (ready())
      return finish(wait_outcome::ready);
    // Reading the clock costs more than a pause; look at it every few rounds.
    if (i % 64 == 63 && clock::now() >= spin_end)
      break;
    cpu_relax();
  }
  for (;;) {
    publish_wake_on(wake_on);
    // Orders the wish before the look at the ring (pairs with wake_peer_for).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (ready())
      return finish(wait_outcome::ready);
    const auto now = clock::now();
    if (now >= deadline)
      return finish(wait_outcome::timeout);
    const auto rang = bell_.wait(deadline - now);
    if (rang == doorbell::wait_result::peer_dead ||
        bell_.drain() == doorbell::drain_result::peer_dead) {
      // Whatever the peer published before it died is still worth taking.
      return finish(ready() ? wait_outcome::ready : wait_outcome::peer_dead);
    }
  }
}

} // namespace cellhub::transport
