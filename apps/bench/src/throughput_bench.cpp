#include "cellhub/bench/throughput_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/cpu_pinning.hpp"
#include "cellhub/bench/payload_marks.hpp"
#include "cellhub/bench/payload_sizes.hpp"
#include "cellhub/bench/socket_stream.hpp"

#include "cellhub/transport/hub_host.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace cellhub::bench {
namespace {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// What one pipelined run moved, as confirmed by the cell.
struct stream_result {
  double seconds = 0;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;

  [[nodiscard]] double messages_per_second() const {
    return static_cast<double>(messages) / seconds;
  }
  [[nodiscard]] double megabytes_per_second() const {
    return static_cast<double>(bytes) / seconds / 1e6;
  }
};

// Returns the run with the median rate.
stream_result median_run(std::vector<stream_result> runs) {
  std::sort(runs.begin(), runs.end(), [](const stream_result& a, const stream_result& b) {
    return a.megabytes_per_second() < b.megabytes_per_second();
  });
  return runs[runs.size() / 2];
}

// Reads the sink's totals (messages, bytes, checksum) and checks them against what
// was sent; the checksum only when the sink read every byte.
stream_result confirm(std::span<const std::byte> answer, std::uint64_t sent,
                      std::span<const std::byte> source, bool read_all,
                      clock_type::time_point start) {
  std::uint64_t totals[3] = {0, 0, 0};
  if (answer.size() != sizeof totals)
    throw bench_failure{"the sink's totals are malformed"};
  std::memcpy(totals, answer.data(), sizeof totals);
  const auto size = source.size();
  if (totals[0] != sent || totals[1] != sent * size)
    throw bench_failure{fmt::format("the sink counted {} messages, {} were sent", totals[0], sent)};
  if (read_all && totals[2] != sent * payload_checksum(source))
    throw bench_failure{"the sink's checksum does not match what was sent"};
  return {std::chrono::duration<double>(clock_type::now() - start).count(), totals[0], totals[1]};
}

// Sends one-way messages of `size` for `window`, each written in place into its slot
// (prepare, copy, commit); waits for slots or ring room when the cell lags.
stream_result hub_stream(tr::peer_transport& cell, std::size_t size, bool read_all,
                         std::chrono::milliseconds window, std::chrono::nanoseconds spin) {
  const auto source = marked_payload(size);
  std::uint64_t sent = 0;
  const auto start = clock_type::now();
  const auto stop = start + window;
  while ((sent & 15) != 0 || clock_type::now() < stop) {
    auto payload = cell.prepare(size);
    while (!payload && payload.error().code == tr::errc::no_slot) {
      if (auto waited = cell.wait_for_space(10s, spin); !waited)
        throw bench_failure{"wait_for_space: " + waited.error().message()};
      payload = cell.prepare(size);
    }
    if (!payload)
      throw bench_failure{"prepare: " + payload.error().message()};
    std::memcpy(payload.value().bytes().data(), source.data(), size);
    for (;;) {
      auto committed = cell.commit(payload.value(), shm::message_kind::message, 0);
      if (committed)
        break;
      if (committed.error().code != tr::errc::ring_full)
        throw bench_failure{"commit: " + committed.error().message()};
      (void)cell.wait_for_space(10s, spin);
    }
    ++sent;
  }
  for (;;) {
    auto asked = cell.send(shm::message_kind::request, 1, {});
    if (asked)
      break;
    if (asked.error().code != tr::errc::ring_full)
      throw bench_failure{"asking the sink for its count: " + asked.error().message()};
    (void)cell.wait_for_space(10s, spin);
  }
  auto reply = cell.receive(30s, spin);
  if (!reply || reply.value().kind != shm::message_kind::reply)
    throw bench_failure{"the sink did not answer"};
  return confirm(reply.value().payload.bytes(), sent, source, read_all, start);
}

// The same stream over a Unix socket: each frame written afresh into the send
// buffer (as the hub's payload is written into its slot), then sent.
stream_result socket_stream(socket_cell& cell, std::size_t size, bool read_all,
                            std::chrono::milliseconds window) {
  const auto source = marked_payload(size);
  const auto start = clock_type::now();
  const auto sent = stream_frames(cell.link, source, start + window);
  const auto totals = ask_socket_totals(cell.link);
  return confirm(totals, sent, source, read_all, start);
}

// Streams every size through the hub and over a socket, for one placement and one
// kind of sink.
std::vector<measurement> stream_rows(bench_context& ctx, int host_cpu, bool read_all) {
  const auto& opts = ctx.options();
  const int cell_cpu = host_cpu < 0 ? -1 : host_cpu + 1;
  const std::vector<std::string> sink_flags =
      read_all ? std::vector<std::string>{"--read-all"} : std::vector<std::string>{};
  auto created = tr::hub_host::create(ctx.hub_path("throughput"), data_hub_config());
  if (!created)
    throw bench_failure{"creating the throughput hub: " + created.error().message()};
  auto args = cell_arguments("sink", opts.spin, cell_cpu);
  args.insert(args.end(), sink_flags.begin(), sink_flags.end());
  // A single window can catch a hiccup of the VM; the median of a few alternating
  // hub and socket windows cannot be moved by one.
  const int repeats = opts.quick ? 1 : 3;
  const auto window = std::max(std::chrono::milliseconds{1}, opts.window / repeats);
  std::vector<stream_result> hub;
  std::vector<stream_result> socket;
  for (const auto size : opts.sizes) {
    std::vector<stream_result> hub_runs;
    std::vector<stream_result> socket_runs;
    // Fresh cells for every run: a stream must not inherit the slot pool's state
    // from another size (small payloads spill into larger classes, see docs).
    for (int r = 0; r < repeats; ++r) {
      auto cell = spawn_hub_cell(*created.value(), opts.cell_binary, args, "sink");
      hub_runs.push_back(hub_stream(*cell, size, read_all, window, opts.spin));
      retire_hub_cell(*cell);
      auto twin = spawn_socket_cell(opts.cell_binary, "socket-sink", cell_cpu, sink_flags);
      socket_runs.push_back(socket_stream(twin, size, read_all, window));
      retire_socket_cell(twin);
    }
    hub.push_back(median_run(std::move(hub_runs)));
    socket.push_back(median_run(std::move(socket_runs)));
  }
  const std::string sink = read_all ? "sink reads every byte" : "sink checks 2 bytes";
  std::vector<measurement> rows;
  for (std::size_t i = 0; i < opts.sizes.size(); ++i) {
    measurement row;
    row.benchmark = "throughput";
    row.name = fmt::format("{} one-way stream, {}, {}", size_label(opts.sizes[i]), sink,
                           placement_label(host_cpu));
    row.unit = "MB/s";
    row.value = hub[i].megabytes_per_second();
    row.alt_value = hub[i].messages_per_second();
    row.alt_unit = "msg/s";
    row.baseline_name = fmt::format("Unix socket stream {}, {}", size_label(opts.sizes[i]), sink);
    row.baseline = socket[i].megabytes_per_second();
    row.alt_baseline = socket[i].messages_per_second();
    row.note = fmt::format("median of {} windows: {} messages in {:.3f} s (socket: {} in {:.3f} s)",
                           repeats, hub[i].messages, hub[i].seconds, socket[i].messages,
                           socket[i].seconds);
    if (opts.sizes[i] == (1u << 20)) {
      row.target = ">= 5x socket";
      row.met = row.ratio() >= 5.0;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

} // namespace

std::vector<measurement> run_throughput(bench_context& ctx) {
  std::vector<measurement> rows;
  for (const int host_cpu : ctx.placements()) {
    const scoped_pin pin{host_cpu};
    for (const bool read_all : {false, true}) {
      auto part = stream_rows(ctx, host_cpu, read_all);
      rows.insert(rows.end(), std::make_move_iterator(part.begin()),
                  std::make_move_iterator(part.end()));
    }
  }
  return rows;
}

} // namespace cellhub::bench
