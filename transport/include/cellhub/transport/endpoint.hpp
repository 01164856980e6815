#pragma once

#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/outgoing_payload.hpp"
#include "cellhub/transport/payload_lease.hpp"
#include "cellhub/transport/result.hpp"
#include "cellhub/transport/slot_pool.hpp"
#include "cellhub/transport/spsc_ring.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace cellhub::transport {

/// Names which end of a peer's link an endpoint is.
enum class endpoint_side : std::uint8_t { host, cell };

/// Tells how a wait on an endpoint ended.
enum class wait_outcome : std::uint8_t {
  /// What was waited for is there.
  ready,
  /// The deadline passed first.
  timeout,
  /// The other side's doorbell end is gone.
  peer_dead,
};

/// Moves messages over one peer region in one direction each way: the sending half
/// allocates slots in its own arena and publishes descriptors; the receiving half
/// validates every descriptor and hands payloads out as leases. Both the host's
/// per-peer transport and the cell are built on it.
///
/// Threading: sending, receiving and waiting belong to one thread at a time;
/// leases may be released on any thread.
class endpoint : public std::enable_shared_from_this<endpoint> {
public:
  /// Attaches to peer region `region` of a hub laid out as `geometry`. `keepalive`
  /// keeps the mapping alive; `on_destroy` runs when the endpoint goes away (after
  /// the last lease is released).
  endpoint(endpoint_side side, std::byte* region, const hub_geometry& geometry, doorbell bell,
           std::shared_ptr<void> keepalive, std::function<void()> on_destroy);
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;
  /// Runs `on_destroy`.
  ~endpoint();

  /// Reserves room for a `length`-byte payload (inline or in a slot); `no_slot`
  /// when every fitting slot is in flight. A `no_slot` asks the peer to ring when
  /// it returns a slot (see `wait_for_space`); it allocates nothing.
  result<outgoing_payload> prepare(std::size_t length);

  /// Publishes a prepared payload as a message and wakes the peer if it asked for
  /// messages. On success `payload` is consumed; on failure it is left to the caller.
  /// A `ring_full` asks the peer to ring when it takes descriptors out of the ring.
  result<void> commit(outgoing_payload& payload, shm::message_kind kind, std::uint64_t msg_id,
                      std::uint32_t aux = 0);

  /// Copies `bytes` into a new message (prepare, copy, commit).
  result<void> send(shm::message_kind kind, std::uint64_t msg_id, std::span<const std::byte> bytes,
                    std::uint32_t aux = 0);

  /// Takes the next message, validated, or nothing when none is waiting. Every
  /// `ring_capacity / 4` messages taken (at least 1), rings a peer that asked for
  /// space: a peer blocked on the full ring hears of room a quarter ring later.
  result<std::optional<incoming_message>> try_receive();

  /// Waits until a message is waiting: spins for `spin`, then sleeps on the doorbell.
  wait_outcome wait_for_message(std::chrono::steady_clock::time_point deadline,
                                std::chrono::nanoseconds spin);

  /// Waits until sending may succeed again: a fitting slot is free (returned or given
  /// back) after a `no_slot`, the ring has room after a `ring_full` (a slot came back
  /// or the ring has room, if no send failed). Spins for `spin`, then sleeps on the
  /// doorbell, which the peer rings when it frees space.
  wait_outcome wait_for_space(std::chrono::steady_clock::time_point deadline,
                              std::chrono::nanoseconds spin);

  /// Tells whether a message is waiting.
  [[nodiscard]] bool message_pending() const noexcept { return in_.has_pending(); }
  /// Tells whether a message seems to wait, from any thread (see
  /// `ring_consumer::looks_nonempty`): a hint for a thread polling for another's ring.
  [[nodiscard]] bool message_hint() const noexcept { return in_.looks_nonempty(); }

  /// Stops asking the peer to ring for messages while a receiver polls the ring
  /// itself; a wish for space stays. Only a side that rests asking for messages (the
  /// host) has anything to stop.
  void mute_message_wakeups() noexcept;
  /// Asks the peer to ring for messages again and orders the wish before the look
  /// that follows: returns whether a message already waits (one published while the
  /// wish was off rang nobody, so the caller takes it now).
  [[nodiscard]] bool restore_message_wakeups() noexcept;
  /// Tells whether the peer last announced the CPU this thread runs on: spinning for
  /// it there only delays it (see `wait_for_message`).
  [[nodiscard]] bool peer_on_this_cpu() const noexcept;

  /// Counts messages sent and not yet taken by the peer.
  [[nodiscard]] std::uint64_t unread_by_peer() const noexcept { return out_.pending(); }

  /// Counts this side's slots the peer has not returned.
  [[nodiscard]] std::uint32_t slots_in_flight() const noexcept { return pool_.in_flight(); }

  /// Counts the peer's slots this side holds through leases.
  [[nodiscard]] std::uint32_t slots_leased() const noexcept;

  /// Rings the peer's doorbell unconditionally.
  signal_result ring() noexcept { return bell_.signal(); }

  /// Returns the doorbell, for polling and draining.
  [[nodiscard]] doorbell& bell() noexcept { return bell_; }

  /// Returns the layout this endpoint works with.
  [[nodiscard]] const hub_geometry& geometry() const noexcept { return geometry_; }

  /// Returns the slot named by a lease to the peer (called by `payload_lease`), and
  /// rings the peer if it waits for space.
  void release(std::uint32_t slot) noexcept;

  /// Gives an uncommitted slot back (called by `outgoing_payload`).
  void give_back(std::uint32_t slot) noexcept { pool_.give_back(slot); }

  /// Names what the last failed send lacked, which is what this side then asks its
  /// peer to ring for and what `wait_for_space` waits for.
  enum class lack : std::uint8_t {
    /// No send failed since the last one that succeeded: nothing is asked for.
    nothing,
    /// A `no_slot`: the peer is asked to ring when it returns a slot.
    slot,
    /// A `ring_full`: the peer is asked to ring when it takes descriptors out of the ring.
    room,
  };

  /// Tells what this side lacks since its last failed send: `nothing` again once a
  /// send succeeds or `wait_for_space` finds space. Lets a test see that a side
  /// really is blocked; read it on the sending thread.
  [[nodiscard]] lack lacking() const noexcept { return lack_; }

private:
  template <class Ready>
  wait_outcome wait_until(Ready ready, std::uint32_t wake_on,
                          std::chrono::steady_clock::time_point deadline,
                          std::chrono::nanoseconds spin);
  void publish_wake_on(std::uint32_t bits) noexcept;
  [[nodiscard]] std::uint32_t idle_wake_on() const noexcept;
  void ask_for_space(lack what) noexcept;
  void stop_asking_for_space() noexcept;
  signal_result wake_peer_for(std::uint32_t wanted) noexcept;

  endpoint_side side_;
  hub_geometry geometry_;
  shm::wake_wish* own_wish_;
  shm::wake_wish* peer_wish_;
  // The `wake_on` bits between waits: the host is event-driven (ring it for every
  // message), a cell comes back to its receive loop by itself.
  std::uint32_t resting_wake_on_;
  // Set between mute_message_wakeups and restore_message_wakeups.
  bool messages_muted_ = false;
  // Set by a send that failed for lack of space, cleared by one that succeeds;
  // while set, our wish asks the peer to ring when it frees space.
  lack lack_ = lack::nothing;
  // The length the last `no_slot` was for.
  std::size_t wanted_length_ = 0;
  // Messages taken since the peer's wish for ring room was last looked at.
  std::uint32_t unchecked_takes_ = 0;
  std::uint32_t room_check_interval_;
  ring_producer<shm::descriptor> out_;
  ring_consumer<shm::descriptor> in_;
  slot_pool pool_;
  std::byte* out_arena_;
  const std::byte* in_arena_;
  doorbell bell_;

  mutable std::mutex lease_mutex_;
  ring_producer<std::uint32_t> returns_;
  std::vector<std::uint8_t> leased_;
  std::uint32_t leased_count_ = 0;

  std::shared_ptr<void> keepalive_;
  std::function<void()> on_destroy_;
};

} // namespace cellhub::transport
