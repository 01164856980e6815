#include "cellhub/bench/cluster_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/cpu_pinning.hpp"
#include "cellhub/bench/node_loss_bench.hpp"
#include "cellhub/bench/node_session.hpp"
#include "cellhub/bench/payload_marks.hpp"
#include "cellhub/bench/payload_sizes.hpp"
#include "cellhub/bench/rate_run.hpp"
#include "cellhub/bench/sink_count.hpp"
#include "cellhub/bench/socket_stream.hpp"
#include "cellhub/bench/tcp_loopback.hpp"

#include "cellhub/remote/link_security.hpp"
#include "cellhub/remote/tls_credentials.hpp"

#include <fmt/format.h>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

namespace cellhub::bench {
namespace {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using us = std::chrono::duration<double, std::micro>;

constexpr std::size_t message_size = 64;
// Casts per confirming call, and batches unconfirmed: at most 256 casts in flight
// (a's node actor acknowledges each once b's registry accepted it), far below the
// sink's max_pending.
constexpr std::size_t cast_batch = 64;
constexpr std::size_t batches_in_flight = 4;

// Node b runs the cells; node a calls them by cluster name.
const std::string far_node = "b";
const std::string echo_name = far_node + "/echo";
const std::string sink_name = far_node + "/sink";

// A fresh private directory (0700) for the run's TLS credentials: the first node to
// load it generates a CA and a certificate signed by it, every later one reuses them,
// so that all trust one CA. Removed at the end.
class scratch_tls_dir {
public:
  scratch_tls_dir() {
    auto pattern = (std::filesystem::temp_directory_path() / "cellhub-bench-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw bench_failure{"cannot create a directory for TLS credentials"};
    path_ = pattern;
  }
  scratch_tls_dir(const scratch_tls_dir&) = delete;
  scratch_tls_dir& operator=(const scratch_tls_dir&) = delete;
  ~scratch_tls_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  // Loads the credentials (generating them the first time), as one node does.
  [[nodiscard]] remote::link_security security() const {
    auto creds = remote::tls_credentials::load(path_, remote::on_missing::generate);
    if (!creds)
      throw bench_failure{"TLS credentials: " + creds.error().message()};
    return remote::link_security::tls(std::move(creds).value());
  }

private:
  std::filesystem::path path_;
};

// Node b: the echo and the sink cell.
node_session_options far_options(bench_context& ctx, int cell_cpu, remote::link_security how) {
  const auto& opts = ctx.options();
  node_session_options options{.node = far_node,
                               .hub_path = ctx.hub_path("cluster-b"),
                               .hub = data_hub_config(),
                               .security = std::move(how),
                               .caf_settings = opts.caf_settings};
  options.root.children.emplace_back(bench_cell_spec(opts, "echo", cell_cpu));
  options.root.children.emplace_back(bench_cell_spec(opts, "sink", cell_cpu));
  return options;
}

// Node a: no cells; joins b.
node_session_options near_options(bench_context& ctx, std::uint16_t far_port,
                                  remote::link_security how) {
  return {.node = "a",
          .hub_path = ctx.hub_path("cluster-a"),
          .security = std::move(how),
          .join = {{"127.0.0.1", far_port}},
          .caf_settings = ctx.options().caf_settings};
}

// Two nodes linked over loopback, each in an actor system of its own, whose links
// use `far_links` and `near_links`: b runs the cells, a calls them by cluster name.
struct node_pair {
  node_pair(bench_context& ctx, int cell_cpu, remote::link_security far_links,
            remote::link_security near_links)
      : far{far_options(ctx, cell_cpu, std::move(far_links))}
      , near{near_options(ctx, far.port(), std::move(near_links))} {
    int ready = 0;
    if (!far.watch(clock_type::now() + 30s, [&](const sighting& seen) {
          return seen.event && seen.event->kind == ac::event_kind::ready && ++ready == 2;
        }))
      throw bench_failure{"node " + far_node + "'s echo and sink cells never became ready"};
    if (!near.watch(clock_type::now() + 30s, [](const sighting& seen) {
          return seen.event && seen.event->kind == ac::event_kind::node_up &&
                 seen.event->name == far_node;
        }))
      throw bench_failure{"node a never saw node " + far_node + " up"};
    // b's cells reach a's view with b's snapshot or just after it.
    const auto deadline = clock_type::now() + 30s;
    for (;;) {
      auto answer =
          near.cluster_call(echo_name, ac::payload::copy_of(marked_payload(message_size)), 10s);
      if (answer)
        break;
      if (clock_type::now() > deadline)
        throw bench_failure{"a call from node a to " + echo_name + ": " +
                            near.render(answer.error())};
      std::this_thread::sleep_for(10ms);
    }
  }

  node_session far;
  node_session near;
};

int warmup_for(int iterations) {
  return std::max(5, iterations / 20);
}

// Runs `once` `count` times, each timed into `out` when `out` is given.
template <class Once>
void round_trips(int count, latency_samples* out, Once once) {
  for (int i = 0; i < count; ++i) {
    const auto start = clock_type::now();
    once();
    const auto end = clock_type::now();
    if (out != nullptr)
      out->add(end - start);
  }
}

// The four round trips of one placement, measured in alternating blocks.
struct call_samples {
  latency_samples plain;
  latency_samples tls;
  latency_samples local;
  latency_samples tcp;
};

call_samples measure_calls(node_pair& plain, node_pair& tls, socket_cell& tcp_echo, int iterations,
                           int blocks) {
  const auto request = ac::payload::copy_of(marked_payload(message_size));
  const auto source = marked_payload(message_size);
  std::vector<std::byte> outgoing(message_size);
  std::vector<std::byte> buffer(message_size);
  const auto across = [&](node_pair& pair) {
    return [&request, near = &pair.near] {
      auto reply = near->cluster_call(echo_name, request, 10s);
      if (!reply || reply->size() != request.size())
        throw bench_failure{"a call across nodes got no matching answer" +
                            (reply ? std::string{} : ": " + near->render(reply.error()))};
    };
  };
  const auto local = [&] {
    auto reply = plain.far.call("echo", request, 10s);
    if (!reply || reply->size() != request.size())
      throw bench_failure{"a local call by name got no matching answer"};
  };
  const auto ping = [&] { socket_round_trip(tcp_echo.link, source, outgoing, buffer); };
  call_samples out{latency_samples(static_cast<std::size_t>(iterations)),
                   latency_samples(static_cast<std::size_t>(iterations)),
                   latency_samples(static_cast<std::size_t>(iterations)),
                   latency_samples(static_cast<std::size_t>(iterations))};
  const int warmup = warmup_for(iterations);
  round_trips(warmup, nullptr, across(plain));
  round_trips(warmup, nullptr, across(tls));
  round_trips(warmup, nullptr, local);
  round_trips(warmup, nullptr, ping);
  for (int b = 0; b < blocks; ++b) {
    const int count = iterations / blocks + (b < iterations % blocks ? 1 : 0);
    round_trips(count, &out.plain, across(plain));
    round_trips(count, &out.tls, across(tls));
    round_trips(count, &out.local, local);
    round_trips(count, &out.tcp, ping);
  }
  return out;
}

// Casts from a to b's sink for `window`, confirmed batch by batch; the last
// batches' confirmations are inside the time.
rate_run casts_across(node_pair& pair, std::chrono::milliseconds window) {
  auto emptied = pair.near.cluster_call(sink_name, ac::payload{}, 10s);
  if (!emptied)
    throw bench_failure{"the sink on node b did not answer: " + pair.near.render(emptied.error())};
  const auto message = ac::payload::copy_of(marked_payload(message_size));
  const auto start = clock_type::now();
  try {
    const auto confirmed =
        pair.near.confirmed_casts(sink_name, message, cast_batch, batches_in_flight, start + window,
                                  10s, [](const ac::payload& answer, std::size_t sent) {
                                    confirm_sink_count(answer.bytes(), sent, message_size);
                                  });
    return finished(confirmed, start);
  } catch (const bench_failure& failure) {
    // Tells a registry lost on b apart from a cast lost on the way.
    if (auto local = pair.far.call("sink", ac::payload{}, 2s); !local)
      throw bench_failure{fmt::format("{}; node b's own registry does not answer either: {}",
                                      failure.what(), pair.far.render(local.error()))};
    throw;
  }
}

socket_cell tcp_cell(const bench_options& opts, const std::string& mode, int cell_cpu) {
  auto sockets = tcp_loopback_pair();
  if (!sockets)
    throw bench_failure{"a loopback TCP connection could not be made"};
  return spawn_socket_cell(std::move(*sockets), opts.cell_binary, mode, cell_cpu);
}

std::vector<measurement> cluster_rows(bench_context& ctx, int host_cpu,
                                      const scratch_tls_dir& tls_dir) {
  const auto& opts = ctx.options();
  const int cell_cpu = host_cpu < 0 ? -1 : host_cpu + 1;
  const auto where = placement_label(host_cpu);
  node_pair plain{ctx, cell_cpu, remote::link_security::insecure(),
                  remote::link_security::insecure()};
  node_pair tls{ctx, cell_cpu, tls_dir.security(), tls_dir.security()};
  auto echo_twin = tcp_cell(opts, "socket-echo", cell_cpu);
  auto sink_twin = tcp_cell(opts, "socket-sink", cell_cpu);

  const int iterations = std::max(20, static_cast<int>(std::lround(4000 * opts.iterations)));
  const int blocks = opts.quick ? 1 : 4;
  const auto calls = measure_calls(plain, tls, echo_twin, iterations, blocks);

  const int repeats = opts.quick ? 1 : 3;
  const auto window = std::max(std::chrono::milliseconds{1}, opts.window / repeats);
  // One short untimed window of each warms caches, slot pools and CAF's workers.
  const auto warmup = std::max(std::chrono::milliseconds{1}, window / 4);
  (void)casts_across(plain, warmup);
  (void)casts_across(tls, warmup);
  (void)timed_socket_stream(sink_twin.link, message_size, warmup);
  std::vector<rate_run> plain_casts, tls_casts, frames;
  for (int r = 0; r < repeats; ++r) {
    plain_casts.push_back(casts_across(plain, window));
    tls_casts.push_back(casts_across(tls, window));
    frames.push_back(timed_socket_stream(sink_twin.link, message_size, window));
  }
  retire_socket_cell(echo_twin);
  retire_socket_cell(sink_twin);

  const double local_p50 = calls.local.summary<us>().p50;
  const std::string ping_name = "TCP ping-pong 64 B over loopback";
  std::vector<measurement> rows;
  const auto across_row = [&](const std::string& links, const latency_samples& samples) {
    auto row = latency_row<us>("cluster",
                               fmt::format("64 B call by name across nodes, {}, {}", links, where),
                               "us", samples, ping_name, &calls.tcp);
    row.note = fmt::format(
        "scoped_actor -> node a -> b's node over loopback TCP -> b's registry -> peer actor -> "
        "echo cell, and back; {:.1f}x the local call by name; a and b in one process, an actor "
        "system and a middleman each, every thread of both where the bench's main thread runs",
        samples.summary<us>().p50 / local_p50);
    return row;
  };
  rows.push_back(across_row("plain links", calls.plain));
  rows.push_back(across_row("mutual TLS", calls.tls));
  auto local_row =
      latency_row<us>("cluster", fmt::format("64 B call by name on the cell's own node, {}", where),
                      "us", calls.local, ping_name, &calls.tcp);
  local_row.note = "on b: scoped_actor -> registry -> peer actor -> echo cell, as rtt's actor call "
                   "by name; the baseline: the bench and cellhub-bench-cell in socket-echo mode "
                   "over a TCP connection (TCP_NODELAY, blocking reads)";
  rows.push_back(std::move(local_row));

  const std::string frames_name = "TCP stream of 64 B frames over loopback";
  const auto frame = median_run(std::move(frames));
  const auto casts_row = [&](const std::string& links, std::vector<rate_run> runs) {
    const auto cast = median_run(std::move(runs));
    return rate_row(
        "cluster", fmt::format("64 B casts by name across nodes, {}, {}", links, where), "msg/s",
        cast, frames_name, frame,
        fmt::format("(cast_atom, \"{}\") to a's node actor, each acknowledged once b's registry "
                    "accepted it, each batch of {} closed by a call to the sink whose count must "
                    "match, {} batches unconfirmed; median of {} "
                    "windows: {} casts in {:.3f} s (TCP: {} in {:.3f} s)",
                    sink_name, cast_batch, batches_in_flight, repeats, cast.count, cast.seconds,
                    frame.count, frame.seconds));
  };
  rows.push_back(casts_row("plain links", std::move(plain_casts)));
  rows.push_back(casts_row("mutual TLS", std::move(tls_casts)));
  return rows;
}

} // namespace

std::vector<measurement> run_cluster(bench_context& ctx) {
  std::vector<measurement> rows;
  {
    const scratch_tls_dir tls_dir;
    for (const int host_cpu : ctx.placements()) {
      const scoped_pin pin{host_cpu};
      auto part = cluster_rows(ctx, host_cpu, tls_dir);
      rows.insert(rows.end(), std::make_move_iterator(part.begin()),
                  std::make_move_iterator(part.end()));
    }
  }
  auto loss = run_node_loss(ctx);
  rows.insert(rows.end(), std::make_move_iterator(loss.begin()),
              std::make_move_iterator(loss.end()));
  return rows;
}

} // namespace cellhub::bench
