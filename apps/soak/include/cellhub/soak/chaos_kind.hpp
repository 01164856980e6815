#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace cellhub::soak {

/// Lists the kinds of chaos the soak inflicts on a ready cell.
enum class chaos_kind : std::uint8_t {
  /// Sends SIGKILL: the host must report a crash (signal 9) and restart the cell.
  kill,
  /// Sends SIGSTOP, then SIGCONT a while later: the host kills the cell as hung if work
  /// waited longer than its hang timeout, or the cell simply resumes.
  stop,
  /// Sends SIGUSR1: the demo cell writes garbage into its ring; the host must kill it
  /// as a protocol violation.
  garbage,
  /// Sends SIGUSR2: the demo cell says goodbye and keeps running; the host must end it
  /// after its shutdown timeout.
  linger,
};

/// Holds every chaos kind once, in declaration order.
inline constexpr std::array all_chaos_kinds = {chaos_kind::kill, chaos_kind::stop,
                                               chaos_kind::garbage, chaos_kind::linger};

/// Returns the kind's word ("kill", "stop", "garbage", "linger").
constexpr std::string_view to_string(chaos_kind kind) noexcept {
  switch (kind) {
  case chaos_kind::kill:
    return "kill";
  case chaos_kind::stop:
    return "stop";
  case chaos_kind::garbage:
    return "garbage";
  case chaos_kind::linger:
    return "linger";
  }
  return "?";
}

/// Returns the kind's position in `all_chaos_kinds`, to index per-kind arrays.
constexpr std::size_t index_of(chaos_kind kind) noexcept {
  return static_cast<std::size_t>(kind);
}

} // namespace cellhub::soak
