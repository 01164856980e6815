#pragma once

// Seeing a killed process go as a poller sees it: its pidfd, or the peer's end of
// its connection, becoming readable.

#include <chrono>

namespace cellhub::bench {

/// Waits in `poll` until `fd` is readable (or hung up), for at most `limit`; tells
/// whether it became so. A signal's interruption does not end the wait.
bool wait_readable(int fd, std::chrono::milliseconds limit);

} // namespace cellhub::bench
