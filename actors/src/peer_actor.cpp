#include "cellhub/actors/peer_actor.hpp"

#include "cellhub/actors/cell_lane.hpp"
#include "cellhub/actors/cell_spawner.hpp"
#include "cellhub/actors/error.hpp"
#include "cellhub/actors/hang_detector.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"
#include "cellhub/transport/stop_escalation.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <map>
#include <optional>
#include <unistd.h>

namespace cellhub::actors {
namespace {

namespace tr = cellhub::transport;
namespace shm = cellhub::transport::shm;
using clock_type = std::chrono::steady_clock;

// A send that waits for slots or ring space to come back.
struct queued_send {
  shm::message_kind kind;
  std::uint64_t msg_id;
  payload bytes;
};

// A call sent (or queued) to the cell and not answered yet.
struct pending_call {
  caf::response_promise promise;
  clock_type::time_point deadline;
};

// What a life is doing, as the host sees it. It only moves forward: starting ->
// running -> lingering or stopping, and lingering -> stopping; a stop may also come
// while starting. The death can come in any phase; the phase then tells what the
// life was doing when it ended.
enum class life_phase : std::uint8_t {
  // Spawned; READY not seen yet (the start timeout runs).
  starting,
  // READY seen; calls and casts flow.
  running,
  // Said goodbye without being asked: calls fail, and it gets the stop escalation
  // without the goodbye step.
  lingering,
  // Asked to stop: the stop escalation runs, and the life ends as a shutdown.
  stopping,
};

// Why the host killed the cell itself, if it did.
enum class host_kill : std::uint8_t {
  none,
  // No READY within start_timeout.
  no_ready_in_time,
  // No progress for hang_timeout with work waiting.
  hung,
};

struct peer_state {
  peer_config config;
  std::shared_ptr<tr::peer_transport> cell;
  // Carries every send and receive once the cell is spawned, this actor's and those
  // of callers on their own threads (see cell_lane.hpp).
  std::shared_ptr<cell_lane> lane;
  std::int32_t pid = 0;
  life_phase phase = life_phase::starting;
  // When READY arrived (it may arrive while stopping too).
  std::optional<clock_type::time_point> ready_at;
  host_kill killed = host_kill::none;
  // Set once the death is seen, whoever saw it; calls fail from then on.
  bool death_seen = false;
  // Holds the last step of the stop escalation taken, if one was.
  std::optional<tr::stop_step> last_step;
  // Ends a cell asked to stop, one that lingers after its goodbye, or one whose
  // doorbell hung up while its process runs on.
  tr::stop_escalation escalation{std::chrono::milliseconds{0}};
  // Set while a stop_step_atom is on its way; there is never more than one.
  bool escalation_armed = false;
  // Set while the doorbell watcher holds a registration for this life.
  bool watched = false;
  // Set while an expire_atom is on its way; there is never more than one.
  bool expiry_armed = false;
  std::optional<tr::exit_status> status;
  // Keyed by message id: ids grow and every call gets the same request_timeout, so
  // the first entry always has the earliest deadline and one timer serves all.
  std::map<std::uint64_t, pending_call> pending;
  std::deque<queued_send> backlog;
  // Counts the casts in `backlog`; with `pending` they are bounded by max_pending.
  std::size_t queued_casts = 0;
  std::uint64_t next_msg_id = 1;
  hang_detector hang{std::chrono::milliseconds{0}};

  // An actor ending without a death seen (its supervisor went away) still owes
  // every caller an answer.
  ~peer_state() {
    const auto gone = make_error(errc::cell_died, config.spec.name + " was shut down");
    for (auto& entry : pending)
      entry.second.promise.deliver(gone);
    if (lane)
      lane->close(gone);
    // After a death the watcher forgets the life by itself; only a life ended
    // otherwise (stopped, or its supervisor gone) leaves a registration behind.
    if (watched)
      caf::anon_send(config.watcher, unwatch_request{cell->peer_id(), cell->incarnation()});
  }

  static inline const char* name = "cellhub.peer";
};

using peer_actor_type = peer_actor::stateful_base<peer_state>;

// Decides how the life ended, once the process is reaped (or was never there).
life_end end_of_life(const peer_state& st) {
  const auto& spec = st.config.spec;
  life_end end;
  end.pid = st.pid;
  if (st.status)
    end.status = *st.status;
  if (st.last_step)
    end.last_step = *st.last_step;
  if (st.phase == life_phase::stopping) {
    end.how = ending::stopped;
  } else if (st.cell->violated()) {
    end.how = ending::protocol_violation;
  } else if (st.killed == host_kill::hung) {
    end.how = ending::hung;
    end.timeout_ms = spec.hang_timeout.count();
  } else if (!st.ready_at) {
    end.how = ending::no_ready;
    if (st.killed == host_kill::no_ready_in_time)
      end.timeout_ms = spec.start_timeout.count();
  } else if (st.phase == life_phase::lingering && st.last_step) {
    end.how = ending::lingered;
    end.timeout_ms = spec.shutdown_timeout.count();
  } else if (st.cell->goodbye_received() && st.status && st.status->clean()) {
    end.how = ending::goodbye;
  } else if (st.status && st.status->signaled) {
    end.how = ending::killed;
  } else {
    end.how = ending::exited;
  }
  return end;
}

errc errc_of(ending how) noexcept {
  switch (how) {
  case ending::hung:
    return errc::hung;
  case ending::exec_failed:
  case ending::no_ready:
    return errc::start_failed;
  case ending::protocol_violation:
    return errc::protocol_violation;
  default:
    return errc::crashed;
  }
}

// Makes the actor's exit reason: `normal` for a goodbye (whose end says nothing
// more), `user_shutdown` for a stop and an `errc` for a failure, each of the latter
// carrying the end as its context.
caf::error exit_reason_of(life_end end) {
  switch (end.how) {
  case ending::goodbye:
    return caf::exit_reason::normal;
  case ending::stopped: {
    // Still `user_shutdown` to everyone who compares reasons.
    caf::error reason = caf::exit_reason::user_shutdown;
    reason.context() = caf::make_message(std::move(end));
    return reason;
  }
  default:
    return caf::error{static_cast<std::uint8_t>(errc_of(end.how)), error_category(),
                      caf::make_message(std::move(end))};
  }
}

// Takes a step of the stop escalation: the goodbye is a message on the ring, so it goes
// through the lane; a signal goes straight to the process, lane closed or not (a cell
// whose doorbell hung up may run on, and must still be ended).
void take_stop_step(peer_state& st, tr::stop_step step) {
  if (step == tr::stop_step::goodbye)
    (void)st.lane->send(shm::message_kind::goodbye, 0, {});
  else
    (void)tr::take_step(*st.cell, step);
}

// Schedules the escalation's next step, unless a timer is on its way (one that comes
// early finds nothing due and schedules again).
void arm_escalation(peer_actor_type* self) {
  auto& st = self->state;
  const auto at = st.escalation.next_at();
  if (st.escalation_armed || !at)
    return;
  st.escalation_armed = true;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*at - clock_type::now());
  self->delayed_send(self, std::max(left, std::chrono::milliseconds{0}), stop_step_atom_v);
}

// Tells the lane whether sends wait in the backlog, so that calls through it queue
// behind them instead of overtaking.
void sync_queueing(peer_state& st) {
  if (st.lane)
    st.lane->set_queueing(!st.backlog.empty());
}

void fail_pending(peer_state& st, const caf::error& reason) {
  for (auto& [id, call] : st.pending)
    call.promise.deliver(reason);
  st.pending.clear();
  st.backlog.clear();
  st.queued_casts = 0;
  sync_queueing(st);
}

// Answers the call `id` with `outcome` and forgets it; does nothing for an id no
// longer (or never) pending, such as a late reply to an expired call.
template <class Outcome>
void answer(peer_state& st, std::uint64_t id, Outcome&& outcome) {
  if (auto it = st.pending.find(id); it != st.pending.end()) {
    it->second.promise.deliver(std::forward<Outcome>(outcome));
    st.pending.erase(it);
  }
}

// Answers the call `id` with the cell's reply (see `answer_of`).
void answer_reply(peer_state& st, tr::incoming_message& reply) {
  auto outcome = answer_of(reply);
  if (outcome)
    answer(st, reply.msg_id, std::move(*outcome));
  else
    answer(st, reply.msg_id, std::move(outcome.error()));
}

// Schedules the expiry of the oldest pending call, unless a timer is on its way.
void arm_expiry(peer_actor_type* self) {
  auto& st = self->state;
  if (st.expiry_armed || st.pending.empty())
    return;
  st.expiry_armed = true;
  const auto left = st.pending.begin()->second.deadline - clock_type::now();
  self->delayed_send(self,
                     std::max(std::chrono::duration_cast<std::chrono::microseconds>(left) +
                                  std::chrono::microseconds{1},
                              std::chrono::microseconds{0}),
                     expire_atom_v);
}

// Fails every call past its deadline, drops its send if it still waits in the
// backlog, and schedules the next expiry.
void expire_calls(peer_actor_type* self) {
  auto& st = self->state;
  st.expiry_armed = false;
  const auto now = clock_type::now();
  bool expired = false;
  while (!st.pending.empty() && st.pending.begin()->second.deadline <= now) {
    st.pending.begin()->second.promise.deliver(make_error(
        errc::request_timeout, fmt::format("{} did not answer within {} ms", st.config.spec.name,
                                           st.config.spec.request_timeout.count())));
    st.pending.erase(st.pending.begin());
    expired = true;
  }
  if (expired) {
    std::erase_if(st.backlog, [&](const queued_send& item) {
      return item.kind == shm::message_kind::request && !st.pending.contains(item.msg_id);
    });
    sync_queueing(st);
  }
  arm_expiry(self);
}

// Counts the messages waiting for this life: calls not answered, casts not sent.
std::size_t waiting(const peer_state& st) {
  return st.pending.size() + st.queued_casts;
}

caf::error overloaded(const peer_state& st) {
  return make_error(errc::overloaded,
                    fmt::format("{}: {} calls and casts already wait (max_pending {})",
                                st.config.spec.name, waiting(st), st.config.spec.max_pending));
}

// Ends the actor once the process is reaped. The transport goes to the spawner to be
// released there (see `retired_life`): CAF destroys an actor's state before it tells
// the monitors, and unmapping the region here would hold up the supervisor.
void finish_if_reaped(peer_actor_type* self) {
  auto& st = self->state;
  if (!st.status) {
    if (auto* child = st.cell->child())
      st.status = child->try_wait();
  }
  if (!st.status)
    return;
  // Only a death leads here: its calls have failed and its lane is closed already.
  auto reason = exit_reason_of(end_of_life(st));
  if (st.watched) {
    caf::anon_send(st.config.watcher, unwatch_request{st.cell->peer_id(), st.cell->incarnation()});
    st.watched = false;
  }
  self->send(st.config.spawner, retired_life{std::move(st.cell)});
  self->quit(std::move(reason));
}

// Takes the death of the cell into account, whoever noticed it first.
void on_death(peer_actor_type* self, tr::death_cause cause) {
  auto& st = self->state;
  st.cell->report_death(cause);
  if (st.death_seen)
    return finish_if_reaped(self);
  st.death_seen = true;
  // Replies the cell published before dying are still delivered, to this actor's
  // callers and to those of the lane.
  for (auto& msg : st.lane->take_for_actor().messages)
    if (msg.kind == shm::message_kind::reply)
      answer(st, msg.msg_id, payload{std::move(msg.payload)});
  const auto died = make_error(
      errc::cell_died, fmt::format("{} (peer {}) died", st.config.spec.name, st.cell->peer_id()));
  fail_pending(st, died);
  st.lane->close(died);
  finish_if_reaped(self);
  // The doorbell can hang up an instant before the exiting process becomes
  // reapable; give it a grace period, then end a cell that lingers without its
  // doorbell (a broken cell): only SIGKILL is left. Its pidfd reports the end.
  if (!st.status) {
    st.escalation.begin_after(tr::stop_step::sigterm, clock_type::now());
    arm_escalation(self);
  }
}

void kill_cell(peer_actor_type* self) {
  if (auto* child = self->state.cell->child())
    (void)child->send_signal(SIGKILL);
}

void enqueue(peer_state& st, queued_send item) {
  if (item.kind == shm::message_kind::message)
    ++st.queued_casts;
  st.backlog.push_back(std::move(item));
  sync_queueing(st);
}

void dequeue_front(peer_state& st) {
  if (st.backlog.front().kind == shm::message_kind::message)
    --st.queued_casts;
  st.backlog.pop_front();
  if (st.backlog.empty())
    sync_queueing(st);
}

// Sends one message or queues it behind others waiting for room.
void send_or_queue(peer_actor_type* self, queued_send item) {
  auto& st = self->state;
  // Before the spawn, and behind what already waits, it queues.
  if (!st.lane || !st.backlog.empty()) {
    enqueue(st, std::move(item));
    return;
  }
  auto sent = st.lane->send(item.kind, item.msg_id, item.bytes.bytes());
  if (sent)
    return;
  switch (sent.error().code) {
  case tr::errc::no_slot:
  case tr::errc::ring_full:
    enqueue(st, std::move(item));
    return;
  case tr::errc::peer_dead:
    return on_death(self, tr::death_cause::signal_failed);
  default:
    if (item.kind == shm::message_kind::request)
      answer(st, item.msg_id, make_error(sent.error()));
  }
}

void flush_backlog(peer_actor_type* self) {
  auto& st = self->state;
  while (st.lane && !st.backlog.empty() && !st.death_seen) {
    auto& item = st.backlog.front();
    auto sent = st.lane->send(item.kind, item.msg_id, item.bytes.bytes());
    if (!sent) {
      if (sent.error().code == tr::errc::no_slot || sent.error().code == tr::errc::ring_full)
        return;
      if (sent.error().code == tr::errc::peer_dead)
        return on_death(self, tr::death_cause::signal_failed);
      if (item.kind == shm::message_kind::request)
        answer(st, item.msg_id, make_error(sent.error()));
    }
    dequeue_front(st);
  }
}

// Takes the escalation's step due now, if any, and waits for the next one. The
// escalation ends once the process is reaped.
void take_due_stop_step(peer_actor_type* self) {
  auto& st = self->state;
  st.escalation_armed = false;
  if (st.status)
    return;
  if (const auto step = st.escalation.due(clock_type::now())) {
    if (*step == tr::stop_step::sigterm && st.phase == life_phase::lingering)
      tr::logger()->warn("peer_id={} peer_name={} Cell said goodbye but still runs after {} ms; "
                         "sending SIGTERM",
                         st.cell->peer_id(), tr::quoted(st.config.spec.name),
                         st.config.spec.shutdown_timeout.count());
    st.last_step = *step;
    take_stop_step(st, *step);
  }
  arm_escalation(self);
}

// A cell that says goodbye unasked has announced its exit: nothing sent to it will
// be answered, so calls fail at once, and it gets the time a stop would give it.
void on_unsolicited_goodbye(peer_actor_type* self) {
  auto& st = self->state;
  if (st.phase == life_phase::stopping || st.phase == life_phase::lingering || st.death_seen)
    return;
  st.phase = life_phase::lingering;
  fail_pending(st,
               make_error(errc::cell_died, fmt::format("{} said goodbye", st.config.spec.name)));
  // The cell took the first step itself.
  st.escalation.begin_after(tr::stop_step::goodbye, clock_type::now());
  arm_escalation(self);
}

// Takes every message the cell published, whoever drained it from the ring.
void pump(peer_actor_type* self) {
  auto& st = self->state;
  auto taken = st.lane->take_for_actor();
  for (auto& msg : taken.messages) {
    switch (msg.kind) {
    case shm::message_kind::ready:
      if (!st.ready_at) {
        st.ready_at = clock_type::now();
        if (st.phase == life_phase::starting)
          st.phase = life_phase::running;
        self->send(st.config.supervisor,
                   child_ready{st.config.child,
                               cell_life{st.cell->peer_id(), st.cell->incarnation(), st.pid}});
      }
      break;
    case shm::message_kind::reply:
      answer_reply(st, msg);
      break;
    case shm::message_kind::message:
      if (st.config.sink)
        caf::anon_send(st.config.sink,
                       cell_message{st.config.spec.name,
                                    cell_life{st.cell->peer_id(), st.cell->incarnation(), st.pid},
                                    payload{std::move(msg.payload)}});
      break;
    case shm::message_kind::goodbye:
      on_unsolicited_goodbye(self);
      break;
    case shm::message_kind::request:
      break;
    }
  }
  // The transport has logged it and killed the cell; its death follows.
  if (taken.violation)
    fail_pending(st, make_error(errc::protocol_violation, taken.violation->detail));
  flush_backlog(self);
}

void check_hang(peer_actor_type* self) {
  auto& st = self->state;
  if (st.death_seen)
    return;
  const auto progress = st.lane->progress();
  // Before READY the start timeout watches the cell.
  const bool work_waits = st.ready_at && (progress.unread_by_cell > 0 || !st.pending.empty() ||
                                          st.lane->calls_waiting() > 0);
  if (st.hang.observe(clock_type::now(), progress.heartbeat, work_waits)) {
    tr::logger()->warn("peer_id={} peer_name={} Cell hung: no progress for {} ms with work "
                       "waiting; killing it",
                       st.cell->peer_id(), tr::quoted(st.config.spec.name),
                       st.config.spec.hang_timeout.count());
    st.killed = host_kill::hung;
    kill_cell(self);
    return;
  }
  self->delayed_send(self, st.hang.check_period(), hang_atom_v);
}

// Describes the lane of the life just spawned: ids go on from those of calls queued
// before the spawn, and a nudge reaches this actor as a ring would.
cell_lane::settings lane_settings(peer_actor_type* self) {
  auto& st = self->state;
  cell_lane::settings lane;
  lane.name = st.config.spec.name;
  lane.max_calls = st.config.spec.max_pending;
  lane.request_timeout = st.config.spec.request_timeout;
  lane.first_msg_id = st.next_msg_id;
  lane.nudge = [weak = caf::weak_actor_ptr{self->ctrl()},
                rang = doorbell_rang{st.cell->peer_id(), st.cell->incarnation()}] {
    if (auto strong = weak.lock())
      caf::anon_send(caf::actor_cast<peer_actor>(strong), rang);
  };
  return lane;
}

// Takes the spawner's answer: the life begins (or failed to).
void on_spawned(peer_actor_type* self, spawn_done done) {
  auto& st = self->state;
  const auto& spec = st.config.spec;
  if (!done.cell) {
    tr::logger()->error("peer_name={} Cell could not be started: {}", tr::quoted(spec.name),
                        done.error);
    life_end end;
    end.how = ending::exec_failed;
    end.spawn_error = std::move(done.error);
    fail_pending(st, make_error(errc::start_failed, spec.name + " could not be started"));
    self->quit(exit_reason_of(std::move(end)));
    return;
  }
  st.cell = std::move(done.cell);
  st.pid = static_cast<std::int32_t>(st.cell->child()->pid());
  st.lane = std::make_shared<cell_lane>(st.cell, lane_settings(self));
  watch_request watch{st.cell->peer_id(), st.cell->incarnation(), ::dup(st.cell->doorbell_fd()),
                      ::dup(st.cell->child()->pidfd()), caf::actor_cast<life_listener>(self)};
  self->send(st.config.watcher, std::move(watch));
  st.watched = true;
  self->send(st.config.supervisor,
             child_started{st.config.child,
                           cell_life{st.cell->peer_id(), st.cell->incarnation(), st.pid}});
  self->delayed_send(self, spec.start_timeout, start_tmo_atom_v);
  if (st.hang.enabled())
    self->delayed_send(self, st.hang.check_period(), hang_atom_v);
  if (st.phase == life_phase::stopping) {
    // Asked to stop while the spawner worked: the stop begins now.
    st.last_step = st.escalation.begin(clock_type::now());
    take_stop_step(st, *st.last_step);
    arm_escalation(self);
  }
  flush_backlog(self);
}

peer_actor::behavior_type peer_behavior(peer_actor_type* self, peer_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  const auto& spec = st.config.spec;
  self->link_to(st.config.supervisor);

  tr::spawn_options command{.binary = spec.binary, .args = spec.args, .env = spec.env};
  command.user = spec.user;
  command.sealed_image = spec.sealed_image;
  self->send(st.config.spawner,
             spawn_job{st.config.hub, {.peer_name = spec.name}, std::move(command), self});
  st.hang = hang_detector{spec.hang_timeout};
  st.escalation = tr::stop_escalation{spec.shutdown_timeout};

  return {
      [=](spawn_done& done) { on_spawned(self, std::move(done)); },
      [=](const doorbell_rang& rang) {
        if (rang.incarnation == self->state.cell->incarnation())
          pump(self);
      },
      [=](peer_dead& notice) {
        auto& s = self->state;
        if (notice.incarnation != s.cell->incarnation())
          return;
        if (notice.last)
          s.watched = false;
        if (notice.exit && !s.status) {
          // The watcher peeked without reaping; reap now (it cannot block: it exited).
          s.status = s.cell->child()->try_wait();
        }
        on_death(self, notice.cause);
      },
      [=](call_atom, payload& bytes) -> caf::result<payload> {
        auto& s = self->state;
        if (s.death_seen)
          return make_error(errc::cell_died, s.config.spec.name + " is gone");
        if (s.phase == life_phase::lingering)
          return make_error(errc::cell_died, s.config.spec.name + " said goodbye");
        if (waiting(s) >= s.config.spec.max_pending)
          return overloaded(s);
        const auto id = s.lane ? s.lane->next_msg_id() : s.next_msg_id++;
        auto promise = self->make_response_promise();
        s.pending.emplace(id,
                          pending_call{promise, clock_type::now() + s.config.spec.request_timeout});
        arm_expiry(self);
        send_or_queue(self, {shm::message_kind::request, id, std::move(bytes)});
        return promise;
      },
      [=](cast_atom, payload& bytes) -> caf::result<void> {
        auto& s = self->state;
        // A cast promises no delivery: one to a cell on its way out is dropped, as a
        // message to a cell that dies after taking it would be.
        if (s.death_seen || s.phase == life_phase::lingering)
          return caf::unit;
        if (waiting(s) >= s.config.spec.max_pending)
          return overloaded(s);
        send_or_queue(self, {shm::message_kind::message, 0, std::move(bytes)});
        return caf::unit;
      },
      [=](expire_atom) { expire_calls(self); },
      [=](stop_atom) {
        auto& s = self->state;
        if (s.phase == life_phase::stopping || s.death_seen)
          return;
        const bool lingered = s.phase == life_phase::lingering;
        s.phase = life_phase::stopping;
        // A lingering cell's escalation already runs; a second would double the signals.
        // A cell not spawned yet gets its escalation once it is.
        if (lingered || !s.cell)
          return;
        s.last_step = s.escalation.begin(clock_type::now());
        take_stop_step(s, *s.last_step);
        arm_escalation(self);
      },
      [=](stop_step_atom) { take_due_stop_step(self); },
      [=](start_tmo_atom) {
        auto& s = self->state;
        if (!s.ready_at && !s.death_seen) {
          s.killed = host_kill::no_ready_in_time;
          tr::logger()->warn("peer_id={} peer_name={} no READY within {} ms; killing it",
                             s.cell->peer_id(), tr::quoted(s.config.spec.name),
                             s.config.spec.start_timeout.count());
          kill_cell(self);
        }
      },
      [=](hang_atom) { check_hang(self); },
      [=](lane_atom) { return lane_handle{self->state.lane}; },
  };
}

} // namespace

peer_actor spawn_peer_actor(caf::local_actor* parent, peer_config config) {
  return parent->spawn(peer_behavior, std::move(config));
}

std::optional<life_end> life_end_of(const caf::error& reason) {
  // Any category: a requested stop ends as `user_shutdown` carrying a life_end.
  if (!reason)
    return std::nullopt;
  const auto& context = reason.context();
  if (context.size() == 1 && context.match_element<life_end>(0))
    return context.get_as<life_end>(0);
  return std::nullopt;
}

} // namespace cellhub::actors
