#pragma once

#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace cellhub::transport {

/// Holds a received payload without copying it: the bytes stay in the sender's
/// slot until the lease is released (or destroyed), which returns the slot.
/// Inline payloads are kept inside the lease. A lease keeps the hub mapped, so it
/// stays valid after its cell died. Leases may be released on any thread.
class payload_lease {
public:
  /// Creates an empty lease.
  payload_lease() noexcept = default;
  payload_lease(payload_lease&& other) noexcept;
  payload_lease& operator=(payload_lease&& other) noexcept;
  payload_lease(const payload_lease&) = delete;
  payload_lease& operator=(const payload_lease&) = delete;
  /// Releases the slot, if any.
  ~payload_lease();

  /// Returns the payload bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept;
  /// Returns the payload length.
  [[nodiscard]] std::size_t size() const noexcept { return length_; }
  /// Tells whether the payload lives in a shared-memory slot (not inline).
  [[nodiscard]] bool in_slot() const noexcept { return owner_ != nullptr; }
  /// Returns the slot to its sender now; the bytes must not be used afterwards.
  void release() noexcept;

  /// Creates a lease over inline bytes (copied into the lease).
  static payload_lease from_inline(std::span<const std::byte> bytes) noexcept;
  /// Creates a lease over slot `slot` of `owner`'s receive arena.
  static payload_lease from_slot(std::shared_ptr<endpoint> owner, std::uint32_t slot,
                                 const std::byte* data, std::uint32_t length) noexcept;

private:
  std::shared_ptr<endpoint> owner_;
  const std::byte* data_ = nullptr;
  std::uint32_t slot_ = shm::inline_slot;
  std::uint32_t length_ = 0;
  std::array<std::byte, shm::inline_capacity> inline_{};
};

/// Holds one received message: its kind, correlation id, status word and payload.
struct incoming_message {
  /// Names what the message is.
  shm::message_kind kind = shm::message_kind::message;
  /// Correlates a reply with its request.
  std::uint64_t msg_id = 0;
  /// Holds the kind-specific status word (a reply's status).
  std::uint32_t aux = 0;
  /// Holds the payload, zero-copy.
  payload_lease payload;
};

} // namespace cellhub::transport
