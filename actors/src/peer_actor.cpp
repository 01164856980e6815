#include "cellhub/actors/peer_actor.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/log.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <unistd.h>
#include <unordered_map>

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

struct peer_state {
  peer_config config;
  std::shared_ptr<tr::peer_transport> cell;
  std::int32_t pid = 0;
  bool ready = false;
  bool stop_requested = false;
  bool start_timed_out = false;
  bool killed_for_hang = false;
  bool dying = false;
  // Set while the doorbell watcher holds a registration for this life.
  bool watched = false;
  std::optional<tr::exit_status> status;
  std::unordered_map<std::uint64_t, caf::response_promise> pending;
  std::deque<queued_send> backlog;
  std::uint64_t next_msg_id = 1;
  std::uint64_t last_heartbeat = 0;
  clock_type::time_point last_progress{};

  // An actor ending without a death seen (its supervisor went away) still owes
  // every caller an answer.
  ~peer_state() {
    for (auto& entry : pending)
      entry.second.deliver(make_error(errc::cell_died, config.spec.name + " was shut down"));
    // After a death the watcher forgets the life by itself; only a life ended
    // otherwise (stopped, or its supervisor gone) leaves a registration behind.
    if (watched)
      caf::anon_send(config.watcher, unwatch_atom_v, cell->peer_id(), cell->incarnation());
  }

  static inline const char* name = "cellhub.peer";
};

using peer_actor_type = caf::stateful_actor<peer_state>;

std::chrono::milliseconds hang_check_period(const cell_spec& spec) {
  // Checking eight times per timeout keeps detection within +25% of it.
  return std::max(std::chrono::milliseconds{1}, spec.hang_timeout / 8);
}

caf::error ending(errc code, cell_end end) {
  return caf::error{static_cast<std::uint8_t>(code), error_category(),
                    caf::make_message(std::move(end))};
}

cell_end describe_end(const peer_state& st, std::string cause) {
  cell_end end;
  end.cause = std::move(cause);
  end.pid = st.pid;
  if (st.status) {
    end.exit_code = st.status->signaled ? -1 : st.status->code;
    end.signal = st.status->signaled ? st.status->signal : 0;
    end.detail = st.status->describe();
  }
  return end;
}

// Decides how the life ended, once the process is reaped.
caf::error exit_reason_of(const peer_state& st) {
  if (st.stop_requested)
    return caf::exit_reason::user_shutdown;
  if (st.cell->violated())
    return ending(errc::protocol_violation, describe_end(st, "protocol_violation"));
  if (st.killed_for_hang) {
    auto end = describe_end(st, "hung");
    end.detail =
        fmt::format("no progress for {} ms with work waiting", st.config.spec.hang_timeout.count());
    return ending(errc::hung, std::move(end));
  }
  if (!st.ready) {
    auto end = describe_end(st, "start_failed");
    if (st.start_timed_out)
      end.detail = fmt::format("no READY within {} ms", st.config.spec.start_timeout.count());
    return ending(errc::start_failed, std::move(end));
  }
  if (st.cell->goodbye_received() && st.status && st.status->clean())
    return caf::exit_reason::normal;
  return ending(errc::crashed, describe_end(st, "crashed"));
}

void fail_pending(peer_state& st, const caf::error& reason) {
  for (auto& [id, promise] : st.pending)
    promise.deliver(reason);
  st.pending.clear();
  st.backlog.clear();
}

void finish_if_reaped(peer_actor_type* self) {
  auto& st = self->state;
  if (!st.status) {
    if (auto* child = st.cell->child())
      st.status = child->try_wait();
  }
  if (st.status)
    self->quit(exit_reason_of(st));
}

// Takes the death of the cell into account, whoever noticed it first.
void on_death(peer_actor_type* self, tr::death_cause cause) {
  auto& st = self->state;
  st.cell->report_death(cause);
  if (st.dying)
    return finish_if_reaped(self);
  st.dying = true;
  // Replies the cell published before dying are still delivered.
  while (true) {
    auto next = st.cell->try_receive();
    if (!next || !next.value())
      break;
    auto& msg = *next.value();
    if (msg.kind == shm::message_kind::reply)
      if (auto it = st.pending.find(msg.msg_id); it != st.pending.end()) {
        it->second.deliver(payload{std::move(msg.payload)});
        st.pending.erase(it);
      }
  }
  fail_pending(st, make_error(errc::cell_died, fmt::format("{} (peer {}) died", st.config.spec.name,
                                                           st.cell->peer_id())));
  finish_if_reaped(self);
  // The doorbell can hang up an instant before the exiting process becomes
  // reapable; give it a grace period, then end a cell that lingers without its
  // doorbell (a broken cell). Its pidfd reports the end either way.
  if (!st.status)
    self->delayed_send(self, st.config.spec.shutdown_timeout, sigkill_atom_v);
}

void kill_cell(peer_actor_type* self) {
  if (auto* child = self->state.cell->child())
    (void)child->send_signal(SIGKILL);
}

// Sends one message or queues it behind others waiting for room.
void send_or_queue(peer_actor_type* self, queued_send item) {
  auto& st = self->state;
  if (!st.backlog.empty()) {
    st.backlog.push_back(std::move(item));
    return;
  }
  auto sent = st.cell->send(item.kind, item.msg_id, item.bytes.bytes());
  if (sent)
    return;
  switch (sent.error().code) {
  case tr::errc::no_slot:
  case tr::errc::ring_full:
    st.backlog.push_back(std::move(item));
    return;
  case tr::errc::peer_dead:
    return on_death(self, tr::death_cause::signal_failed);
  default:
    if (auto it = st.pending.find(item.msg_id);
        it != st.pending.end() && item.kind == shm::message_kind::request) {
      it->second.deliver(make_error(sent.error()));
      st.pending.erase(it);
    }
  }
}

void flush_backlog(peer_actor_type* self) {
  auto& st = self->state;
  while (!st.backlog.empty() && !st.dying) {
    auto& item = st.backlog.front();
    auto sent = st.cell->send(item.kind, item.msg_id, item.bytes.bytes());
    if (!sent) {
      if (sent.error().code == tr::errc::no_slot || sent.error().code == tr::errc::ring_full)
        return;
      if (sent.error().code == tr::errc::peer_dead)
        return on_death(self, tr::death_cause::signal_failed);
    }
    st.backlog.pop_front();
  }
}

// Takes every message the cell published.
void pump(peer_actor_type* self) {
  auto& st = self->state;
  while (!st.cell->violated()) {
    auto next = st.cell->try_receive();
    if (!next) {
      // The transport has logged it and killed the cell; its death follows.
      if (next.error().code == tr::errc::protocol_violation)
        fail_pending(st, make_error(errc::protocol_violation, next.error().detail));
      break;
    }
    if (!next.value())
      break;
    auto& msg = *next.value();
    switch (msg.kind) {
    case shm::message_kind::ready:
      if (!st.ready) {
        st.ready = true;
        st.last_progress = clock_type::now();
        self->send(st.config.supervisor, ready_atom_v, st.config.child,
                   static_cast<std::int32_t>(st.cell->peer_id()), st.cell->incarnation(), st.pid);
      }
      break;
    case shm::message_kind::reply:
      if (auto it = st.pending.find(msg.msg_id); it != st.pending.end()) {
        if (msg.aux == 0)
          it->second.deliver(payload{std::move(msg.payload)});
        else
          it->second.deliver(make_error(errc::cell_error, fmt::format("status {}", msg.aux)));
        st.pending.erase(it);
      }
      break;
    case shm::message_kind::message:
      if (st.config.sink)
        self->send(st.config.sink, cell_msg_atom_v, st.config.spec.name,
                   static_cast<std::int32_t>(st.cell->peer_id()), payload{std::move(msg.payload)});
      break;
    case shm::message_kind::goodbye:
    case shm::message_kind::request:
      break;
    }
  }
  flush_backlog(self);
}

void check_hang(peer_actor_type* self) {
  auto& st = self->state;
  if (st.dying)
    return;
  const auto now = clock_type::now();
  const auto progress = st.cell->progress();
  const bool work_waits = progress.unread_by_cell > 0 || !st.pending.empty();
  if (!st.ready || !work_waits || progress.heartbeat != st.last_heartbeat) {
    st.last_heartbeat = progress.heartbeat;
    st.last_progress = now;
  } else if (now - st.last_progress >= st.config.spec.hang_timeout) {
    tr::logger()->warn("peer_id={} peer_name=\"{}\" Cell hung: no progress for {} ms with work "
                       "waiting; killing it",
                       st.cell->peer_id(), st.config.spec.name,
                       st.config.spec.hang_timeout.count());
    st.killed_for_hang = true;
    kill_cell(self);
    return;
  }
  self->delayed_send(self, hang_check_period(st.config.spec), hang_atom_v);
}

caf::behavior peer_actor(peer_actor_type* self, peer_config config) {
  auto& st = self->state;
  st.config = std::move(config);
  const auto& spec = st.config.spec;
  self->link_to(st.config.supervisor);

  tr::spawn_options command{.binary = spec.binary, .args = spec.args, .env = spec.env};
  auto spawned = st.config.hub->spawn_peer({.peer_name = spec.name}, std::move(command));
  if (!spawned) {
    cell_end end{"start_failed", 0, -1, 0, spawned.error().message()};
    tr::logger()->error("cell \"{}\" could not be started: {}", spec.name,
                        spawned.error().message());
    self->quit(ending(errc::start_failed, std::move(end)));
    return {};
  }
  st.cell = std::move(spawned).value();
  st.pid = static_cast<std::int32_t>(st.cell->child()->pid());

  watch_request watch{st.cell->peer_id(), st.cell->incarnation(), ::dup(st.cell->doorbell_fd()),
                      ::dup(st.cell->child()->pidfd()), caf::actor_cast<caf::actor>(self)};
  self->send(st.config.watcher, watch_atom_v, std::move(watch));
  st.watched = true;
  self->send(st.config.supervisor, started_atom_v, st.config.child,
             static_cast<std::int32_t>(st.cell->peer_id()), st.cell->incarnation(), st.pid);
  self->delayed_send(self, spec.start_timeout, start_tmo_atom_v);
  if (spec.hang_timeout.count() > 0)
    self->delayed_send(self, hang_check_period(spec), hang_atom_v);

  return {
      [=](rang_atom, std::uint16_t, std::uint32_t incarnation) {
        if (incarnation == self->state.cell->incarnation())
          pump(self);
      },
      [=](peer_dead& notice) {
        auto& s = self->state;
        if (notice.incarnation != s.cell->incarnation())
          return;
        if (notice.last)
          s.watched = false;
        if (notice.exited && !s.status) {
          // The watcher peeked without reaping; reap now (it cannot block: it exited).
          s.status = s.cell->child()->try_wait();
        }
        on_death(self, static_cast<tr::death_cause>(notice.cause));
      },
      [=](call_atom, payload& bytes) -> caf::result<payload> {
        auto& s = self->state;
        if (s.dying)
          return make_error(errc::cell_died, s.config.spec.name + " is gone");
        const auto id = s.next_msg_id++;
        auto promise = self->make_response_promise();
        s.pending.emplace(id, promise);
        send_or_queue(self, {shm::message_kind::request, id, std::move(bytes)});
        return promise;
      },
      [=](cast_atom, payload& bytes) {
        if (!self->state.dying)
          send_or_queue(self, {shm::message_kind::message, 0, std::move(bytes)});
      },
      [=](stop_atom) {
        auto& s = self->state;
        if (s.stop_requested || s.dying)
          return;
        s.stop_requested = true;
        (void)s.cell->request_goodbye();
        self->delayed_send(self, s.config.spec.shutdown_timeout, sigterm_atom_v);
      },
      [=](sigterm_atom) {
        auto& s = self->state;
        if (auto* child = s.cell->child(); child && child->running() && !s.status) {
          (void)child->send_signal(SIGTERM);
          self->delayed_send(self, s.config.spec.shutdown_timeout, sigkill_atom_v);
        }
      },
      [=](sigkill_atom) {
        if (!self->state.status)
          kill_cell(self);
      },
      [=](start_tmo_atom) {
        auto& s = self->state;
        if (!s.ready && !s.dying) {
          s.start_timed_out = true;
          tr::logger()->warn("peer_id={} peer_name=\"{}\" no READY within {} ms; killing it",
                             s.cell->peer_id(), s.config.spec.name,
                             s.config.spec.start_timeout.count());
          kill_cell(self);
        }
      },
      [=](hang_atom) { check_hang(self); },
  };
}

} // namespace

caf::actor spawn_peer_actor(caf::local_actor* parent, peer_config config) {
  return parent->spawn(peer_actor, std::move(config));
}

std::optional<cell_end> cell_end_of(const caf::error& reason) {
  if (!reason || reason.category() != error_category())
    return std::nullopt;
  const auto& context = reason.context();
  if (context.size() == 1 && context.match_element<cell_end>(0))
    return context.get_as<cell_end>(0);
  return std::nullopt;
}

} // namespace cellhub::actors
