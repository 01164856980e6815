#pragma once

#include <cstdint>
#include <string_view>

namespace cellhub::actors {

/// Lists the states of a supervised child.
enum class child_state : std::uint8_t {
  /// Not running and not scheduled (before the first start, or dead inside a group restart).
  idle,
  /// Started; waiting for READY.
  starting,
  /// Ready.
  running,
  /// Asked to stop; waiting for it to end.
  stopping,
  /// Waiting out its backoff before the next start.
  restarting,
  /// Ended and not restarted (terminated, or a transient child that ended cleanly).
  stopped,
  /// Parked after exceeding the intensity, until `restart_child`.
  quarantined,
};

/// Returns the state word ("running", ...).
std::string_view to_string(child_state state) noexcept;

} // namespace cellhub::actors
