#include "cellhub/bench/node_loss_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/fd_wait.hpp"
#include "cellhub/bench/host_probe.hpp"
#include "cellhub/bench/node_helper.hpp"
#include "cellhub/bench/node_session.hpp"
#include "cellhub/bench/tcp_loopback.hpp"

#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/cluster/cluster_options.hpp"

#include <fmt/format.h>

#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>

namespace cellhub::bench {
namespace {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;

bool is_node_event(const sighting& seen, ac::event_kind kind) {
  return seen.event && seen.event->kind == kind && seen.event->name == node_helper_name;
}

// The floor: a plain process holding one end of a loopback TCP connection, killed;
// the other end readable (the kernel's FIN) in `poll`.
class tcp_floor {
public:
  explicit tcp_floor(std::string binary)
      : binary_{std::move(binary)} {}

  void measure_once() {
    auto sockets = tcp_loopback_pair();
    if (!sockets)
      throw bench_failure{"a loopback TCP connection could not be made"};
    auto cell = spawn_socket_cell(std::move(*sockets), binary_, "socket-echo");
    (void)wait_until_sleeping(cell.child.pid(), clock_type::now() + 2s);
    const auto killed_at = clock_type::now();
    ::kill(cell.child.pid(), SIGKILL);
    if (!wait_readable(cell.link.fd(), 10s))
      throw bench_failure{"a killed process's TCP connection never closed"};
    kill_to_eof.add(clock_type::now() - killed_at);
    (void)cell.child.wait_for(10s);
  }

  latency_samples kill_to_eof;

private:
  std::string binary_;
};

// Node a, here, with no cells; node b joins it from a process of its own for each
// kill.
class node_kills {
public:
  explicit node_kills(bench_context& ctx)
      : ctx_{ctx}
      , near_{{.node = "a",
               .hub_path = ctx.hub_path("cluster-near"),
               .caf_settings = ctx.options().caf_settings}} {}

  void measure_once() {
    const auto hub_path = ctx_.hub_path("cluster-far");
    auto far = spawn_node_helper(ctx_.options(), near_.port(), hub_path);
    // Sanitizer builds start slowly; a node that never joins is a failure.
    if (!near_.watch(clock_type::now() + 60s, [](const sighting& seen) {
          return is_node_event(seen, ac::event_kind::node_up);
        })) {
      const auto status = far.try_wait();
      throw bench_failure{fmt::format("node {} never joined{}", node_helper_name,
                                      status ? " (" + status->describe() + ")" : "")};
    }
    (void)wait_until_sleeping(far.pid(), clock_type::now() + 2s);
    std::optional<clock_type::time_point> down_at;
    std::int64_t down_stamp = 0;
    const auto killed_at = clock_type::now();
    const auto killed_wall = ac::event_clock_ns();
    ::kill(far.pid(), SIGKILL);
    const bool lost = near_.watch(killed_at + 30s, [&](const sighting& seen) {
      if (!is_node_event(seen, ac::event_kind::node_down))
        return false;
      down_at = seen.at;
      down_stamp = seen.event->ts_ns;
      return true;
    });
    (void)far.wait_for(10s);
    std::error_code ec;
    std::filesystem::remove(hub_path, ec);
    if (!lost)
      throw bench_failure{
          fmt::format("node {} was killed, and no `node_down` came within 30 s", node_helper_name)};
    kill_to_subscriber.add(*down_at - killed_at);
    // The node actor's own wall-clock stamp: a sample outside [0, what the subscriber
    // saw] means the wall clock was stepped meanwhile, and is left out.
    const auto at_node = std::chrono::nanoseconds{down_stamp - killed_wall};
    if (at_node.count() >= 0 && at_node <= *down_at - killed_at)
      kill_to_node_actor.add(at_node);
  }

  latency_samples kill_to_node_actor;
  latency_samples kill_to_subscriber;

private:
  bench_context& ctx_;
  node_session near_;
};

} // namespace

std::vector<measurement> run_node_loss(bench_context& ctx) {
  const auto& opts = ctx.options();
  // Each kill starts a whole node: a tenth of the kill cycles of detect and restart.
  const int rounds = std::max(3, opts.kills / 10);
  tcp_floor floor{opts.cell_binary};
  node_kills kills{ctx};
  // Interleaved, so that whatever the machine does weighs on value and baseline alike.
  for (int i = 0; i < rounds; ++i) {
    floor.measure_once();
    kills.measure_once();
  }
  const cluster::cluster_options defaults;
  const std::string floor_name = "plain process on loopback TCP: SIGKILL -> peer's EOF (poll)";
  std::vector<measurement> rows;
  auto at_node = latency_row<ms>(
      "cluster", fmt::format("SIGKILL of node {} -> node a declares it down", node_helper_name),
      "ms", kills.kill_to_node_actor, floor_name, &floor.kill_to_eof);
  at_node.note = fmt::format(
      "the `node_down` event's wall-clock stamp, taken when a's node actor builds it; node {} "
      "(cellhub-bench in a process of its own, one idle cell) joined a over loopback without "
      "TLS; heartbeat every {} ms, silence limit {} ms (defaults); {} of {} samples kept (a "
      "wall-clock step drops one)",
      node_helper_name, defaults.heartbeat_interval.count(), defaults.heartbeat_timeout.count(),
      kills.kill_to_node_actor.size(), kills.kill_to_subscriber.size());
  rows.push_back(std::move(at_node));
  auto seen = latency_row<ms>(
      "cluster",
      fmt::format("SIGKILL of node {} -> `node_down` at a subscriber of a", node_helper_name), "ms",
      kills.kill_to_subscriber, floor_name, &floor.kill_to_eof);
  seen.note = fmt::format("the stamp's moment plus one actor hop to a scoped actor; {} kills, each "
                          "of a freshly started node",
                          kills.kill_to_subscriber.size());
  rows.push_back(std::move(seen));
  return rows;
}

} // namespace cellhub::bench
