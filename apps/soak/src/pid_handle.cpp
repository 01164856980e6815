#include "cellhub/soak/pid_handle.hpp"

#include <fcntl.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS, so C++ would mangle the names
// (fixed in 2.37); what it needs (<fcntl.h>, siginfo_t) is included above.
extern "C" {
#include <sys/pidfd.h>
}
#include <unistd.h>

#include <utility>

namespace cellhub::soak {

std::optional<pid_handle> pid_handle::open(const process_identity& who) {
  // Without a start time the pid alone could name anyone.
  if (who.pid <= 0 || who.start_ticks == 0)
    return std::nullopt;
  const int fd = ::pidfd_open(who.pid, 0);
  if (fd < 0)
    return std::nullopt;
  pid_handle handle{fd, who};
  // The pidfd pins whatever process has the pid now: check that it is the one we
  // mean. Checked after the open, so the answer cannot change under us.
  if (!state_if_alive(who))
    return std::nullopt;
  return handle;
}

pid_handle::pid_handle(pid_handle&& other) noexcept
    : fd_{std::exchange(other.fd_, -1)}
    , who_{other.who_} {}

pid_handle& pid_handle::operator=(pid_handle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    who_ = other.who_;
  }
  return *this;
}

pid_handle::~pid_handle() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool pid_handle::signal(int signal) const noexcept {
  return fd_ >= 0 && ::pidfd_send_signal(fd_, signal, nullptr, 0) == 0;
}

} // namespace cellhub::soak
