#pragma once

#include <cstdint>
#include <string_view>

namespace cellhub::transport {

/// Lists how the host learned that a cell is gone.
enum class death_cause : std::uint8_t {
  /// Ringing the cell's doorbell failed.
  signal_failed,
  /// The cell's doorbell end hung up (its last fd closed), seen without traffic.
  hung_up,
  /// The cell's process exit was seen (pidfd).
  process_exited,
  /// The cell broke the protocol (bad shared-memory content) and was killed, or hung
  /// up on when the transport has no process to kill.
  protocol_violation,
};

/// Returns the words the death warning uses for `cause` ("doorbell hung up", ...).
std::string_view describe(death_cause cause) noexcept;

} // namespace cellhub::transport
