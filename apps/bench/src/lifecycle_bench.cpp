#include "cellhub/bench/lifecycle_bench.hpp"

#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/fd_wait.hpp"
#include "cellhub/bench/host_probe.hpp"
#include "cellhub/bench/plain_child.hpp"
#include "cellhub/bench/tree_session.hpp"

#include "cellhub/actors/lifecycle_event.hpp"

#include "cellhub/transport/epoll_set.hpp"
#include "cellhub/transport/hub_host.hpp"

#include <caf/actor.hpp>

#include <fmt/format.h>

#include <signal.h>

#include <array>
#include <cstdint>
#include <memory>

namespace cellhub::bench {
namespace {

namespace ac = cellhub::actors;
namespace tr = cellhub::transport;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using ms = std::chrono::duration<double, std::milli>;

const std::string victim = "victim";

// The floors: an idle plain child killed (its pidfd readable = the floor of
// detection), then a replacement spawned until its byte (the floor of a restart).
class plain_floor {
public:
  explicit plain_floor(std::string binary)
      : binary_{std::move(binary)} {}

  void measure_once() {
    auto child = spawn_plain_child(binary_, pipe_, true);
    if (pipe_.await(1, clock_type::now() + 30s) != 1)
      throw bench_failure{"a plain child wrote no byte"};
    (void)wait_until_sleeping(child.pid(), clock_type::now() + 2s);
    const auto killed_at = clock_type::now();
    ::kill(child.pid(), SIGKILL);
    if (!wait_readable(child.pidfd(), 10s))
      throw bench_failure{"a killed plain child's pidfd never became readable"};
    const auto seen_at = clock_type::now();
    auto replacement = spawn_plain_child(binary_, pipe_, false);
    if (pipe_.await(1, clock_type::now() + 30s) != 1)
      throw bench_failure{"a respawned plain child wrote no byte"};
    const auto up_at = clock_type::now();
    kill_to_pidfd.add(seen_at - killed_at);
    spawn_to_byte.add(up_at - seen_at);
    kill_to_respawned.add(up_at - killed_at);
    (void)child.wait_for(10s);
    (void)replacement.wait_for(10s);
  }

  latency_samples kill_to_pidfd;
  latency_samples spawn_to_byte;
  latency_samples kill_to_respawned;

private:
  std::string binary_;
  ready_pipe pipe_;
};

// An idle cell on a bare hub, killed; its doorbell's hang-up seen through epoll as
// the doorbell watcher sees it, without any actor.
class transport_hangup {
public:
  explicit transport_hangup(bench_context& ctx)
      : opts_{ctx.options()} {
    auto hub = tr::hub_host::create(ctx.hub_path("hangup"), tr::hub_config{.max_peers = 4});
    if (!hub)
      throw bench_failure{"creating the hang-up hub: " + hub.error().message()};
    hub_ = std::move(hub).value();
  }

  void measure_once() {
    auto cell =
        spawn_hub_cell(*hub_, opts_.cell_binary, cell_arguments("idle", opts_.spin), "hangup");
    auto set = tr::epoll_set::create();
    if (!set || !set.value().add(cell->doorbell_fd(), 1))
      throw bench_failure{"epoll over a doorbell failed"};
    const auto pid = cell->child()->pid();
    (void)wait_until_sleeping(pid, clock_type::now() + 2s);
    const auto killed_at = clock_type::now();
    ::kill(pid, SIGKILL);
    std::array<tr::fd_event, 4> events{};
    const auto deadline = killed_at + 10s;
    while (!cell->closed() && clock_type::now() < deadline)
      if (auto n = set.value().wait(events, 1000ms); n && n.value() > 0)
        (void)(cell->check_hangup() || cell->drain_doorbell());
    if (!cell->closed())
      throw bench_failure{"a killed cell's doorbell never hung up"};
    kill_to_hangup.add(clock_type::now() - killed_at);
    (void)cell->child()->wait_for(10s);
  }

  latency_samples kill_to_hangup;

private:
  const bench_options& opts_;
  std::shared_ptr<tr::hub_host> hub_;
};

ac::supervisor_spec victim_tree(const bench_options& opts) {
  ac::cell_spec cell;
  cell.name = victim;
  cell.binary = opts.cell_binary;
  cell.args = cell_arguments("idle", opts.spin);
  cell.start_timeout = 30s; // sanitizer builds start slowly
  cell.shutdown_timeout = 2s;
  cell.hang_timeout = 0ms; // an idle cell is never hung; no timers either
  cell.backoff = {.min_delay = 0ms, .max_delay = 1s, .jitter = 0.0, .reset_after = 30s};
  ac::supervisor_spec root;
  root.name = "bench";
  root.strategy = ac::restart_strategy::one_for_one;
  // Hundreds of kills a second are the point here, not a crash loop.
  root.max_restarts = 1'000'000;
  root.period = 1000ms;
  root.children.emplace_back(std::move(cell));
  return root;
}

// One supervised idle cell, killed again and again; every life's events timed at
// the subscriber.
class kill_cycles {
public:
  explicit kill_cycles(bench_context& ctx)
      : session_{ctx.hub_path("lifecycle"), victim_tree(ctx.options()),
                 tr::hub_config{.max_peers = 8}, ctx.options().caf_settings} {
    if (!session_.watch(clock_type::now() + 30s, [&](const sighting& seen) {
          if (!is_ready(seen, 0))
            return false;
          pid_ = seen.event->pid;
          return true;
        }))
      throw bench_failure{"the supervised cell never became ready"};
  }

  void measure_once() {
    const auto life = session_.lookup(victim);
    if (!life.actor || life.pid != pid_)
      throw bench_failure{fmt::format("registry names pid {}, ready said {}", life.pid, pid_)};
    session_.monitor(caf::actor_cast<caf::actor>(life.actor));
    const auto actor = life.actor.address();
    (void)wait_until_sleeping(pid_, clock_type::now() + 2s);

    std::optional<clock_type::time_point> died_at, down_at, started_at, ready_at;
    std::int64_t died_stamp = 0;
    const auto killed_at = clock_type::now();
    const auto killed_wall = ac::event_clock_ns();
    ::kill(pid_, SIGKILL);
    const auto old_pid = pid_;
    const bool cycled = session_.watch(killed_at + 60s, [&](const sighting& seen) {
      if (seen.down && seen.down_source == actor && !down_at)
        down_at = seen.at;
      if (seen.event && seen.event->name == victim) {
        if (seen.event->kind == ac::event_kind::died && !died_at) {
          died_at = seen.at;
          died_stamp = seen.event->ts_ns;
        }
        if (seen.event->kind == ac::event_kind::started && died_at && !started_at)
          started_at = seen.at;
      }
      if (is_ready(seen, old_pid) && !ready_at) {
        ready_at = seen.at;
        pid_ = seen.event->pid;
      }
      return died_at && down_at && started_at && ready_at;
    });
    if (!cycled)
      throw bench_failure{"a killed cell's died/down/started/ready did not come within 60 s"};
    kill_to_died.add(*died_at - killed_at);
    // The supervisor's own stamp, on the wall clock: a sample outside [0, what the
    // subscriber saw] means the wall clock was stepped meanwhile, and is left out.
    const auto at_supervisor = std::chrono::nanoseconds{died_stamp - killed_wall};
    if (at_supervisor.count() >= 0 && at_supervisor <= *died_at - killed_at)
      kill_to_supervisor.add(at_supervisor);
    kill_to_actor_down.add(*down_at - killed_at);
    kill_to_ready.add(*ready_at - killed_at);
    died_to_ready.add(*ready_at - *died_at);
    died_to_started.add(*started_at - *died_at);
    started_to_ready.add(*ready_at - *started_at);
  }

  latency_samples kill_to_supervisor;
  latency_samples kill_to_died;
  latency_samples kill_to_actor_down;
  latency_samples kill_to_ready;
  latency_samples died_to_ready;
  // The restart's phases: the supervisor's decision, backoff timer and spawn; then
  // the new process's start, attach, READY and the registry's bind.
  latency_samples died_to_started;
  latency_samples started_to_ready;

private:
  static bool is_ready(const sighting& seen, std::int32_t old_pid) {
    return seen.event && seen.event->kind == ac::event_kind::ready && seen.event->name == victim &&
           seen.event->pid != old_pid;
  }

  tree_session session_;
  std::int32_t pid_ = 0;
};

} // namespace

std::vector<measurement> run_lifecycle(bench_context& ctx) {
  const int rounds = std::max(1, ctx.options().kills);
  plain_floor floors{ctx.options().cell_binary};
  transport_hangup hangups{ctx};
  kill_cycles cycles{ctx};
  // Interleaved, so that whatever the machine does meanwhile weighs on value and
  // baseline alike.
  for (int i = 0; i < rounds; ++i) {
    floors.measure_once();
    hangups.measure_once();
    cycles.measure_once();
  }

  std::vector<measurement> rows;
  const std::string pidfd_floor = "plain child: SIGKILL -> pidfd readable";
  // The target is the supervisor's view ("peer_dead in the supervisor"): the moment
  // it builds the `died` event, by the event's own stamp.
  auto seen = latency_row<ms>("detect", "SIGKILL -> supervisor handles the death", "ms",
                              cycles.kill_to_supervisor, pidfd_floor, &floors.kill_to_pidfd);
  seen.target = "p50 < 0.5 ms, p99 < 2 ms";
  seen.met = seen.distribution && seen.distribution->p50 < 0.5 && seen.distribution->p99 < 2.0;
  seen.note = fmt::format(
      "idle cell asleep on its doorbell; supervision_tree, CAF as prepare_config sets it; "
      "the `died` event's wall-clock stamp; {} of {} samples kept (a wall-clock step drops one)",
      cycles.kill_to_supervisor.size(), cycles.kill_to_died.size());
  rows.push_back(std::move(seen));
  auto died = latency_row<ms>("detect", "SIGKILL -> `died` event at a subscriber", "ms",
                              cycles.kill_to_died, pidfd_floor, &floors.kill_to_pidfd);
  died.note = "the supervisor's view plus one actor hop to a scoped actor";
  rows.push_back(std::move(died));
  auto down = latency_row<ms>("detect", "SIGKILL -> peer actor exit (down_msg)", "ms",
                              cycles.kill_to_actor_down, pidfd_floor, &floors.kill_to_pidfd);
  down.note = "the peer actor ends once its cell is reaped";
  rows.push_back(std::move(down));
  auto hangup = latency_row<ms>("detect", "SIGKILL -> doorbell hang-up (transport + epoll)", "ms",
                                hangups.kill_to_hangup, pidfd_floor, &floors.kill_to_pidfd);
  hangup.note = "peer_transport and epoll_set, no actors";
  rows.push_back(std::move(hangup));

  const std::string spawn_floor = "spawn -> one byte on a pipe";
  auto restart = latency_row<ms>("restart", "SIGKILL -> next life's `ready` event", "ms",
                                 cycles.kill_to_ready, spawn_floor, &floors.spawn_to_byte);
  restart.target = "p50 < 5 ms; <= 1.5x spawn floor";
  restart.met = restart.distribution->p50 < 5.0 && restart.ratio() <= 1.5;
  restart.note = "backoff min_delay 0; the value includes detection, the floor does not";
  rows.push_back(std::move(restart));
  auto after_died = latency_row<ms>("restart", "`died` event -> next life's `ready` event", "ms",
                                    cycles.died_to_ready, spawn_floor, &floors.spawn_to_byte);
  after_died.note = fmt::format(
      "p50 died -> `started` {:.3f} ms (restart decision, backoff timer, spawn), `started` -> "
      "`ready` {:.3f} ms (exec, attach, READY, registry bind)",
      cycles.died_to_started.summary<ms>().p50, cycles.started_to_ready.summary<ms>().p50);
  rows.push_back(std::move(after_died));
  auto whole = latency_row<ms>(
      "restart", "SIGKILL -> next life's `ready` (vs kill + respawn)", "ms", cycles.kill_to_ready,
      "plain child: SIGKILL -> pidfd -> spawn -> byte", &floors.kill_to_respawned);
  rows.push_back(std::move(whole));
  return rows;
}

} // namespace cellhub::bench
