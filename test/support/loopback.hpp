#pragma once

// TCP on the loopback for tests: a free port, a client connection, and a listener.

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <cstdint>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace cellhub::test {

/// Returns the address of `port` on 127.0.0.1.
inline sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

/// Returns a TCP port on the loopback that was free a moment ago.
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto addr = loopback_address(0);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// Opens a TCP connection to `port` on 127.0.0.1 and returns its fd (the caller
/// closes it); fails the test if it cannot.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  BOOST_TEST_REQUIRE(fd >= 0);
  const auto addr = loopback_address(port);
  BOOST_TEST_REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

/// Owns a TCP socket listening on 127.0.0.1, at a port the kernel chose.
struct loopback_listener {
  /// Holds the listening socket.
  int fd = -1;
  /// Holds the port it listens on.
  std::uint16_t port = 0;

  /// Listens with a queue of `backlog` connections; fails the test if it cannot.
  explicit loopback_listener(int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(fd >= 0);
    auto addr = loopback_address(0);
    BOOST_TEST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    BOOST_TEST_REQUIRE(::listen(fd, backlog) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~loopback_listener() { ::close(fd); }
  loopback_listener(const loopback_listener&) = delete;
  loopback_listener& operator=(const loopback_listener&) = delete;

  /// Returns `127.0.0.1:PORT`, as `--connect` takes it.
  [[nodiscard]] std::string endpoint() const { return "127.0.0.1:" + std::to_string(port); }
};

} // namespace cellhub::test
