#pragma once

#include "cellhub/transport/death_cause.hpp"
#include "cellhub/transport/doorbell.hpp"
#include "cellhub/transport/endpoint.hpp"
#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/process.hpp"
#include "cellhub/transport/result.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cellhub::transport {

/// Is called once per peer life, with its peer id, when the host learns it died.
/// It runs on whichever thread noticed, so it must not block.
using peer_death_callback = std::function<void(std::uint16_t peer_id)>;

/// Chooses how a new peer is added to a hub.
struct add_peer_options {
  /// Names the peer in logs; empty means `peer-<id>`.
  std::string peer_name;
  /// Is called once when the peer dies (optional).
  peer_death_callback on_death;
};

/// Shows what a cell has been doing, for hang detection.
struct peer_progress {
  /// Counts the cell's heartbeats so far.
  std::uint64_t heartbeat = 0;
  /// Holds the CLOCK_MONOTONIC nanoseconds of its last heartbeat.
  std::uint64_t last_progress_ns = 0;
  /// Counts messages sent to the cell that it has not taken yet.
  std::uint64_t unread_by_cell = 0;
};

/// Carries traffic between the host and one cell life, and reports that life's
/// death exactly once: one log line, the transport closed, `on_death` called.
///
/// Its owners decide the cell's life: destroying the last reference hangs up on the
/// cell (and kills an adopted process). A host that drops it while the cell lives,
/// has not been reported dead and has not said goodbye gets one warning, naming the
/// peer, that it hung up on a live cell; `hub_host::keep_until_death` is the way to
/// let go of a transport and still learn of the death.
///
/// Threading: send, receive and polling belong to one thread at a time;
/// `report_death`, `check_hangup`, `closed` and lease releases are safe from any thread.
class peer_transport {
public:
  /// Creates the transport for entry `peer_id` of `hub` (use `hub_host` to add peers).
  peer_transport(std::shared_ptr<hub_host> hub, std::uint16_t peer_id, std::uint32_t incarnation,
                 std::string name, std::shared_ptr<endpoint> link, peer_death_callback on_death);
  peer_transport(const peer_transport&) = delete;
  peer_transport& operator=(const peer_transport&) = delete;
  /// Hangs up on the cell (it sees EOF) and kills an adopted process still running;
  /// warns when the cell was alive (see the class comment).
  ~peer_transport();

  /// Returns the peer id.
  [[nodiscard]] std::uint16_t peer_id() const noexcept { return peer_id_; }
  /// Returns the life of the peer entry this transport serves.
  [[nodiscard]] std::uint32_t incarnation() const noexcept { return incarnation_; }
  /// Returns the peer's name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// Sends a one-way message.
  result<void> send(std::span<const std::byte> bytes) {
    return send(shm::message_kind::message, 0, bytes);
  }
  /// Sends a message of any kind.
  result<void> send(shm::message_kind kind, std::uint64_t msg_id, std::span<const std::byte> bytes,
                    std::uint32_t aux = 0);
  /// Reserves room for a payload to be written in place (zero-copy send).
  result<outgoing_payload> prepare(std::size_t length);
  /// Sends a prepared payload; on failure it stays with the caller.
  result<void> commit(outgoing_payload& payload, shm::message_kind kind, std::uint64_t msg_id,
                      std::uint32_t aux = 0);
  /// Asks the cell to exit cleanly (a goodbye message).
  result<void> request_goodbye() { return send(shm::message_kind::goodbye, 0, {}); }

  /// Takes the next message from the cell, or nothing. Messages the cell published
  /// before it died are still delivered; bad shared-memory content is reported as
  /// `protocol_violation`: the cell is killed and its death reported at once, like any
  /// death (`death_cause::protocol_violation`).
  result<std::optional<incoming_message>> try_receive();

  /// Waits up to `timeout` for a message, spinning `spin` first.
  result<incoming_message> receive(std::chrono::nanoseconds timeout,
                                   std::chrono::nanoseconds spin = {});

  /// Waits up to `timeout` until a send may succeed again (slots came back).
  result<void> wait_for_space(std::chrono::nanoseconds timeout, std::chrono::nanoseconds spin = {});

  /// Rings the cell's doorbell; `peer_dead` reports the death.
  signal_result signal() noexcept;

  /// Looks for a hang-up without sending anything; reports the death if there is one.
  /// Returns whether the transport is closed.
  bool check_hangup() noexcept;

  /// Reports the cell's death once: logs, closes the transport, calls `on_death`.
  /// Later calls do nothing.
  void report_death(death_cause cause) noexcept;

  /// Tells whether the cell is known dead (a protocol violation included).
  [[nodiscard]] bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  /// Tells how the death was learned, once it was.
  [[nodiscard]] std::optional<death_cause> death() const noexcept;
  /// Tells whether the cell broke the protocol.
  [[nodiscard]] bool violated() const noexcept { return violated_.load(); }
  /// Tells whether the cell's READY arrived.
  [[nodiscard]] bool ready() const noexcept { return ready_pid_.load() != 0; }
  /// Returns the pid the cell announced in READY (0 before).
  [[nodiscard]] std::uint32_t ready_pid() const noexcept { return ready_pid_.load(); }
  /// Tells whether the cell announced a clean exit.
  [[nodiscard]] bool goodbye_received() const noexcept { return goodbye_.load(); }

  /// Returns the doorbell's fd, for an epoll set.
  [[nodiscard]] int doorbell_fd() const noexcept { return link_->bell().fd(); }
  /// Drains pending wake-ups; returns false if the doorbell hung up.
  bool drain_doorbell() noexcept;

  /// Tells, from any thread, whether a message from the cell seems to wait: a hint
  /// for a thread that polls on behalf of the receiving one (see `endpoint::message_hint`).
  [[nodiscard]] bool message_hint() const noexcept { return link_->message_hint(); }
  /// Stops asking the cell to ring for messages while the receiving side polls the
  /// ring itself (see `endpoint::mute_message_wakeups`). Belongs to the receiving thread.
  void mute_message_wakeups() noexcept { link_->mute_message_wakeups(); }
  /// Asks the cell to ring for messages again; returns whether one already waits.
  /// Belongs to the receiving thread.
  [[nodiscard]] bool restore_message_wakeups() noexcept { return link_->restore_message_wakeups(); }
  /// Tells whether the cell last announced the CPU this thread runs on, where a spin
  /// for it only delays it.
  [[nodiscard]] bool cell_on_this_cpu() const noexcept { return link_->peer_on_this_cpu(); }

  /// Takes ownership of the cell's process: it is killed on a protocol violation
  /// and when the transport is destroyed, and its exit status can be read.
  void adopt_process(process child) noexcept;
  /// Returns the adopted process, if any.
  [[nodiscard]] process* child() noexcept { return child_ ? &*child_ : nullptr; }

  /// Reads the cell's heartbeat and how much work waits for it.
  [[nodiscard]] peer_progress progress() const noexcept;

  /// Counts host slots sent to the cell and not returned yet.
  [[nodiscard]] std::uint32_t slots_in_flight() const noexcept { return link_->slots_in_flight(); }
  /// Counts cell slots the host holds through leases.
  [[nodiscard]] std::uint32_t slots_leased() const noexcept { return link_->slots_leased(); }
  /// Tells what the host lacks since its last failed send (see `endpoint::lacking`).
  [[nodiscard]] endpoint::lack lacking() const noexcept { return link_->lacking(); }

private:
  result<void> check_open() const;
  bool said_goodbye() const noexcept;
  void warn_if_live() const noexcept;
  template <class T>
  result<T> watch(result<T> outcome);
  void report_violation(const error& err) noexcept;

  std::shared_ptr<hub_host> hub_;
  std::uint16_t peer_id_;
  std::uint32_t incarnation_;
  std::string name_;
  std::shared_ptr<endpoint> link_;
  peer_death_callback on_death_;
  std::optional<process> child_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> violated_{false};
  std::atomic<bool> goodbye_{false};
  std::atomic<std::uint32_t> ready_pid_{0};
  std::atomic<int> death_{-1};
};

} // namespace cellhub::transport
