#pragma once

#include "cellhub/transport/cell_ticket.hpp"
#include "cellhub/transport/endpoint.hpp"
#include "cellhub/transport/peer_region.hpp"
#include "cellhub/transport/result.hpp"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace cellhub::transport {

/// Chooses how a cell attaches and waits.
struct cell_options {
  /// Names the signal the kernel sends the cell when its host dies (0: none).
  int parent_death_signal = SIGKILL;
  /// Bounds how long `receive` spins before sleeping on the doorbell.
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
  /// Sends READY right after attaching (turn off to send it later with `announce_ready`).
  bool announce_ready = true;
  /// Makes the cell dumpable (`PR_SET_DUMPABLE` 1), for a debugger or a core dump. By
  /// default `attach` first makes it non-dumpable (`PR_SET_DUMPABLE` 0), so that
  /// another process of the same user cannot reach its memory or descriptors through
  /// /proc or ptrace; it also writes no core dump. (A cell started from a sealed image,
  /// `spawn_options::sealed_image`, is non-dumpable from exec until then.)
  bool dumpable = false;
};

/// Is a cell's side of the hub: attach with a ticket, then receive requests,
/// reply, send, heartbeat and say goodbye. Needs no actor system.
class cell {
public:
  /// Attaches with `ticket`: makes the process non-dumpable (unless
  /// `options.dumpable`), names it after its program when it was started from a
  /// sealed image (whose name the kernel gave it), arranges to die with the host, takes the peer
  /// region the host handed over the ticket's doorbell and maps it (the only shared memory a cell
  /// can reach), checks its magic, version, layout, peer id, incarnation and token, marks the entry
  /// attached, and sends READY (pid and name).
  static result<cell> attach(const cell_ticket& ticket, const cell_options& options = {});

  /// Attaches with the ticket found in the arguments (or else the environment).
  static result<cell> attach(int argc, const char* const* argv, const cell_options& options = {});

  /// Returns the peer id.
  [[nodiscard]] std::uint16_t peer_id() const noexcept { return peer_id_; }
  /// Returns the life this cell is.
  [[nodiscard]] std::uint32_t incarnation() const noexcept { return incarnation_; }
  /// Returns the name the host gave this cell.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

  /// Sends READY (only needed with `announce_ready = false`).
  result<void> announce_ready();

  /// Takes the next message from the host, or nothing; counts as a heartbeat.
  result<std::optional<incoming_message>> try_receive();

  /// Waits up to `timeout` for the next message: `timeout` when none came,
  /// `peer_dead` when the host is gone. Counts as a heartbeat.
  result<incoming_message> receive(std::chrono::nanoseconds timeout);

  /// Answers request `msg_id` with `bytes` and a status word (0 = success).
  result<void> reply(std::uint64_t msg_id, std::span<const std::byte> bytes,
                     std::uint32_t status = 0);

  /// Sends a one-way message to the host.
  result<void> send(std::span<const std::byte> bytes);

  /// Reserves room for a payload to be written in place (zero-copy).
  result<outgoing_payload> prepare(std::size_t length);

  /// Sends a prepared payload as a message of `kind`.
  result<void> commit(outgoing_payload& payload, shm::message_kind kind, std::uint64_t msg_id,
                      std::uint32_t aux = 0);

  /// Waits up to `timeout` until a slot comes back or the ring has room.
  result<void> wait_for_space(std::chrono::nanoseconds timeout);

  /// Records progress, so the host does not take a busy cell for a hung one.
  void heartbeat() noexcept;

  /// Announces a clean exit; the host will not treat the exit as a crash.
  result<void> goodbye();

  /// Tells whether the host still holds its end of the doorbell.
  [[nodiscard]] bool host_alive() const noexcept;

  /// Returns the link (for tools and tests that need raw access).
  [[nodiscard]] endpoint& link() noexcept { return *link_; }
  /// Returns the start of this cell's peer region (for tools and tests).
  [[nodiscard]] std::byte* region() const noexcept { return region_; }

private:
  cell() = default;

  std::shared_ptr<peer_region> memory_;
  std::shared_ptr<endpoint> link_;
  shm::peer_entry* entry_ = nullptr;
  std::byte* region_ = nullptr;
  std::uint16_t peer_id_ = 0;
  std::uint32_t incarnation_ = 0;
  std::string name_;
  std::chrono::nanoseconds spin_{};
};

} // namespace cellhub::transport
