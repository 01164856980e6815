#include "cellhub/transport/doorbell.hpp"

#include "poll_until.hpp"

#include "cellhub/transport/log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>

namespace cellhub::transport {
namespace {

using namespace std::chrono_literals;

// POLLRDHUP is asked for explicitly; POLLHUP, POLLERR and POLLNVAL always come back.
constexpr short hangup_events = POLLHUP | POLLRDHUP | POLLERR | POLLNVAL;

// Returns whether `err` is one of the errnos a send reports once the peer's end is gone.
bool is_peer_gone(int err) noexcept {
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ECONNREFUSED;
}

} // namespace

std::string_view to_string(signal_result value) noexcept {
  switch (value) {
  case signal_result::sent:
    return "sent";
  case signal_result::buffer_full:
    return "buffer_full";
  case signal_result::peer_dead:
    return "peer_dead";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, signal_result value) {
  return out << to_string(value);
}

std::string_view to_string(doorbell::drain_result value) noexcept {
  switch (value) {
  case doorbell::drain_result::empty:
    return "empty";
  case doorbell::drain_result::drained:
    return "drained";
  case doorbell::drain_result::peer_dead:
    return "peer_dead";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, doorbell::drain_result value) {
  return out << to_string(value);
}

std::string_view to_string(doorbell::wait_result value) noexcept {
  switch (value) {
  case doorbell::wait_result::rang:
    return "rang";
  case doorbell::wait_result::timeout:
    return "timeout";
  case doorbell::wait_result::peer_dead:
    return "peer_dead";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, doorbell::wait_result value) {
  return out << to_string(value);
}

result<std::pair<doorbell, doorbell>> doorbell::create_pair() {
  int fds[2] = {-1, -1};
  // SEQPACKET: one send is one wake-up, and the peer's death shows as POLLHUP/EOF.
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    return make_sys_error("socketpair(AF_UNIX, SOCK_SEQPACKET) for a doorbell");
  return std::pair{doorbell{fds[0]}, doorbell{fds[1]}};
}

doorbell doorbell::adopt(int fd) noexcept {
  if (fd < 0)
    return doorbell{};
  const int status_flags = ::fcntl(fd, F_GETFL);
  if (status_flags < 0) {
    // Not an open fd: there is nothing to own, and closing it could hit someone else's.
    const int err = errno;
    doorbell probe{fd};
    probe.warn_once("adopt (fcntl F_GETFL)", err);
    (void)probe.release();
    return doorbell{};
  }
  doorbell owner{fd};
  // The cell must never block on its doorbell, nor leak it into its own children.
  if ((status_flags & O_NONBLOCK) == 0 && ::fcntl(fd, F_SETFL, status_flags | O_NONBLOCK) != 0)
    owner.warn_once("adopt (fcntl F_SETFL O_NONBLOCK)", errno);
  const int fd_flags = ::fcntl(fd, F_GETFD);
  if (fd_flags < 0 || ::fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) != 0)
    owner.warn_once("adopt (fcntl F_SETFD FD_CLOEXEC)", errno);
  return owner;
}

doorbell::doorbell(doorbell&& other) noexcept
    : fd_{std::exchange(other.fd_, -1)}
    , warned_{other.warned_.exchange(false)} {}

doorbell& doorbell::operator=(doorbell&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    warned_ = other.warned_.exchange(false);
  }
  return *this;
}

doorbell::~doorbell() {
  close();
}

int doorbell::release() noexcept {
  warned_ = false;
  return std::exchange(fd_, -1);
}

void doorbell::close() noexcept {
  if (fd_ < 0)
    return;
  // No retry on EINTR: on Linux the fd is released even then, and a retry could close
  // an fd another thread just opened.
  ::close(std::exchange(fd_, -1));
  warned_ = false;
}

void doorbell::shutdown() noexcept {
  if (fd_ < 0)
    return;
  // ENOTCONN: the peer is gone already, which is what a hang-up wants anyway.
  if (::shutdown(fd_, SHUT_RDWR) != 0 && errno != ENOTCONN)
    warn_once("shutdown", errno);
}

signal_result doorbell::signal() noexcept {
  if (fd_ < 0)
    return signal_result::peer_dead;
  const char byte = 1;
  for (;;) {
    if (::send(fd_, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
      return signal_result::sent;
    const int err = errno;
    if (err == EINTR)
      continue;
    if (err == EAGAIN || err == EWOULDBLOCK)
      return signal_result::buffer_full;
    if (!is_peer_gone(err))
      warn_once("signal (send)", err);
    return signal_result::peer_dead;
  }
}

result<void> doorbell::send_fd(int fd, std::uint64_t word) noexcept {
  if (fd_ < 0)
    return make_error(errc::closed, "the doorbell is closed");
  iovec data{&word, sizeof(word)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &data;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&msg);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  for (;;) {
    if (::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(word)))
      return success();
    const int err = errno;
    if (err == EINTR)
      continue;
    if (is_peer_gone(err))
      return make_error(errc::peer_dead, "the doorbell's peer hung up");
    return make_sys_error("send a descriptor over a doorbell", err);
  }
}

result<doorbell::received_fd> doorbell::receive_fd() noexcept {
  if (fd_ < 0)
    return make_error(errc::closed, "the doorbell is closed");
  std::uint64_t word = 0;
  iovec data{&word, sizeof(word)};
  // Room for a few descriptors, so that extra ones arrive (and are closed) rather
  // than being dropped unseen.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &data;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t got = -1;
  do
    got = ::recvmsg(fd_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK)
      return make_error(errc::bad_ticket, "no peer region was handed over the doorbell");
    if (is_peer_gone(err))
      return make_error(errc::peer_dead, "the host hung up");
    return make_sys_error("receive a descriptor over a doorbell", err);
  }
  received_fd taken;
  for (cmsghdr* header = CMSG_FIRSTHDR(&msg); header != nullptr;
       header = CMSG_NXTHDR(&msg, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS)
      continue;
    const auto count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      if (taken.fd < 0)
        taken.fd = fd;
      else
        ::close(fd);
    }
  }
  // A read of 0 bytes is the peer's end closing, unless it came with descriptors (an
  // empty packet carrying them), which were taken above and are closed below.
  if (got == 0 && taken.fd < 0)
    return make_error(errc::peer_dead, "the host hung up");
  if (taken.fd < 0 || got != static_cast<ssize_t>(sizeof(word)) ||
      (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    if (taken.fd >= 0)
      ::close(taken.fd);
    return make_error(errc::bad_ticket,
                      "the doorbell's first packet is not a peer region handed over");
  }
  taken.word = word;
  return taken;
}

doorbell::drain_result doorbell::drain() noexcept {
  if (fd_ < 0)
    return drain_result::peer_dead;
  bool got_any = false;
  for (int packets = 0; packets < max_drain_packets;) {
    // One recv consumes one SEQPACKET packet, however small the buffer; 64 bytes is
    // plenty for the one-byte wake-ups and tolerates a peer that sends more.
    char buffer[64];
    const ssize_t got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (got > 0) {
      got_any = true;
      ++packets;
      continue;
    }
    if (got == 0)
      return drain_result::peer_dead; // EOF: every fd of the peer's end is closed
    const int err = errno;
    if (err == EINTR)
      continue;
    if (err == EAGAIN || err == EWOULDBLOCK)
      break;
    if (err != ECONNRESET)
      warn_once("drain (recv)", err);
    return drain_result::peer_dead;
  }
  return got_any ? drain_result::drained : drain_result::empty;
}

doorbell::wait_result doorbell::wait(std::chrono::nanoseconds timeout) noexcept {
  if (fd_ < 0)
    return wait_result::peer_dead;
  const int revents = detail::poll_until(fd_, POLLIN | POLLRDHUP, timeout);
  if (revents < 0) {
    warn_once("wait (ppoll)", -revents);
    return wait_result::peer_dead;
  }
  if (revents == 0)
    return wait_result::timeout;
  // Hang-up wins over pending data: a dead peer rings no more.
  if ((revents & hangup_events) != 0)
    return wait_result::peer_dead;
  return wait_result::rang;
}

bool doorbell::hung_up() const noexcept {
  if (fd_ < 0)
    return true;
  pollfd entry{fd_, POLLRDHUP, 0};
  int ready = 0;
  do {
    ready = ::poll(&entry, 1, 0);
  } while (ready < 0 && errno == EINTR);
  return ready > 0 && (entry.revents & hangup_events) != 0;
}

void doorbell::warn_once(std::string_view operation, int err) noexcept {
  if (warned_.exchange(true))
    return;
  try {
    logger()->warn("doorbell fd={} {} failed unexpectedly: {} (errno {}); treating the peer "
                   "as dead",
                   fd_, operation, std::strerror(err), err);
  } catch (...) {
    // Logging must not turn a doorbell call into a throw; the result already says dead.
  }
}

} // namespace cellhub::transport
