#pragma once

// A cell lane: the way a call's bytes reach one cell life and come back without
// passing through an actor's mailbox. The peer actor owns the life and opens its lane
// once the cell is spawned; it sends and receives through the lane too, so that one
// lock orders every use of the life's transport. A caller on a thread of its own (a
// `cell_channel`) sends its request through the lane and takes the reply from the
// ring itself: it spins while the cell runs on another CPU, with the cell's doorbell
// muted so that nobody else is woken, and otherwise sleeps until the peer actor,
// woken by the doorbell as for its own calls, hands the reply over.
//
// Whoever drains the ring routes what it finds: a reply to a call made through the
// lane goes to that call; everything else (READY, replies to the peer actor's calls,
// the cell's one-way messages, its goodbye) is parked for the peer actor, which is
// told once (`nudge`) that messages wait for it.

#include "cellhub/actors/payload.hpp"
#include "cellhub/transport/error.hpp"
#include "cellhub/transport/payload_lease.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/result.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cellhub::actors {

/// Carries one cell life's traffic for its peer actor and for callers on threads of
/// their own (see the file comment). Thread-safe.
class cell_lane {
public:
  /// Names the clock of deadlines.
  using clock = std::chrono::steady_clock;

  /// Describes the life a lane serves and how it bounds callers.
  struct settings {
    /// Holds the cell's logical name, for errors.
    std::string name;
    /// Bounds the calls in flight through the lane; more fail with `overloaded`.
    std::size_t max_calls = 1024;
    /// Bounds how long a call through the lane waits for its answer.
    std::chrono::milliseconds request_timeout{5000};
    /// Bounds the messages parked for the peer actor by callers' drains; past it a
    /// caller leaves the rest in the ring for the peer actor.
    std::size_t max_parked = 256;
    /// Holds the first message id the lane hands out (ids used before it opened
    /// stay unique).
    std::uint64_t first_msg_id = 1;
    /// Tells the peer actor that messages wait for it (`take_for_actor`). Called
    /// without the lane's lock held, at most once per `take_for_actor`.
    std::function<void()> nudge;
  };

  /// What `take_for_actor` hands the peer actor.
  struct batch {
    /// Holds the messages for the peer actor, in the order the cell sent them.
    std::vector<transport::incoming_message> messages;
    /// Holds the protocol violation a drain met, once: the transport has killed the
    /// cell and reported its death.
    std::optional<transport::error> violation;
  };

  /// Opens a lane over the transport of a spawned cell.
  cell_lane(std::shared_ptr<transport::peer_transport> cell, settings config);
  cell_lane(const cell_lane&) = delete;
  cell_lane& operator=(const cell_lane&) = delete;
  /// Closes the lane if it is still open (waiting calls fail with `cell_died`).
  ~cell_lane();

  /// Returns the peer id of the life.
  [[nodiscard]] std::uint16_t peer_id() const noexcept { return peer_id_; }
  /// Returns the incarnation of the life.
  [[nodiscard]] std::uint32_t incarnation() const noexcept { return incarnation_; }
  /// Tells whether the lane is closed: its life ended (or is ending) and every call
  /// through it fails.
  [[nodiscard]] bool closed() const noexcept {
    return closed_flag_.load(std::memory_order_acquire);
  }

  // The peer actor's side.

  /// Returns a message id no other call of this life uses.
  std::uint64_t next_msg_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  /// Sends a message to the cell under the lane's lock (see `peer_transport::send`);
  /// `peer_dead` once the lane is closed.
  transport::result<void> send(transport::shm::message_kind kind, std::uint64_t msg_id,
                               std::span<const std::byte> bytes);
  /// Reads the cell's progress under the lane's lock.
  [[nodiscard]] transport::peer_progress progress() const;
  /// Hands over the messages parked for the peer actor, then drains the ring,
  /// routing replies to calls through the lane to them.
  batch take_for_actor();
  /// Says whether the peer actor's own sends wait for room: calls through the lane
  /// then take the peer actor's way, behind them, so that nothing overtakes.
  void set_queueing(bool queueing);
  /// Counts the times a cast through the lane waited for room.
  [[nodiscard]] std::uint64_t room_waits() const noexcept {
    return room_waits_.load(std::memory_order_relaxed);
  }
  /// Counts the calls through the lane that wait for their answer.
  [[nodiscard]] std::size_t calls_waiting() const;
  /// Closes the lane: waiting calls fail with `reason`, later ones fail at once, and
  /// the lane lets go of the transport (a caller mid-spin keeps it an instant longer).
  void close(const caf::error& reason);

  // A caller's side.

  /// Sends a call's request and returns its id at once, so that many calls can be in
  /// flight; `finish_call` takes each answer (or `abandon_call` forgets it). The
  /// request waits for ring room and behind the peer actor's waiting sends as a cast
  /// does (`overloaded` if none came by `deadline`). Returns nothing when the lane
  /// closed before the request went out: the life ended, so call through the registry
  /// or a new lane.
  std::optional<caf::expected<std::uint64_t>> start_call(std::span<const std::byte> request,
                                                         clock::time_point deadline);
  /// Waits for the answer to call `id` until `deadline` (or the life's
  /// `request_timeout` after the send, whichever is earlier), spinning up to `spin`
  /// first while the cell runs on another CPU; calls may be finished in any order.
  /// Errors: as a call through the peer actor (`cell_died`, `request_timeout`,
  /// `cell_error`).
  caf::expected<payload> finish_call(std::uint64_t id, clock::time_point deadline,
                                     std::chrono::nanoseconds spin);
  /// Forgets a started call whose answer nobody will take; a late answer is dropped.
  void abandon_call(std::uint64_t id);

  /// Sends the cell the one-way message `bytes`, waiting until `deadline` for ring
  /// room or a slot (the peer actor, woken when the cell frees space, wakes the
  /// sender) and behind the peer actor's own waiting sends. Returns nothing once the
  /// lane is closed: the life ended, so send through the registry or a new lane.
  /// Fails with `overloaded` when no room came in time.
  std::optional<caf::expected<void>> cast(std::span<const std::byte> bytes,
                                          clock::time_point deadline);

private:
  // A call through the lane, from its send until its answer is taken.
  struct waiter {
    // Holds the answer (or the failure) once it came.
    std::optional<caf::expected<payload>> answer;
    // Says when the request went out.
    clock::time_point started;
    // Says when `request_timeout` ends it.
    clock::time_point expires;
  };

  // Sends under the lock, waiting (the lock released) for ring room and for the peer
  // actor's waiting sends until `deadline`; nothing once the lane closed.
  std::optional<caf::expected<void>>
  send_waiting(std::unique_lock<std::mutex>& lock, transport::shm::message_kind kind,
               std::uint64_t msg_id, std::span<const std::byte> bytes, clock::time_point deadline);
  // Drains the ring under the lock, routing each message, until `max_parked` wait for
  // the peer actor; returns whether the peer actor must be nudged.
  bool drain_locked(std::size_t max_parked);
  // Parks a message for the peer actor; returns whether it must be nudged.
  bool park_locked(transport::incoming_message msg);
  void nudge_actor() const;

  std::shared_ptr<transport::peer_transport> cell_;
  settings config_;
  std::uint16_t peer_id_;
  std::uint32_t incarnation_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<bool> closed_flag_{false};
  // Counts answers routed to calls through the lane, for spinners to notice.
  std::atomic<std::uint64_t> answers_{0};
  std::atomic<std::uint64_t> room_waits_{0};

  mutable std::mutex mutex_;
  std::condition_variable answered_;
  // Everything below is guarded by mutex_.
  caf::error close_reason_;
  bool queueing_ = false;
  bool nudged_ = false;
  std::size_t spinners_ = 0;
  std::size_t senders_waiting_ = 0;
  std::map<std::uint64_t, waiter> waiting_;
  std::deque<transport::incoming_message> parked_;
  std::optional<transport::error> violation_;
};

/// Turns a cell's reply into the answer of its call: the payload, or `cell_error` with
/// the cell's non-zero status.
caf::expected<payload> answer_of(transport::incoming_message& reply);

/// Carries a peer actor's lane to a caller (`lane_atom`); empty before the spawn.
/// Local to one process: a lane is this host's shared memory.
struct lane_handle {
  /// Holds the lane, or nothing.
  std::shared_ptr<cell_lane> lane;
};

} // namespace cellhub::actors

// A lane never leaves the process, so it needs no serialization.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cellhub::actors::lane_handle)
