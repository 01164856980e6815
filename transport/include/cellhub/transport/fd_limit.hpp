#pragma once

// The process's file descriptor limit (RLIMIT_NOFILE): read it, and raise the soft
// limit as far as an unprivileged process may, before anything counts on it.

#include <cstdint>

namespace cellhub::transport {

/// Holds the process's RLIMIT_NOFILE limits; an unlimited value reads as UINT64_MAX.
struct fd_limits {
  /// Holds the soft limit: one more than the highest fd number the process may open now.
  std::uint64_t soft = 0;
  /// Holds the hard limit: how far the process may raise the soft limit.
  std::uint64_t hard = 0;
};

/// Returns the current RLIMIT_NOFILE limits (both 0 if they cannot be read).
[[nodiscard]] fd_limits current_fd_limits() noexcept;

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft limit now in
/// force. An unlimited hard limit cannot be the soft one (the kernel caps every open
/// at `fs.nr_open`), so the soft limit then goes to `/proc/sys/fs/nr_open`. Never
/// lowers the limit; returns it unchanged when raising fails (0 if unreadable).
std::uint64_t raise_fd_limit() noexcept;

/// Counts the file descriptors this process has open now (the entries of
/// /proc/self/fd, minus the one reading them takes); 0 if they cannot be listed.
[[nodiscard]] std::uint64_t count_open_fds() noexcept;

} // namespace cellhub::transport
