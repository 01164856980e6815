// socket_cell — a cell handed a listening socket beside its doorbell (the seed page's
// "cell that is handed a listening socket"). It attaches from its ticket, then answers
// every connection on --listen-fd=N with "peer_id=P incarnation=I pid=X\n" and closes
// it, so a test that connects learns which attached cell serves the socket.
// Exits 0 when the host hangs up, 2 when attaching fails, 64 for bad arguments.
#include "cellhub/transport/cell.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace tr = cellhub::transport;

namespace {

int listen_fd(int argc, char** argv) {
  constexpr std::string_view prefix = "--listen-fd=";
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]}.starts_with(prefix))
      return std::atoi(argv[i] + prefix.size());
  return -1;
}

} // namespace

int main(int argc, char** argv) {
  const int listener = listen_fd(argc, argv);
  if (listener < 3)
    return 64;
  auto attached = tr::cell::attach(argc, argv);
  if (!attached) {
    std::fprintf(stderr, "socket_cell: %s\n", attached.error().message().c_str());
    return 2;
  }
  auto& self = attached.value();
  const std::string line = "peer_id=" + std::to_string(self.peer_id()) +
                           " incarnation=" + std::to_string(self.incarnation()) +
                           " pid=" + std::to_string(::getpid()) + "\n";
  auto& bell = self.link().bell();
  for (;;) {
    pollfd fds[2] = {{listener, POLLIN, 0}, {bell.fd(), POLLIN | POLLRDHUP, 0}};
    if (::poll(fds, 2, -1) < 0)
      continue;
    if ((fds[1].revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0)
      return 0; // the host hung up
    if ((fds[1].revents & POLLIN) != 0 && bell.drain() == tr::doorbell::drain_result::peer_dead)
      return 0;
    if ((fds[0].revents & POLLIN) != 0) {
      const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0)
        continue;
      (void)!::write(client, line.data(), line.size());
      ::close(client);
    }
  }
}
