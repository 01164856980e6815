#include "poll_until.hpp"

#include <cerrno>
#include <poll.h>
#include <signal.h>
#include <time.h>

namespace cellhub::transport::detail {

using namespace std::chrono_literals;

int poll_until(int fd, short events, std::chrono::nanoseconds timeout) noexcept {
  using clock = std::chrono::steady_clock;
  const bool forever = timeout < 0ns;
  const auto start = clock::now();
  auto remaining = timeout;
  for (;;) {
    pollfd entry{fd, events, 0};
    timespec span{};
    timespec* span_ptr = nullptr;
    if (!forever) {
      // ppoll rather than poll: it takes nanoseconds, so 500us does not become 0 or 1ms.
      const auto secs = std::chrono::duration_cast<std::chrono::seconds>(remaining);
      span.tv_sec = secs.count();
      span.tv_nsec = (remaining - secs).count();
      span_ptr = &span;
    }
    const int ready = ::ppoll(&entry, 1, span_ptr, nullptr);
    if (ready > 0)
      return entry.revents;
    if (ready == 0)
      return 0;
    if (errno != EINTR)
      return -errno;
    if (!forever) {
      remaining =
          timeout - std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start);
      if (remaining <= 0ns)
        return 0;
    }
  }
}

} // namespace cellhub::transport::detail
