#include "cellhub/bench/frame_socket.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace cellhub::bench {

std::optional<std::pair<frame_socket, frame_socket>> frame_socket::create_pair() {
  int fds[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return std::nullopt;
  return std::pair{frame_socket{fds[0]}, frame_socket{fds[1]}};
}

frame_socket::frame_socket(frame_socket&& other) noexcept
    : fd_{std::exchange(other.fd_, -1)} {}

frame_socket& frame_socket::operator=(frame_socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

frame_socket::~frame_socket() {
  if (fd_ >= 0)
    ::close(fd_);
}

int frame_socket::release() noexcept {
  return std::exchange(fd_, -1);
}

bool frame_socket::send(frame_kind kind, std::span<const std::byte> payload) noexcept {
  const std::uint32_t header[2] = {static_cast<std::uint32_t>(payload.size()),
                                   static_cast<std::uint32_t>(kind)};
  iovec parts[2] = {{const_cast<std::uint32_t*>(header), sizeof header},
                    {const_cast<std::byte*>(payload.data()), payload.size()}};
  iovec* next = parts;
  int left = payload.empty() ? 1 : 2;
  while (left > 0) {
    // MSG_NOSIGNAL: a dead peer must show up as a failed send, not kill the sender.
    msghdr msg{};
    msg.msg_iov = next;
    msg.msg_iovlen = static_cast<std::size_t>(left);
    const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    auto done = static_cast<std::size_t>(sent);
    while (left > 0 && done >= next->iov_len) {
      done -= next->iov_len;
      ++next;
      --left;
    }
    if (left > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + done;
      next->iov_len -= done;
    }
  }
  return true;
}

std::optional<frame_header> frame_socket::receive(std::vector<std::byte>& buffer) noexcept {
  std::uint32_t header[2] = {0, 0};
  if (!read_exactly(reinterpret_cast<std::byte*>(header), sizeof header))
    return std::nullopt;
  frame_header out{header[0], static_cast<frame_kind>(header[1])};
  try {
    if (buffer.size() < out.length)
      buffer.resize(out.length);
  } catch (...) {
    return std::nullopt;
  }
  if (out.length > 0 && !read_exactly(buffer.data(), out.length))
    return std::nullopt;
  return out;
}

bool frame_socket::read_exactly(std::byte* into, std::size_t length) noexcept {
  while (length > 0) {
    const ssize_t got = ::read(fd_, into, length);
    if (got > 0) {
      into += got;
      length -= static_cast<std::size_t>(got);
    } else if (got == 0 || errno != EINTR) {
      return false;
    }
  }
  return true;
}

} // namespace cellhub::bench
