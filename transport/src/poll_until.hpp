#pragma once

// Private to the transport library: a poll on one fd with an exact deadline.

#include <chrono>

namespace cellhub::transport::detail {

/// Polls `fd` for `events` until one is reported or `timeout` passes (negative waits
/// forever). Returns the revents, 0 on timeout, or -errno. EINTR is retried with the
/// time that is left, so a signal neither shortens nor stretches the wait.
int poll_until(int fd, short events, std::chrono::nanoseconds timeout) noexcept;

} // namespace cellhub::transport::detail
