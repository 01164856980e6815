#include "cellhub/soak/soak_driver.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/demo/demo_protocol.hpp"
#include "cellhub/demo/request_text.hpp"
#include "cellhub/soak/chaos_plan.hpp"
#include "cellhub/soak/pid_handle.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <optional>
#include <random>

namespace cellhub::soak {
namespace {

namespace ac = cellhub::actors;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

// Hands the driver the started tree (private to the driver: see attach_soak_driver).
using attach_atom = caf::atom_constant<caf::atom("attach")>;

// The driver's heartbeat: load is sent, chaos struck and bounds checked this often.
constexpr milliseconds tick_period{10};
// Caps the load owed after a stall, so that a late tick does not fire a burst.
constexpr double max_load_credit_seconds = 0.5;
// Margin of fds per cell above the count at rest: a life ending while the next
// starts holds two sets (doorbell, pidfd and the watcher's copies) for a moment.
constexpr std::uint64_t fds_per_cell_margin = 8;
// Fixed margin above that (CAF's and the logger's own fds).
constexpr std::uint64_t fds_fixed_margin = 16;
// Spaces the tries of a final checked call that failed (the cell may be restarting).
constexpr milliseconds check_retry{100};

enum class phase : std::uint8_t { starting, loaded, settling };

struct stopped_cell {
  std::string name;
  pid_handle handle;
  clock_type::time_point resume_at;
};

enum class check_state : std::uint8_t { not_sent, pending, passed };

// The final checked call of one cell.
struct cell_check {
  check_state state = check_state::not_sent;
  clock_type::time_point not_before{};
};

struct driver_state {
  driver_config config;
  soak_record* rec = nullptr;
  ac::supervisor_actor root;
  ac::registry_actor registry;
  phase stage = phase::starting;
  clock_type::time_point began;
  clock_type::time_point loaded_at;
  clock_type::time_point settle_began;
  clock_type::time_point settle_deadline;
  clock_type::time_point next_sample;
  clock_type::time_point next_progress;
  clock_type::time_point last_tick;
  bool warmup_taken = false;
  std::optional<chaos_plan> plan;
  std::mt19937_64 payload_random;
  double load_credit = 0;
  std::size_t next_target = 0;
  std::uint64_t next_id = 1;
  std::vector<stopped_cell> stopped;
  std::map<std::string, cell_check> checks;
  // Set once the run is over: the actor quits after the current message.
  bool finished = false;

  static inline const char* name = "cellhub.soak_driver";
};

using driver_actor = caf::stateful_actor<driver_state>;

milliseconds ms_since(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from);
}

milliseconds run_time(const driver_state& st, clock_type::time_point now) {
  return st.stage == phase::starting ? ms_since(now, st.began) : ms_since(st.loaded_at, now);
}

// Names an error for the failure counts: cellhub's own by their errc name, CAF's with
// a "caf." prefix (CAF's request_timeout is the soak's backstop, not cellhub's).
std::string error_name(caf::actor_system& sys, const caf::error& err) {
  if (err.category() == ac::error_category())
    return std::string{ac::to_string(static_cast<ac::errc>(err.code()))};
  if (err.category() == caf::atom("system"))
    return "caf." + caf::to_string(static_cast<caf::sec>(err.code()));
  return sys.render(err);
}

void on_reply(driver_actor* self, std::uint64_t id, const std::string& target,
              const ac::payload& request, const ac::payload& reply, bool check) {
  auto& st = self->state;
  const bool correct = demo::is_demo_reply_to(request.bytes(), reply.bytes());
  st.rec->ledger.answered(id, correct, clock_type::now());
  if (!correct) {
    const auto got = demo::decode_demo_reply(reply.bytes());
    const auto want = demo::compute_demo_reply(request.bytes());
    st.rec->book.violate(
        invariant::replies_correct,
        got ? fmt::format("request {} to {} ({} bytes): reply fnv {:016x} words {} bytes {}, "
                          "expected fnv {:016x} words {} bytes {}",
                          id, target, request.size(), got->fnv1a64, got->words, got->bytes,
                          want.fnv1a64, want.words, want.bytes)
            : fmt::format("request {} to {} ({} bytes): reply of {} bytes, not a demo reply", id,
                          target, request.size(), reply.size()));
  }
  if (check)
    st.checks[target] = {correct ? check_state::passed : check_state::not_sent,
                         clock_type::now() + check_retry};
}

void send_request(driver_actor* self, const std::string& target, clock_type::time_point now,
                  bool check) {
  auto& st = self->state;
  const auto& options = st.rec->options;
  const auto id = st.next_id++;
  const auto size =
      std::uniform_int_distribution<std::size_t>{1, options.payload}(st.payload_random);
  ac::payload request{demo::make_request_text(size, st.payload_random())};
  st.rec->ledger.sent(id, target, now);
  // CAF's own timeout is only a backstop: the ledger has called the request overdue
  // by then, and CAF's answer just closes it.
  const auto backstop = options.deadline + options.grace + 2s;
  self->request(st.registry, backstop, ac::call_atom_v, target, request)
      .then([self, id, target, request, check](
                const ac::payload& reply) { on_reply(self, id, target, request, reply, check); },
            [self, id, target, check](const caf::error& err) {
              auto& s = self->state;
              s.rec->ledger.failed(id, error_name(self->system(), err), clock_type::now());
              if (check)
                s.checks[target] = {check_state::not_sent, clock_type::now() + check_retry};
            });
}

void send_load(driver_actor* self, clock_type::time_point now, milliseconds since_last) {
  auto& st = self->state;
  const auto& options = st.rec->options;
  st.load_credit += options.load * std::chrono::duration<double>(since_last).count();
  st.load_credit = std::min(st.load_credit, options.load * max_load_credit_seconds + 1);
  const auto& names = st.rec->census.names();
  while (st.load_credit >= 1.0) {
    st.load_credit -= 1.0;
    send_request(self, names[st.next_target++ % names.size()], now, false);
  }
}

int signal_of(chaos_kind kind) {
  switch (kind) {
  case chaos_kind::kill:
    return SIGKILL;
  case chaos_kind::stop:
    return SIGSTOP;
  case chaos_kind::garbage:
    return SIGUSR1;
  case chaos_kind::linger:
    return SIGUSR2;
  }
  return 0;
}

void strike(driver_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  auto& census = st.rec->census;
  const auto& options = st.rec->options;
  for (const auto kind : st.plan->due(now)) {
    const auto victims = census.eligible();
    if (victims.empty()) {
      census.skipped(kind);
      continue;
    }
    const auto& victim = victims[st.plan->pick(victims.size())];
    auto handle = pid_handle::open(victim.process);
    if (!handle || !handle->signal(signal_of(kind))) {
      census.skipped(kind); // it died an instant ago; its end event is on its way
      continue;
    }
    census.struck(victim.name, kind, now);
    if (kind == chaos_kind::stop)
      st.stopped.push_back({victim.name, std::move(*handle),
                            now + st.plan->length(options.stop_min, options.stop_max)});
  }
}

// Sends SIGCONT to the stopped cells whose time is up (all of them when `all`).
void resume(driver_actor* self, clock_type::time_point now, bool all) {
  auto& st = self->state;
  std::erase_if(st.stopped, [&](stopped_cell& cell) {
    if (!all && cell.resume_at > now)
      return false;
    // A cell killed as hung meanwhile is gone: the signal fails, which is fine.
    (void)cell.handle.signal(SIGCONT);
    st.rec->census.resumed(cell.name, cell.handle.who(), now);
    return true;
  });
}

resource_sample take_sample(driver_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  const auto sample = sample_resources(run_time(st, now));
  st.rec->trend.add(sample);
  if (st.rec->rest_before) {
    const auto limit =
        st.rec->rest_before->fds + st.rec->options.cells * fds_per_cell_margin + fds_fixed_margin;
    if (sample.fds > limit)
      st.rec->book.violate(invariant::fds_flat,
                           fmt::format("{} fds open at t={} ms, above the {} at rest plus {} per "
                                       "cell and {}",
                                       sample.fds, sample.at.count(), st.rec->rest_before->fds,
                                       fds_per_cell_margin, fds_fixed_margin));
  }
  return sample;
}

void print_progress(driver_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  if (st.rec->options.quiet)
    return;
  const auto& ledger = st.rec->ledger;
  const auto& census = st.rec->census;
  const auto sample =
      st.rec->trend.samples().empty() ? resource_sample{} : st.rec->trend.samples().back();
  std::string struck;
  for (const auto kind : all_chaos_kinds)
    struck += fmt::format(" {} {}", to_string(kind), census.strikes(kind).struck);
  fmt::print("[{:>6.1f}s] {:<8} sent {} answered {} failed {} corrupt {} open {} | struck{} | "
             "restarts {} | rss {:.1f} MiB fds {}\n",
             std::chrono::duration<double>(run_time(st, now)).count(),
             st.stage == phase::starting ? "starting"
             : st.stage == phase::loaded ? "loaded"
                                         : "settling",
             ledger.sent_count(), ledger.answered_count(), ledger.failed_count(),
             ledger.corrupt_count(), ledger.open_count(), struck, census.restarts(),
             static_cast<double>(sample.rss_kib) / 1024.0, sample.fds);
  std::fflush(stdout);
}

void finish(driver_actor* self) {
  self->state.finished = true;
  self->quit();
}

void end_load(driver_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  st.rec->load_end = take_sample(self, now);
  st.rec->loaded_for = ms_since(st.loaded_at, now);
  resume(self, now, true);
  st.stage = phase::settling;
  st.settle_began = now;
  // Long enough for every request still open to be answered, failed or timed out.
  const auto floor = st.rec->options.deadline + st.rec->options.grace + 5s;
  st.settle_deadline = now + std::max<milliseconds>(st.rec->options.settle, floor);
  for (const auto& name : st.rec->census.names())
    st.checks[name] = {};
}

void begin_load(driver_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  st.rec->startup_took = ms_since(st.began, now);
  st.rec->rest_before = sample_resources(milliseconds{0});
  st.rec->trend.add(*st.rec->rest_before);
  st.stage = phase::loaded;
  st.loaded_at = now;
  st.plan.emplace(st.rec->options.rates, st.rec->options.seed, now);
  st.next_sample = now + st.rec->options.sample_every;
}

void settle(driver_actor* self, clock_type::time_point now) {
  auto& st = self->state;
  auto& census = st.rec->census;
  const bool ready = census.all_ready();
  if (ready)
    for (auto& [name, check] : st.checks)
      if (check.state == check_state::not_sent && now >= check.not_before) {
        check.state = check_state::pending;
        send_request(self, name, now, true);
      }
  const bool verified = std::all_of(st.checks.begin(), st.checks.end(), [](const auto& entry) {
    return entry.second.state == check_state::passed;
  });
  if (verified && ready && st.rec->ledger.open_count() == 0) {
    st.rec->cells_verified = st.checks.size();
    st.rec->settle_took = ms_since(st.settle_began, now);
    st.rec->rest_after = take_sample(self, now);
    return finish(self);
  }
  if (now < st.settle_deadline)
    return;
  st.rec->settle_took = ms_since(st.settle_began, now);
  st.rec->cells_verified = static_cast<std::uint64_t>(
      std::count_if(st.checks.begin(), st.checks.end(),
                    [](const auto& entry) { return entry.second.state == check_state::passed; }));
  std::vector<std::string> problems = census.not_ready();
  for (const auto& [name, check] : st.checks)
    if (check.state != check_state::passed)
      problems.push_back(name + ": no correct answer to the final checked call");
  for (const auto& problem : problems)
    st.rec->book.violate(invariant::cells_ready_at_end,
                         fmt::format("{} ms after chaos stopped: {}",
                                     ms_since(st.settle_began, now).count(), problem));
  // Requests still open now were sent less than deadline + grace ago (the settle lasts
  // longer than that, and older ones were reported by the sweep): abandoned, not late.
  finish(self);
}

void tick(driver_actor* self) {
  auto& st = self->state;
  const auto now = clock_type::now();
  const auto since_last = ms_since(st.last_tick, now);
  st.rec->max_tick_gap = std::max(st.rec->max_tick_gap, since_last);
  st.last_tick = now;
  auto& rec = *st.rec;

  for (const auto& late : rec.ledger.sweep(now))
    rec.book.violate(invariant::requests_within_deadline,
                     fmt::format("request {} to {} open for {} ms (deadline {} ms + grace {} ms)",
                                 late.id, late.target,
                                 std::chrono::duration_cast<milliseconds>(late.open_for).count(),
                                 rec.options.deadline.count(), rec.options.grace.count()));
  rec.census.check(now, rec.book);

  switch (st.stage) {
  case phase::starting:
    if (rec.census.all_ready()) {
      begin_load(self, now);
    } else if (now - st.began > st.config.startup_timeout) {
      std::string missing;
      for (const auto& problem : rec.census.not_ready())
        missing += "\n  " + problem;
      rec.runtime_error = fmt::format("the cells were not all READY within {} ms:{}",
                                      st.config.startup_timeout.count(), missing);
      return finish(self);
    }
    break;
  case phase::loaded: {
    send_load(self, now, since_last);
    strike(self, now);
    resume(self, now, false);
    if (!st.warmup_taken && now - st.loaded_at >= rec.options.effective_warmup()) {
      st.warmup_taken = true;
      rec.warmup_end = take_sample(self, now);
    }
    const bool interrupted = st.config.interrupt != nullptr && st.config.interrupt->load();
    rec.interrupted = rec.interrupted || interrupted;
    if (now - st.loaded_at >= rec.options.duration || interrupted ||
        (rec.options.fail_fast && !rec.book.all_held())) {
      if (!st.warmup_taken) {
        st.warmup_taken = true;
        rec.warmup_end = take_sample(self, now);
      }
      end_load(self, now);
    }
    break;
  }
  case phase::settling:
    settle(self, now);
    break;
  }

  if (st.finished)
    return;
  if (st.stage != phase::starting && now >= st.next_sample) {
    take_sample(self, now);
    st.next_sample = now + rec.options.sample_every;
  }
  if (now >= st.next_progress) {
    print_progress(self, now);
    st.next_progress = now + rec.options.progress_every;
  }
  self->delayed_send(self, tick_period, caf::tick_atom_v);
}

caf::behavior soak_driver(driver_actor* self, driver_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  st.rec = st.config.record.get();
  st.began = clock_type::now();
  st.last_tick = st.began;
  st.next_progress = st.began + st.rec->options.progress_every;
  // A different stream from the chaos plan's, so that payloads do not shift strikes.
  st.payload_random.seed(st.rec->options.seed ^ 0x5bd1e995u);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    if (msg.source != s.root.address())
      return;
    const auto why = self->system().render(msg.reason);
    // Before every cell was READY the run never began: cells that cannot start are a
    // setup problem (a wrong --cell-binary), not a broken invariant.
    if (s.stage == phase::starting)
      s.rec->runtime_error = "the root supervisor ended before every cell was READY: " + why;
    else
      s.rec->book.violate(invariant::cells_ready_at_end,
                          "the root supervisor ended during the run: " + why);
    if (s.stage == phase::loaded)
      s.rec->loaded_for = ms_since(s.loaded_at, clock_type::now());
    finish(self);
  });
  return {
      [self](attach_atom, ac::supervisor_actor& root, ac::registry_actor& registry) {
        auto& s = self->state;
        s.root = std::move(root);
        s.registry = std::move(registry);
        self->monitor(s.root);
        self->send(self, caf::tick_atom_v);
      },
      [self](const ac::lifecycle_event& event) {
        auto& s = self->state;
        s.rec->census.on_event(event, clock_type::now(), s.rec->book);
      },
      [self](caf::tick_atom) {
        if (!self->state.finished)
          tick(self);
      },
  };
}

} // namespace

caf::actor spawn_soak_driver(caf::actor_system& sys, driver_config config) {
  return sys.spawn(soak_driver, std::move(config));
}

void attach_soak_driver(const caf::actor& driver, ac::supervisor_actor root,
                        ac::registry_actor registry) {
  caf::anon_send(driver, attach_atom::value, std::move(root), std::move(registry));
}

} // namespace cellhub::soak
