#pragma once

#include "cellhub/soak/process_probe.hpp"

#include <optional>

namespace cellhub::soak {

/// Holds a pidfd on one cell process, so that a signal sent through it reaches that
/// process and never another that reused its pid (a SIGCONT sent seconds after the
/// SIGSTOP, when the cell may long be dead).
class pid_handle {
public:
  /// Opens a pidfd on `who`; nothing when that process is gone, its pid now names
  /// another process, or its start time is unknown.
  static std::optional<pid_handle> open(const process_identity& who);

  pid_handle(pid_handle&& other) noexcept;
  pid_handle& operator=(pid_handle&& other) noexcept;
  pid_handle(const pid_handle&) = delete;
  pid_handle& operator=(const pid_handle&) = delete;
  /// Closes the pidfd.
  ~pid_handle();

  /// Sends `signal`; false when the process is gone (reaped) or the kernel refused.
  bool signal(int signal) const noexcept;

  /// Returns the process.
  [[nodiscard]] const process_identity& who() const noexcept { return who_; }

private:
  pid_handle(int fd, process_identity who) noexcept
      : fd_{fd}
      , who_{who} {}

  int fd_ = -1;
  process_identity who_;
};

} // namespace cellhub::soak
