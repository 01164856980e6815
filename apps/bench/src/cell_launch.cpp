#include "cellhub/bench/cell_launch.hpp"

#include "cellhub/bench/bench_context.hpp"

#include <fmt/format.h>

#include <csignal>

namespace cellhub::bench {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;

std::vector<std::string> cell_arguments(const std::string& mode, std::chrono::nanoseconds spin,
                                        int cpu) {
  std::vector<std::string> args{"--mode=" + mode, fmt::format("--spin={}ns", spin.count())};
  if (cpu >= 0)
    args.push_back(fmt::format("--cpu={}", cpu));
  return args;
}

actors::cell_spec bench_cell_spec(const bench_options& opts, const std::string& mode, int cpu) {
  actors::cell_spec spec;
  spec.name = mode;
  spec.binary = opts.cell_binary;
  spec.args = cell_arguments(mode, opts.spin, cpu);
  spec.start_timeout = 30s;
  spec.hang_timeout = 0ms;
  return spec;
}

std::shared_ptr<tr::peer_transport> spawn_hub_cell(tr::hub_host& hub, const std::string& binary,
                                                   std::vector<std::string> args,
                                                   const std::string& name) {
  auto cell = hub.spawn_peer({.peer_name = name},
                             tr::spawn_options{.binary = binary, .args = std::move(args)});
  if (!cell)
    throw bench_failure{fmt::format("spawning cell {}: {}", name, cell.error().message())};
  // Sanitizer builds start slowly; a missing READY is a failure, not a result.
  auto ready = cell.value()->receive(30s);
  if (!ready || ready.value().kind != shm::message_kind::ready)
    throw bench_failure{fmt::format("cell {} sent no READY: {}", name,
                                    ready ? "another message" : ready.error().message())};
  return std::move(cell).value();
}

void retire_hub_cell(tr::peer_transport& cell) {
  if (!cell.closed())
    (void)cell.request_goodbye();
  if (auto* child = cell.child()) {
    if (!child->wait_for(10s))
      (void)child->send_signal(SIGKILL);
  }
}

socket_cell spawn_socket_cell(const std::string& binary, const std::string& mode, int cpu,
                              const std::vector<std::string>& extra) {
  auto pair = frame_socket::create_pair();
  if (!pair)
    throw bench_failure{"socketpair for a socket cell failed"};
  return spawn_socket_cell(std::move(*pair), binary, mode, cpu, extra);
}

socket_cell spawn_socket_cell(std::pair<frame_socket, frame_socket> sockets,
                              const std::string& binary, const std::string& mode, int cpu,
                              const std::vector<std::string>& extra) {
  tr::spawn_options command{.binary = binary, .args = {"--mode=" + mode, "--socket-fd=3"}};
  if (cpu >= 0)
    command.args.push_back(fmt::format("--cpu={}", cpu));
  command.args.insert(command.args.end(), extra.begin(), extra.end());
  command.inherit = {{sockets.second.fd(), 3}};
  auto child = tr::process::spawn(command);
  if (!child)
    throw bench_failure{"spawning a socket cell: " + child.error().message()};
  socket_cell out{std::move(child).value(), std::move(sockets.first)};
  // Our copy of the cell's end must go, or the cell's death would go unnoticed.
  sockets.second = frame_socket{};
  std::vector<std::byte> buffer;
  auto hello = out.link.receive(buffer);
  if (!hello || hello->kind != frame_kind::reply)
    throw bench_failure{"socket cell (" + mode + ") did not come up"};
  return out;
}

void retire_socket_cell(socket_cell& cell) {
  cell.link = frame_socket{};
  if (!cell.child.wait_for(10s))
    (void)cell.child.send_signal(SIGKILL);
}

} // namespace cellhub::bench
