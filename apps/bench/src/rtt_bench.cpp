#include "cellhub/bench/rtt_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/cpu_pinning.hpp"
#include "cellhub/bench/payload_marks.hpp"
#include "cellhub/bench/payload_sizes.hpp"
#include "cellhub/bench/socket_stream.hpp"
#include "cellhub/bench/tree_session.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace cellhub::bench {
namespace {

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using us = std::chrono::duration<double, std::micro>;

// Round trips per size at --iterations 1: enough for a stable p99 in a few seconds.
int iterations_for(std::size_t size, double scale) {
  const double base = size <= 4096 ? 20000 : size <= 65536 ? 3000 : 300;
  return std::max(20, static_cast<int>(std::lround(base * scale)));
}

// CAF 0.17's own scheduler, which `prepare_config` replaces: idle work-stealing
// workers nap in sleep_for(50us) slices that no enqueue interrupts.
const std::string caf_default = "scheduler.policy=stealing";

int warmup_for(int iterations) {
  return std::max(5, iterations / 20);
}

// Request/reply through the hub: the request is written in place (prepare, copy,
// commit); the host spins up to `spin` for the reply before it sleeps.
latency_samples hub_round_trips(tr::peer_transport& cell, std::size_t size, int iterations,
                                std::chrono::nanoseconds spin) {
  const auto source = marked_payload(size);
  latency_samples out(static_cast<std::size_t>(iterations));
  const int warmup = warmup_for(iterations);
  for (int i = -warmup; i < iterations; ++i) {
    const auto id = static_cast<std::uint64_t>(i + warmup + 1);
    const auto start = clock_type::now();
    auto request = cell.prepare(size);
    while (!request && request.error().code == tr::errc::no_slot) {
      (void)cell.wait_for_space(5s, spin);
      request = cell.prepare(size);
    }
    if (!request)
      throw bench_failure{"prepare: " + request.error().message()};
    std::memcpy(request.value().bytes().data(), source.data(), size);
    if (auto sent = cell.commit(request.value(), shm::message_kind::request, id); !sent)
      throw bench_failure{"commit: " + sent.error().message()};
    auto reply = cell.receive(10s, spin);
    if (!reply)
      throw bench_failure{"no reply: " + reply.error().message()};
    if (reply.value().kind != shm::message_kind::reply || reply.value().msg_id != id ||
        reply.value().payload.size() != size)
      throw bench_failure{"a reply did not match its request"};
    reply.value().payload.release();
    const auto end = clock_type::now();
    if (i >= 0)
      out.add(end - start);
  }
  return out;
}

// The same ping-pong over a Unix stream socket: one frame out, one frame back.
latency_samples socket_round_trips(socket_cell& cell, std::size_t size, int iterations) {
  const auto source = marked_payload(size);
  std::vector<std::byte> outgoing(size);
  std::vector<std::byte> buffer(size);
  latency_samples out(static_cast<std::size_t>(iterations));
  const int warmup = warmup_for(iterations);
  for (int i = -warmup; i < iterations; ++i) {
    const auto start = clock_type::now();
    // Written afresh each time, as the hub's request is written into its slot.
    socket_round_trip(cell.link, source, outgoing, buffer);
    const auto end = clock_type::now();
    if (i >= 0)
      out.add(end - start);
  }
  return out;
}

// Says which way a call by name takes.
enum class call_way {
  // scoped_actor -> registry -> peer actor -> cell, and back the same way.
  registry,
  // A cell_channel: the caller's thread writes the request into the ring and takes
  // the answer from it.
  channel,
};

// Calls by name, answered by the cell behind a peer actor.
latency_samples actor_round_trips(bench_context& ctx, int cell_cpu, int iterations,
                                  const std::vector<std::string>& caf_settings, call_way way) {
  const auto& opts = ctx.options();
  ac::supervisor_spec root;
  root.name = "bench";
  root.children.emplace_back(bench_cell_spec(opts, "echo", cell_cpu));
  tree_session session{ctx.hub_path("rtt-actor"), std::move(root), data_hub_config(), caf_settings};
  if (!session.watch(clock_type::now() + 30s, [](const sighting& seen) {
        return seen.event && seen.event->kind == ac::event_kind::ready;
      }))
    throw bench_failure{"the actor-layer echo cell never became ready"};
  const auto request = ac::payload::copy_of(marked_payload(64));
  auto channel = session.tree().channel("echo", {.spin = opts.spin});
  latency_samples out(static_cast<std::size_t>(iterations));
  const int warmup = warmup_for(iterations);
  for (int i = -warmup; i < iterations; ++i) {
    const auto start = clock_type::now();
    auto reply =
        way == call_way::channel ? channel.call(request, 10s) : session.call("echo", request, 10s);
    if (!reply || reply->size() != request.size())
      throw bench_failure{"a call by name got no matching answer"};
    const auto end = clock_type::now();
    if (i >= 0)
      out.add(end - start);
  }
  if (way == call_way::channel && channel.stats().through_registry != 0)
    throw bench_failure{"a call through the cell_channel went through the registry"};
  return out;
}

} // namespace

std::vector<measurement> run_rtt(bench_context& ctx) {
  const auto& opts = ctx.options();
  std::vector<measurement> rows;
  for (const int host_cpu : ctx.placements()) {
    const scoped_pin pin{host_cpu};
    const int cell_cpu = host_cpu < 0 ? -1 : host_cpu + 1;
    const auto where = placement_label(host_cpu);

    auto created = tr::hub_host::create(ctx.hub_path("rtt"), data_hub_config());
    if (!created)
      throw bench_failure{"creating the rtt hub: " + created.error().message()};
    std::map<std::size_t, latency_samples> hub;
    std::map<std::size_t, latency_samples> socket;
    // Fresh cells for every size, each size's hub and socket runs back to back.
    for (const auto size : opts.sizes) {
      const int iterations = iterations_for(size, opts.iterations);
      auto cell = spawn_hub_cell(*created.value(), opts.cell_binary,
                                 cell_arguments("echo", opts.spin, cell_cpu), "echo");
      hub.emplace(size, hub_round_trips(*cell, size, iterations, opts.spin));
      retire_hub_cell(*cell);
      auto twin = spawn_socket_cell(opts.cell_binary, "socket-echo", cell_cpu);
      socket.emplace(size, socket_round_trips(twin, size, iterations));
      retire_socket_cell(twin);
    }
    for (const auto size : opts.sizes) {
      auto row = latency_row<us>(
          "rtt", fmt::format("{} hub request/reply, {}", size_label(size), where), "us",
          hub.at(size), fmt::format("Unix socket ping-pong {}", size_label(size)),
          &socket.at(size));
      row.note =
          fmt::format("peer_transport, host and cell spin {} us before sleeping",
                      std::chrono::duration_cast<std::chrono::microseconds>(opts.spin).count());
      if (size == 64) {
        row.target = "<= 0.5x socket";
        row.met = row.ratio() <= 0.5;
      }
      rows.push_back(std::move(row));
    }
    // The actor layer is measured at 64 B only, against the 64 B socket baseline.
    if (socket.count(64) == 0)
      continue;
    const int calls = iterations_for(64, opts.iterations) / 5;
    const auto direct =
        actor_round_trips(ctx, cell_cpu, calls, opts.caf_settings, call_way::channel);
    auto direct_row =
        latency_row<us>("rtt", fmt::format("64 B call by name through a cell_channel, {}", where),
                        "us", direct, "Unix socket ping-pong 64 B", &socket.at(64));
    direct_row.target = "<= 0.5x socket, <= 10x hub";
    const double hub_ratio = direct.summary<us>().p50 / hub.at(64).summary<us>().p50;
    direct_row.met = direct_row.ratio() <= 0.5 && hub_ratio <= 10.0;
    direct_row.note = fmt::format(
        "{:.1f}x the 64 B hub request/reply; the caller's thread sends "
        "through the life's lane and spins {} us for the answer",
        hub_ratio, std::chrono::duration_cast<std::chrono::microseconds>(opts.spin).count());
    rows.push_back(std::move(direct_row));
    const auto actor =
        actor_round_trips(ctx, cell_cpu, calls, opts.caf_settings, call_way::registry);
    auto row = latency_row<us>("rtt", fmt::format("64 B actor call by name, {}", where), "us",
                               actor, "Unix socket ping-pong 64 B", &socket.at(64));
    row.note = "scoped_actor -> registry -> peer_actor -> cell -> doorbell_watcher -> reply; "
               "CAF as actors::prepare_config leaves it";
    rows.push_back(std::move(row));
    if (opts.caf_settings.empty()) {
      // What prepare_config saves: with CAF's default, every hop of a call can wait
      // out one of an idle worker's 50 us naps.
      const auto stealing =
          actor_round_trips(ctx, cell_cpu, calls, {caf_default}, call_way::registry);
      auto stealing_row =
          latency_row<us>("rtt", fmt::format("64 B actor call by name, {}, {}", caf_default, where),
                          "us", stealing, "Unix socket ping-pong 64 B", &socket.at(64));
      stealing_row.note = "the row above with CAF's default scheduler instead of prepare_config's";
      rows.push_back(std::move(stealing_row));
    }
  }
  return rows;
}

} // namespace cellhub::bench
