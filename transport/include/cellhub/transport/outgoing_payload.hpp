#pragma once

#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace cellhub::transport {

/// Holds space for a payload being written in place (zero-copy send): fill
/// `bytes()`, then commit it through the transport that prepared it. Destroying
/// it uncommitted gives the slot back.
class outgoing_payload {
public:
  /// Creates an empty payload.
  outgoing_payload() noexcept = default;
  outgoing_payload(outgoing_payload&& other) noexcept;
  outgoing_payload& operator=(outgoing_payload&& other) noexcept;
  outgoing_payload(const outgoing_payload&) = delete;
  outgoing_payload& operator=(const outgoing_payload&) = delete;
  /// Gives an uncommitted slot back to its pool.
  ~outgoing_payload();

  /// Returns the writable bytes (exactly the length asked for).
  [[nodiscard]] std::span<std::byte> bytes() noexcept;
  /// Returns the length asked for.
  [[nodiscard]] std::size_t size() const noexcept { return length_; }

private:
  friend class endpoint;
  outgoing_payload(std::shared_ptr<endpoint> owner, std::uint32_t slot, std::byte* data,
                   std::uint32_t length) noexcept;
  void abandon() noexcept;

  std::shared_ptr<endpoint> owner_;
  std::byte* data_ = nullptr;
  std::uint32_t slot_ = shm::inline_slot;
  std::uint32_t length_ = 0;
  std::array<std::byte, shm::inline_capacity> inline_{};
};

} // namespace cellhub::transport
