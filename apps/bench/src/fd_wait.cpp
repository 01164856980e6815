#include "cellhub/bench/fd_wait.hpp"

#include <poll.h>

#include <cerrno>

namespace cellhub::bench {

bool wait_readable(int fd, std::chrono::milliseconds limit) {
  pollfd entry{fd, POLLIN, 0};
  for (;;) {
    const int ready = ::poll(&entry, 1, static_cast<int>(limit.count()));
    if (ready > 0)
      return true;
    if (ready == 0 || errno != EINTR)
      return false;
  }
}

} // namespace cellhub::bench
