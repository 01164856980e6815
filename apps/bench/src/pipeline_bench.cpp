#include "cellhub/bench/pipeline_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/cpu_pinning.hpp"
#include "cellhub/bench/payload_marks.hpp"
#include "cellhub/bench/payload_sizes.hpp"
#include "cellhub/bench/rate_run.hpp"
#include "cellhub/bench/sink_count.hpp"
#include "cellhub/bench/socket_stream.hpp"
#include "cellhub/bench/tree_session.hpp"

#include "cellhub/actors/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>

namespace cellhub::bench {
namespace {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// The fast paths: 64 B messages, 64 calls (or unacknowledged casts) in flight.
constexpr std::size_t message_size = 64;
constexpr std::size_t in_flight = 64;

// Keeps `in_flight` requests on the socket to an echo, sending the next as each
// reply arrives, for `window`; then reads the replies still in flight.
rate_run socket_pipelined_requests(socket_cell& cell, std::chrono::milliseconds window) {
  const auto source = marked_payload(message_size);
  std::vector<std::byte> outgoing(message_size);
  std::vector<std::byte> buffer(message_size);
  const auto send_one = [&] {
    // Written afresh each time, as a call's bytes are built for each call.
    std::memcpy(outgoing.data(), source.data(), message_size);
    if (!cell.link.send(frame_kind::request, outgoing))
      throw bench_failure{"socket send failed"};
  };
  const auto start = clock_type::now();
  const auto stop = start + window;
  for (std::size_t i = 0; i < in_flight; ++i)
    send_one();
  std::size_t outstanding = in_flight;
  std::uint64_t answered = 0;
  while (outstanding > 0) {
    auto reply = cell.link.receive(buffer);
    if (!reply || reply->kind != frame_kind::reply || reply->length != message_size)
      throw bench_failure{"socket reply did not match its request"};
    --outstanding;
    ++answered;
    if (clock_type::now() < stop) {
      send_one();
      ++outstanding;
    }
  }
  return finished(answered, start);
}

// Keeps `in_flight` calls by name to the echo cell in flight for `window`.
rate_run actor_pipelined_calls(tree_session& session, std::chrono::milliseconds window) {
  const auto request = ac::payload::copy_of(marked_payload(message_size));
  const auto start = clock_type::now();
  const auto answered = session.pipelined_calls("echo", request, in_flight, start + window, 10s);
  return finished(answered, start);
}

// Asks the sink cell for its totals by a call by name (which also resets them).
// Casts the peer actor could not hand to the cell yet still count against its
// max_pending, so the call is asked again while it is refused as overloaded.
ac::payload actor_totals(tree_session& session) {
  const auto deadline = clock_type::now() + 10s;
  for (;;) {
    auto totals = session.call("sink", ac::payload{}, 10s);
    if (totals)
      return std::move(*totals);
    if (!ac::is(totals.error(), ac::errc::overloaded) || clock_type::now() > deadline)
      throw bench_failure{"the sink cell did not answer a call by name: " +
                          session.render(totals.error())};
  }
}

// Casts by name to the sink cell for `window`, `in_flight` unacknowledged, then
// asks it for its count by a call by name, which must match; the count's round
// trip is inside the time, as for the socket.
rate_run actor_casts(tree_session& session, std::chrono::milliseconds window) {
  (void)actor_totals(session);
  const auto message = ac::payload::copy_of(marked_payload(message_size));
  const auto start = clock_type::now();
  const auto tally = session.pipelined_casts("sink", message, in_flight, start + window, 10s);
  confirm_sink_count(actor_totals(session).bytes(), tally.taken, message_size);
  auto run = finished(tally.taken, start);
  run.refused = tally.refused;
  return run;
}

// Keeps `in_flight` calls through a cell_channel to the echo cell in flight for
// `window`, sending the next as the oldest is answered.
rate_run channel_pipelined_calls(ac::cell_channel& channel, std::chrono::milliseconds window) {
  const auto request = ac::payload::copy_of(marked_payload(message_size));
  std::deque<ac::pending_call> calls;
  const auto send_one = [&] {
    auto sent = channel.send_call(request, 10s);
    if (!sent)
      throw bench_failure{"a pipelined call through a cell_channel could not be sent"};
    calls.push_back(std::move(*sent));
  };
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < in_flight; ++i)
    send_one();
  std::uint64_t answered = 0;
  while (!calls.empty()) {
    auto answer = channel.await(std::move(calls.front()));
    calls.pop_front();
    if (!answer || answer->size() != request.size())
      throw bench_failure{"a pipelined call through a cell_channel got no matching answer"};
    ++answered;
    if (clock_type::now() - start < window)
      send_one();
  }
  return finished(answered, start);
}

// Casts through a cell_channel to the sink cell for `window`, then asks it for its
// count, which must match; each cast returns once the ring took it.
rate_run channel_casts(tree_session& session, ac::cell_channel& channel,
                       std::chrono::milliseconds window) {
  (void)actor_totals(session);
  const auto message = ac::payload::copy_of(marked_payload(message_size));
  const auto start = clock_type::now();
  std::uint64_t sent = 0;
  while (clock_type::now() - start < window) {
    for (std::size_t i = 0; i < in_flight; ++i, ++sent)
      if (!channel.cast(message, 10s))
        throw bench_failure{"a cast through a cell_channel failed"};
  }
  confirm_sink_count(actor_totals(session).bytes(), sent, message_size);
  return finished(sent, start);
}

// Makes a pipeline row: `run`'s rate against `baseline`'s; with `targeted`, the
// fast path's target of twice the socket.
measurement pipeline_row(std::string name, std::string unit, const rate_run& run,
                         std::string baseline_name, const rate_run& baseline, std::string note,
                         bool targeted) {
  auto row = rate_row("pipeline", std::move(name), std::move(unit), run, std::move(baseline_name),
                      baseline, std::move(note));
  if (targeted) {
    row.target = ">= 2x socket";
    row.met = row.ratio() >= 2.0;
  }
  return row;
}

// Measures the four streams for one placement, alternating windows so that
// whatever the machine does weighs on both sides; returns the two rows.
std::vector<measurement> pipeline_rows(bench_context& ctx, int host_cpu) {
  const auto& opts = ctx.options();
  const int cell_cpu = host_cpu < 0 ? -1 : host_cpu + 1;
  const auto where = placement_label(host_cpu);
  ac::supervisor_spec root;
  root.name = "bench";
  root.children.emplace_back(bench_cell_spec(opts, "echo", cell_cpu));
  root.children.emplace_back(bench_cell_spec(opts, "sink", cell_cpu));
  tree_session session{ctx.hub_path("pipeline"), std::move(root), data_hub_config(),
                       opts.caf_settings};
  int ready = 0;
  if (!session.watch(clock_type::now() + 30s, [&](const sighting& seen) {
        return seen.event && seen.event->kind == ac::event_kind::ready && ++ready == 2;
      }))
    throw bench_failure{"the pipeline's echo and sink cells never became ready"};
  auto echo_twin = spawn_socket_cell(opts.cell_binary, "socket-echo", cell_cpu);
  auto sink_twin = spawn_socket_cell(opts.cell_binary, "socket-sink", cell_cpu);

  auto echo_channel = session.tree().channel("echo", {.spin = opts.spin});
  auto sink_channel = session.tree().channel("sink", {.spin = opts.spin});
  const int repeats = opts.quick ? 1 : 3;
  const auto window = std::max(std::chrono::milliseconds{1}, opts.window / repeats);
  // One short untimed window of each warms caches, slot pools and CAF's workers.
  const auto warmup = std::max(std::chrono::milliseconds{1}, window / 4);
  (void)actor_pipelined_calls(session, warmup);
  (void)socket_pipelined_requests(echo_twin, warmup);
  (void)actor_casts(session, warmup);
  (void)timed_socket_stream(sink_twin.link, message_size, warmup);
  (void)channel_pipelined_calls(echo_channel, warmup);
  (void)channel_casts(session, sink_channel, warmup);
  std::vector<rate_run> calls, requests, casts, frames, channel_calls, channel_cast_runs;
  for (int r = 0; r < repeats; ++r) {
    calls.push_back(actor_pipelined_calls(session, window));
    channel_calls.push_back(channel_pipelined_calls(echo_channel, window));
    requests.push_back(socket_pipelined_requests(echo_twin, window));
    casts.push_back(actor_casts(session, window));
    channel_cast_runs.push_back(channel_casts(session, sink_channel, window));
    frames.push_back(timed_socket_stream(sink_twin.link, message_size, window));
  }
  if (echo_channel.stats().through_registry + sink_channel.stats().through_registry != 0)
    throw bench_failure{"a call or cast through a cell_channel went through the registry"};
  retire_socket_cell(echo_twin);
  retire_socket_cell(sink_twin);
  session.stop();

  std::uint64_t refused = 0;
  for (const auto& run : casts)
    refused += run.refused;
  const auto call = median_run(std::move(calls));
  const auto request = median_run(std::move(requests));
  const auto cast = median_run(std::move(casts));
  const auto frame = median_run(std::move(frames));
  const auto channel_call = median_run(std::move(channel_calls));
  const auto channel_cast = median_run(std::move(channel_cast_runs));
  std::vector<measurement> rows;
  const auto calls_baseline = fmt::format("Unix socket requests 64 B, {} in flight", in_flight);
  const std::string casts_baseline = "Unix socket one-way frames 64 B";
  rows.push_back(pipeline_row(
      fmt::format("64 B calls by name through a cell_channel, {} in flight, {}", in_flight, where),
      "calls/s", channel_call, calls_baseline, request,
      fmt::format("one thread keeps {} send_call()s in flight, awaiting the oldest; median of {} "
                  "windows: {} calls in {:.3f} s",
                  in_flight, repeats, channel_call.count, channel_call.seconds),
      true));
  rows.push_back(pipeline_row(
      fmt::format("64 B casts by name through a cell_channel, {}", where), "msg/s", channel_cast,
      casts_baseline, frame,
      fmt::format("each cast returns once the ring took it (waiting for room when full); the "
                  "sink's count matched; median of {} windows: {} casts in {:.3f} s",
                  repeats, channel_cast.count, channel_cast.seconds),
      true));
  rows.push_back(pipeline_row(
      fmt::format("64 B calls by name, {} in flight, {}", in_flight, where), "calls/s", call,
      calls_baseline, request,
      fmt::format("scoped_actor keeps {} requests to the registry in flight, a new one per answer; "
                  "median of {} windows: {} calls in {:.3f} s (socket: {} in {:.3f} s)",
                  in_flight, repeats, call.count, call.seconds, request.count, request.seconds),
      false));
  rows.push_back(pipeline_row(
      fmt::format("64 B casts by name, {}", where), "msg/s", cast, casts_baseline, frame,
      fmt::format("{} casts unacknowledged (the registry acknowledges once the peer actor took "
                  "one); the sink's count, fetched by a call by name at the end, matched; median "
                  "of {} windows: {} casts in {:.3f} s (socket: {} in {:.3f} s); {} refused as "
                  "overloaded in all windows, each sent again",
                  in_flight, repeats, cast.count, cast.seconds, frame.count, frame.seconds,
                  refused),
      false));
  return rows;
}

} // namespace

std::vector<measurement> run_pipeline(bench_context& ctx) {
  std::vector<measurement> rows;
  for (const int host_cpu : ctx.placements()) {
    const scoped_pin pin{host_cpu};
    auto part = pipeline_rows(ctx, host_cpu);
    rows.insert(rows.end(), std::make_move_iterator(part.begin()),
                std::make_move_iterator(part.end()));
  }
  return rows;
}

} // namespace cellhub::bench
