#include "cellhub/bench/tcp_loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace cellhub::bench {
namespace {

bool no_delay(int fd) {
  const int on = 1;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0;
}

} // namespace

std::optional<std::pair<frame_socket, frame_socket>> tcp_loopback_pair() {
  frame_socket listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (listener.fd() < 0)
    return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (::bind(listener.fd(), generic, sizeof address) != 0 || ::listen(listener.fd(), 1) != 0 ||
      ::getsockname(listener.fd(), generic, &length) != 0)
    return std::nullopt;
  frame_socket client{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  // The kernel completes a loopback handshake inside connect: the listener's backlog
  // holds the connection before accept.
  if (client.fd() < 0 || ::connect(client.fd(), generic, sizeof address) != 0)
    return std::nullopt;
  frame_socket server{::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC)};
  if (server.fd() < 0 || !no_delay(client.fd()) || !no_delay(server.fd()))
    return std::nullopt;
  return std::pair{std::move(client), std::move(server)};
}

} // namespace cellhub::bench
