#include "cellhub/bench/scale_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/host_probe.hpp"
#include "cellhub/bench/plain_child.hpp"
#include "cellhub/bench/tree_session.hpp"

#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/hub_geometry.hpp"

#include <fmt/format.h>

#include <signal.h>

#include <map>
#include <set>

namespace cellhub::bench {
namespace {

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

double ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

double kib_per(std::uint64_t before, std::uint64_t after, std::size_t cells) {
  const auto grown = after > before ? after - before : 0;
  return static_cast<double>(grown) / static_cast<double>(cells);
}

// What one pool size cost, supervised or plain.
struct pool_result {
  double start_ms = 0;
  double recover_ms = 0;
  double all_died_ms = 0;
  double host_kib_per_cell = 0;
  std::uint64_t host_rss_kib = 0;
  std::uint64_t hub_region_size = 0;
  std::uint16_t hub_max_peers = 0;
  std::uint64_t shmem_added_bytes = 0;
  double stop_ms = 0;
};

tr::hub_config small_hub(std::size_t cells) {
  // Room for a tenth of the pool to restart while the dead lives drain, and tiny
  // slot classes: idle cells send nothing but READY.
  return tr::hub_config{.max_peers = static_cast<std::uint16_t>(cells + cells / 5 + 8),
                        .ring_capacity = 16,
                        .slot_classes = {{1024, 4}}};
}

ac::supervisor_spec pool_spec(const bench_options& opts) {
  ac::cell_spec cell;
  cell.name = "w";
  cell.binary = opts.cell_binary;
  cell.args = cell_arguments("idle", opts.spin);
  cell.start_timeout = 120s; // a thousand sanitized cells start slowly
  cell.shutdown_timeout = 5s;
  cell.hang_timeout = 0ms;
  cell.backoff = {.min_delay = 0ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
  ac::supervisor_spec root;
  root.name = "pool";
  root.strategy = ac::restart_strategy::simple_one_for_one;
  root.max_restarts = 1'000'000;
  root.period = 1000ms;
  root.replicas = 0;
  root.children.emplace_back(std::move(cell));
  return root;
}

// A simple_one_for_one pool resized from 0 to `cells`, then a tenth killed at once.
pool_result supervised_pool(bench_context& ctx, std::size_t cells) {
  pool_result out;
  const auto config = small_hub(cells);
  tree_session session{ctx.hub_path(fmt::format("scale{}", cells)), pool_spec(ctx.options()),
                       config, ctx.options().caf_settings};
  const auto rss_before = resident_kib().value_or(0);
  const auto shmem_before = shmem_bytes().value_or(0);
  // Each life's peer region is a memory object of its own whose pages are allocated
  // as they are touched: the machine's Shmem grows by what the cells really use.
  const auto& geometry = session.tree().hub()->geometry();
  out.hub_region_size = geometry.region_size;
  out.hub_max_peers = geometry.max_peers;

  std::set<std::string> ready;
  const auto start = clock_type::now();
  session.resize(cells);
  if (!session.watch(start + 300s, [&](const sighting& seen) {
        if (seen.event && seen.event->kind == ac::event_kind::ready)
          ready.insert(seen.event->name);
        return ready.size() == cells;
      }))
    throw bench_failure{fmt::format("only {} of {} cells became ready", ready.size(), cells)};
  out.start_ms = ms_between(start, clock_type::now());
  out.host_rss_kib = resident_kib().value_or(0);
  out.host_kib_per_cell = kib_per(rss_before, out.host_rss_kib, cells);
  const auto shmem_after = shmem_bytes().value_or(0);
  out.shmem_added_bytes = shmem_after > shmem_before ? shmem_after - shmem_before : 0;

  // Every tenth child, by its current pid.
  std::map<std::string, std::int32_t> victims;
  const auto children = session.which();
  for (std::size_t i = 0; i < children.size(); i += 10)
    victims.emplace(children[i].name, children[i].pid);
  for (const auto& [name, pid] : victims)
    (void)wait_until_sleeping(pid, clock_type::now() + 2s);
  std::set<std::string> died;
  std::set<std::string> back;
  const auto killed_at = clock_type::now();
  for (const auto& [name, pid] : victims)
    ::kill(pid, SIGKILL);
  std::optional<clock_type::time_point> all_died_at;
  if (!session.watch(killed_at + 300s, [&](const sighting& seen) {
        if (!seen.event)
          return false;
        const auto victim = victims.find(seen.event->name);
        if (victim == victims.end())
          return false;
        if (seen.event->kind == ac::event_kind::died && died.insert(victim->first).second &&
            died.size() == victims.size())
          all_died_at = seen.at;
        if (seen.event->kind == ac::event_kind::ready && seen.event->pid != victim->second)
          back.insert(victim->first);
        return back.size() == victims.size();
      }))
    throw bench_failure{
        fmt::format("only {} of {} killed cells came back", back.size(), victims.size())};
  out.recover_ms = ms_between(killed_at, clock_type::now());
  out.all_died_ms = all_died_at ? ms_between(killed_at, *all_died_at) : out.recover_ms;
  const auto stop_start = clock_type::now();
  session.stop();
  out.stop_ms = ms_between(stop_start, clock_type::now());
  return out;
}

// The floor: the same pool as plain children on one pipe, deaths seen through
// their pidfds in one epoll set, each replaced by a fresh spawn.
pool_result plain_pool(const std::string& binary, std::size_t cells) {
  pool_result out;
  ready_pipe pipe;
  std::vector<tr::process> children;
  children.reserve(cells);
  const auto rss_before = resident_kib().value_or(0);
  const auto start = clock_type::now();
  for (std::size_t i = 0; i < cells; ++i)
    children.push_back(spawn_plain_child(binary, pipe, true));
  if (const auto up = pipe.await(cells, start + 300s); up != cells)
    throw bench_failure{fmt::format("only {} of {} plain children came up", up, cells)};
  out.start_ms = ms_between(start, clock_type::now());
  out.host_rss_kib = resident_kib().value_or(0);
  out.host_kib_per_cell = kib_per(rss_before, out.host_rss_kib, cells);

  auto set = tr::epoll_set::create();
  if (!set)
    throw bench_failure{"epoll_create failed"};
  std::vector<std::size_t> victims;
  for (std::size_t i = 0; i < cells; i += 10) {
    victims.push_back(i);
    if (!set.value().add(children[i].pidfd(), i))
      throw bench_failure{"epoll over a pidfd failed"};
    (void)wait_until_sleeping(children[i].pid(), clock_type::now() + 2s);
  }
  const auto killed_at = clock_type::now();
  for (const auto i : victims)
    ::kill(children[i].pid(), SIGKILL);
  std::vector<tr::fd_event> events(victims.size());
  std::size_t respawned = 0;
  while (respawned < victims.size()) {
    auto n = set.value().wait(events, 10000ms);
    if (!n || n.value() == 0)
      throw bench_failure{"killed plain children were not all seen dying"};
    for (std::size_t e = 0; e < n.value(); ++e) {
      auto& child = children[events[e].token];
      (void)child.try_wait();
      // Closing the old pidfd (assignment) also takes it out of the epoll set.
      child = spawn_plain_child(binary, pipe, true);
      ++respawned;
    }
  }
  out.all_died_ms = ms_between(killed_at, clock_type::now());
  if (pipe.await(victims.size(), clock_type::now() + 300s) != victims.size())
    throw bench_failure{"respawned plain children did not all come up"};
  out.recover_ms = ms_between(killed_at, clock_type::now());
  const auto stop_start = clock_type::now();
  children.clear(); // SIGKILL and reap, one by one
  out.stop_ms = ms_between(stop_start, clock_type::now());
  return out;
}

measurement scale_row(std::string name, std::string unit, double value, std::string baseline_name,
                      double baseline) {
  measurement row;
  row.benchmark = "scale";
  row.name = std::move(name);
  row.unit = std::move(unit);
  row.value = value;
  row.baseline_name = std::move(baseline_name);
  row.baseline = baseline;
  return row;
}

} // namespace

std::vector<measurement> run_scale(bench_context& ctx) {
  const auto& opts = ctx.options();
  std::vector<measurement> rows;
  for (const std::size_t cells : {std::size_t{10}, std::size_t{100}, std::size_t{1000}}) {
    if (cells > opts.max_cells)
      break;
    const auto plain = plain_pool(opts.cell_binary, cells);
    const auto pool = supervised_pool(ctx, cells);
    const auto killed = (cells + 9) / 10;

    auto start =
        scale_row(fmt::format("{} cells READY (pool resize 0 -> {})", cells, cells), "ms",
                  pool.start_ms, fmt::format("{} plain children up", cells), plain.start_ms);
    start.note = "simple_one_for_one pool in a supervision_tree";
    if (cells == 1000) {
      start.target = "1000 cells on one hub";
      start.met = true; // reaching this line means all 1000 were READY
    }
    rows.push_back(std::move(start));

    auto recover = scale_row(
        fmt::format("kill {} of {} at once -> all READY", killed, cells), "ms", pool.recover_ms,
        fmt::format("{} plain children: kill, pidfd, respawn, up", killed), plain.recover_ms);
    recover.note = fmt::format("all {} `died` events after {:.1f} ms (plain: all pidfds + "
                               "respawns issued after {:.1f} ms)",
                               killed, pool.all_died_ms, plain.all_died_ms);
    if (cells == 1000) {
      recover.target = "100 killed -> all READY < 1 s";
      recover.met = pool.recover_ms < 1000.0;
    }
    rows.push_back(std::move(recover));

    auto rss =
        scale_row(fmt::format("host RSS per cell, {} cells", cells), "KiB", pool.host_kib_per_cell,
                  "per plain child (process handle only)", plain.host_kib_per_cell);
    rss.note = fmt::format("host VmRSS {} KiB with {} cells", pool.host_rss_kib, cells);
    rows.push_back(std::move(rss));

    auto hub = scale_row(
        fmt::format("shared memory allocated per cell (Shmem growth), {} cells", cells), "KiB",
        static_cast<double>(pool.shmem_added_bytes) / static_cast<double>(cells) / 1024.0,
        "peer region size (the most a cell can touch)",
        static_cast<double>(pool.hub_region_size) / 1024.0);
    hub.note = fmt::format("Shmem +{} KiB for {} idle cells (max_peers {}): region pages are "
                           "allocated when first touched",
                           pool.shmem_added_bytes / 1024, cells, pool.hub_max_peers);
    rows.push_back(std::move(hub));
  }
  return rows;
}

} // namespace cellhub::bench
