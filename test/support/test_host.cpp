// test_host — a host in its own process, for tests that kill the host.
// Creates a hub at --hub-path, spawns --cells idle test cells (--cell-binary),
// waits for their READY, writes their pids as one line to fd 3, then waits to
// be killed. Exits 2 on any failure before that.
#include "cellhub/transport/hub_host.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace tr = cellhub::transport;

namespace {

std::string option(int argc, char** argv, std::string_view name) {
  const std::string prefix = "--" + std::string{name} + "=";
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]}.starts_with(prefix))
      return argv[i] + prefix.size();
  return {};
}

} // namespace

int main(int argc, char** argv) {
  auto hub = tr::hub_host::create(option(argc, argv, "hub-path"));
  if (!hub) {
    std::fprintf(stderr, "test_host: %s\n", hub.error().message().c_str());
    return 2;
  }
  const int cells = std::stoi(option(argc, argv, "cells"));
  std::vector<std::shared_ptr<tr::peer_transport>> transports;
  std::string line;
  for (int i = 0; i < cells; ++i) {
    tr::spawn_options cmd{.binary = option(argc, argv, "cell-binary"), .args = {"--mode=idle"}};
    auto transport = hub.value()->spawn_peer({}, std::move(cmd));
    if (!transport)
      return 2;
    auto ready = transport.value()->receive(std::chrono::seconds{30});
    if (!ready || ready.value().kind != tr::shm::message_kind::ready)
      return 2;
    line += std::to_string(transport.value()->ready_pid()) + " ";
    transports.push_back(std::move(transport).value());
  }
  line += "\n";
  if (::write(3, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    return 2;
  for (;;)
    ::pause();
}
