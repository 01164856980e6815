#include "cellhub/actors/supervisor.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/peer_actor.hpp"
#include "cellhub/actors/supervision_core.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

namespace cellhub::actors {
namespace {

namespace tr = cellhub::transport;
using clock_type = std::chrono::steady_clock;
using command = supervision_command;

// What the supervisor knows about a child's current life, beyond the core's view.
struct life {
  caf::actor actor;
  std::int32_t peer_id = -1;
  std::int32_t previous_peer_id = -1;
  std::uint32_t incarnation = 0;
  std::int32_t pid = 0;
};

struct supervisor_state {
  std::unique_ptr<supervision_core> core;
  tree_context context;
  supervisor_actor parent;
  std::uint64_t child_in_parent = 0;
  std::unordered_map<std::uint64_t, life> lives;
  std::unordered_map<caf::actor_addr, std::uint64_t> by_actor;
  std::vector<caf::actor> subscribers;
  bool reported_ready = false;
  caf::error exit_reason = caf::exit_reason::user_shutdown;

  static inline const char* name = "cellhub.supervisor";
};

using supervisor_actor_type = supervisor_actor::stateful_base<supervisor_state>;

void publish(supervisor_actor_type* self, lifecycle_event event) {
  auto& st = self->state;
  for (const auto& subscriber : st.subscribers)
    caf::anon_send(subscriber, event);
  if (st.parent)
    self->send(st.parent, std::move(event));
}

lifecycle_event event_for(supervisor_actor_type* self, event_kind kind, std::uint64_t id) {
  auto& st = self->state;
  lifecycle_event event;
  event.ts_ns = event_clock_ns();
  event.kind = kind;
  event.supervisor = st.core->spec().name;
  if (const auto* child = st.core->find(id))
    event.name = child->spec.name();
  if (auto it = st.lives.find(id); it != st.lives.end()) {
    event.peer_id = it->second.peer_id;
    event.incarnation = it->second.incarnation;
    event.pid = it->second.pid;
  }
  return event;
}

const cell_spec* cell_of(const supervised_child& child) {
  return std::get_if<cell_spec>(&child.spec.what);
}

// Publishes that child `id`'s spec is gone and forgets what is left of it here and in
// the registry (a replica dropped while it waited to restart still has its name
// there); the event follows the child's died or stopped event.
void publish_removed(supervisor_actor_type* self, std::uint64_t id, const std::string& name) {
  auto& st = self->state;
  auto event = event_for(self, event_kind::removed, id);
  event.name = name;
  if (st.context.registry)
    caf::anon_send(st.context.registry, unbind_request{name, errc::unknown_name});
  st.lives.erase(id);
  publish(self, std::move(event));
}

void report_ready_once(supervisor_actor_type* self) {
  auto& st = self->state;
  if (st.reported_ready || !st.parent)
    return;
  for (const auto& child : st.core->children())
    if (child.state == child_state::idle || child.state == child_state::starting ||
        child.state == child_state::restarting)
      return;
  st.reported_ready = true;
  self->send(st.parent, child_ready{st.child_in_parent, {}});
}

void start_child(supervisor_actor_type* self, std::uint64_t id) {
  auto& st = self->state;
  const auto* child = st.core->find(id);
  caf::actor actor;
  if (const auto* cell = cell_of(*child)) {
    actor = caf::actor_cast<caf::actor>(spawn_peer_actor(
        self, peer_config{*cell, st.context.hub, st.context.watcher, st.context.spawner,
                          caf::actor_cast<supervisor_actor>(self), st.context.sink, id}));
  } else {
    actor = caf::actor_cast<caf::actor>(
        spawn_supervisor(self->system(), std::get<supervisor_spec>(child->spec.what), st.context,
                         caf::actor_cast<supervisor_actor>(self), id));
    publish(self, event_for(self, event_kind::started, id));
  }
  self->monitor(actor);
  auto& current = st.lives[id];
  current.actor = actor;
  st.by_actor[actor.address()] = id;
}

void execute(supervisor_actor_type* self, const supervision_core::commands& commands) {
  auto& st = self->state;
  for (const auto& cmd : commands) {
    switch (cmd.what) {
    case command::kind::start:
      start_child(self, cmd.child);
      break;
    case command::kind::stop:
      if (auto it = st.lives.find(cmd.child); it != st.lives.end() && it->second.actor) {
        const auto* child = st.core->find(cmd.child);
        if (child && child->spec.is_supervisor())
          caf::anon_send(it->second.actor, shutdown_atom_v); // its `ok` is of no use here
        else
          self->send(caf::actor_cast<peer_actor>(it->second.actor), stop_atom_v);
      }
      break;
    case command::kind::restarting: {
      auto event = event_for(self, event_kind::restarting, cmd.child);
      event.delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(cmd.delay).count();
      publish(self, std::move(event));
      break;
    }
    case command::kind::timer:
      // A zero backoff skips CAF's clock thread, which costs a restart 50-65 us.
      if (cmd.delay.count() <= 0)
        self->send(self, backoff_atom_v, cmd.timer);
      else
        self->delayed_send(self, cmd.delay, backoff_atom_v, cmd.timer);
      break;
    case command::kind::quarantine: {
      auto event = event_for(self, event_kind::quarantined, cmd.child);
      event.end = cmd.end;
      tr::logger()->error("supervisor {}: child {} quarantined after {}",
                          tr::quoted(st.core->spec().name), tr::quoted(event.name),
                          tr::quoted(describe(cmd.end)));
      publish(self, std::move(event));
      break;
    }
    case command::kind::escalate: {
      auto event = event_for(self, event_kind::escalated, cmd.child);
      event.end = cmd.end;
      const auto& spec = st.core->spec();
      const auto why = fmt::format("{} reached the restart intensity ({} in {} ms): {}", event.name,
                                   spec.max_restarts, spec.period.count(), describe(cmd.end));
      tr::logger()->error("supervisor {} gives up: {}", tr::quoted(spec.name), tr::quoted(why));
      publish(self, std::move(event));
      st.exit_reason = make_error(errc::reached_max_restart_intensity, why);
      break;
    }
    case command::kind::removed:
      publish_removed(self, cmd.child, cmd.name);
      break;
    case command::kind::exit:
      self->quit(st.exit_reason);
      return;
    }
  }
  report_ready_once(self);
}

// Tells how a child's life ended, from its actor's exit reason: a peer actor's reason
// carries its `life_end` (but for a goodbye); a child supervisor's is `normal`,
// `user_shutdown` or its reason for giving up. The supervisor adds what it knows best:
// the process id and how long the life was ready.
life_end end_of(const caf::error& reason, const supervised_child& child, const life& current,
                clock_type::time_point now) {
  life_end end;
  if (auto carried = life_end_of(reason)) {
    end = std::move(*carried); // the peer actor's, pid included (0 when none ran)
  } else {
    if (!reason) {
      end.how = ending::goodbye;
      if (!child.spec.is_supervisor())
        end.status = transport::exit_status{}; // a goodbye is an exit with code 0
    } else {
      end.how = reason == caf::exit_reason::user_shutdown ? ending::stopped : ending::gave_up;
    }
    end.pid = current.pid;
  }
  if (child.ready_since)
    end.uptime_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - *child.ready_since).count();
  return end;
}

// Adds a subscriber once and watches it, so that one gone leaves the list.
void subscribe(supervisor_actor_type* self, caf::actor subscriber) {
  auto& subs = self->state.subscribers;
  if (!subscriber || std::find(subs.begin(), subs.end(), subscriber) != subs.end())
    return;
  self->monitor(subscriber);
  subs.push_back(std::move(subscriber));
}

void on_child_down(supervisor_actor_type* self, caf::down_msg& down) {
  auto& st = self->state;
  auto found = st.by_actor.find(down.source);
  if (found == st.by_actor.end()) {
    std::erase_if(st.subscribers,
                  [&](const caf::actor& sub) { return sub.address() == down.source; });
    return;
  }
  const auto id = found->second;
  st.by_actor.erase(found);
  const auto* child = st.core->find(id);
  if (child == nullptr)
    return;
  const bool requested = child->state == child_state::stopping || st.core->stopping();
  const bool is_cell = !child->spec.is_supervisor();
  const auto name = child->spec.name();

  const auto now = clock_type::now();
  auto end = end_of(down.reason, *child, st.lives[id], now);
  auto event = event_for(self, requested ? event_kind::stopped : event_kind::died, id);
  event.end = end;
  if (auto it = st.lives.find(id); it != st.lives.end()) {
    it->second.previous_peer_id = it->second.peer_id;
    it->second.actor = nullptr;
  }
  auto commands = st.core->on_down(id, std::move(end), now);
  // The registry learns first: whoever reacts to `died` by calling the name must
  // find it held (or failed), not routed to the dead life.
  if (is_cell && st.context.registry) {
    const auto* after = st.core->find(id);
    errc reason = errc::restarting;
    if (after == nullptr || after->state == child_state::stopped || st.core->stopping())
      reason = errc::unknown_name;
    else if (after->state == child_state::quarantined)
      reason = errc::quarantined;
    caf::anon_send(st.context.registry, unbind_request{name, reason});
  }
  publish(self, std::move(event));
  // A removed child's life is forgotten by the `removed` command, after its event.
  execute(self, commands);
}

std::optional<std::uint64_t> id_of(supervisor_state& st, const std::string& name) {
  if (const auto* child = st.core->find(name))
    return child->id;
  return std::nullopt;
}

// Publishes that child `id`'s life is ready (and remapped) and lets the core go on.
void on_life_ready(supervisor_actor_type* self, std::uint64_t id) {
  auto& st = self->state;
  publish(self, event_for(self, event_kind::ready, id));
  auto& current = st.lives[id];
  if (current.previous_peer_id >= 0 && current.peer_id >= 0) {
    auto event = event_for(self, event_kind::remapped, id);
    event.old_peer_id = current.previous_peer_id;
    publish(self, std::move(event));
  }
  execute(self, st.core->on_ready(id, clock_type::now()));
}

// --- Handlers, one per message of the supervisor's protocol -----------------------

void on_child_started(supervisor_actor_type* self, const child_started& started) {
  auto& current = self->state.lives[started.child];
  current.peer_id = started.life.peer_id;
  current.incarnation = started.life.incarnation;
  current.pid = started.life.pid;
  publish(self, event_for(self, event_kind::started, started.child));
}

void on_child_ready(supervisor_actor_type* self, const child_ready& ready) {
  auto& st = self->state;
  const auto id = ready.child;
  const auto* child = st.core->find(id);
  if (child == nullptr)
    return;
  auto& current = st.lives[id];
  if (const auto* cell = cell_of(*child); cell != nullptr && ready.life) {
    const auto& life = *ready.life;
    current.peer_id = life.peer_id;
    current.incarnation = life.incarnation;
    current.pid = life.pid;
    // Bind before publishing `ready`: the bind is in the registry's mailbox before
    // anyone can react to `ready`, so a call by name reaches this life.
    if (st.context.registry)
      caf::anon_send(
          st.context.registry,
          bind_request{registry_entry{cell->name, life.peer_id, life.incarnation, life.pid,
                                      caf::actor_cast<peer_actor>(current.actor)},
                       cell->during_restart, static_cast<std::uint64_t>(cell->hold_capacity)});
  }
  on_life_ready(self, id);
}

std::vector<child_info> which_children(supervisor_actor_type* self) {
  auto& st = self->state;
  std::vector<child_info> out;
  const auto now = clock_type::now();
  for (const auto& child : st.core->children()) {
    child_info info;
    info.name = child.spec.name();
    info.supervisor = child.spec.is_supervisor();
    info.state = child.state;
    info.restarts = child.restarts;
    if (!child.last_ends.empty())
      info.last_end = child.last_ends.back();
    if (child.ready_since)
      info.uptime_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now - *child.ready_since).count();
    if (auto it = st.lives.find(child.id); it != st.lives.end()) {
      info.peer_id = it->second.peer_id;
      info.incarnation = it->second.incarnation;
      info.pid = it->second.pid;
      if (info.supervisor)
        info.supervisor_handle = caf::actor_cast<supervisor_actor>(it->second.actor);
      else
        info.cell_handle = caf::actor_cast<peer_actor>(it->second.actor);
    }
    out.push_back(std::move(info));
  }
  return out;
}

child_counts count_children(const supervisor_state& st) {
  child_counts counts;
  for (const auto& child : st.core->children()) {
    ++counts.specs;
    if (child.state == child_state::running || child.state == child_state::starting)
      ++counts.active;
    if (child.spec.is_supervisor())
      ++counts.supervisors;
    else
      ++counts.workers;
  }
  return counts;
}

// Carries out an operator's request the core accepted, or answers why it refused.
caf::result<caf::ok_atom> carry_out(supervisor_actor_type* self,
                                    core_result<supervision_core::commands> commands,
                                    const std::string& context) {
  if (!commands)
    return make_error(commands.error(), context);
  execute(self, commands.value());
  return caf::ok_atom_v;
}

caf::result<caf::ok_atom> restart_child(supervisor_actor_type* self, const std::string& name) {
  const auto id = id_of(self->state, name);
  if (!id)
    return make_error(errc::unknown_child, name);
  return carry_out(self, self->state.core->restart_child(*id), name);
}

caf::result<caf::ok_atom> terminate_child(supervisor_actor_type* self, const std::string& name) {
  const auto id = id_of(self->state, name);
  if (!id)
    return make_error(errc::unknown_child, name);
  return carry_out(self, self->state.core->terminate_child(*id), name);
}

caf::result<caf::ok_atom> delete_child(supervisor_actor_type* self, const std::string& name) {
  auto& st = self->state;
  const auto id = id_of(st, name);
  if (!id)
    return make_error(errc::unknown_child, name);
  if (auto deleted = st.core->delete_child(*id); !deleted)
    return make_error(deleted.error(), name);
  if (st.context.registry)
    caf::anon_send(st.context.registry, unbind_request{name, errc::unknown_child});
  publish_removed(self, *id, name);
  return caf::ok_atom_v;
}

supervisor_actor::behavior_type supervisor(supervisor_actor_type* self, supervisor_spec spec,
                                           tree_context context, supervisor_actor parent,
                                           std::uint64_t child_in_parent,
                                           std::vector<caf::actor> subscribers) {
  auto& st = self->state;
  st.core = std::make_unique<supervision_core>(std::move(spec));
  st.context = std::move(context);
  st.parent = std::move(parent);
  st.child_in_parent = child_in_parent;
  if (st.parent)
    self->link_to(st.parent);
  // Before the first child starts, so that they see its very first event.
  for (auto& subscriber : subscribers)
    subscribe(self, std::move(subscriber));
  // Children are linked to us; their ends arrive as down messages. An exit from
  // the parent means the tree above is gone: stop in order. (An exit with reason
  // `kill` never gets here: CAF 0.17 ends the receiver at once, and the kill travels
  // down the links, which is what supervision_tree::kill relies on.)
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (msg.source == self->state.parent.address() && msg.reason)
      execute(self, self->state.core->shutdown(clock_type::now()));
  });
  self->set_down_handler([=](caf::down_msg& msg) { on_child_down(self, msg); });
  execute(self, st.core->start(clock_type::now()));

  return {
      [=](const child_started& started) { on_child_started(self, started); },
      [=](const child_ready& ready) { on_child_ready(self, ready); },
      // From a supervisor below us: pass it up and out.
      [=](lifecycle_event& event) { publish(self, std::move(event)); },
      [=](backoff_atom, std::uint64_t timer) {
        execute(self, self->state.core->on_timer(timer, clock_type::now()));
      },
      [=](which_atom) { return which_children(self); },
      [=](count_atom) { return count_children(self->state); },
      [=](restart_atom, const std::string& name) { return restart_child(self, name); },
      [=](terminate_atom, const std::string& name) { return terminate_child(self, name); },
      [=](caf::delete_atom, const std::string& name) { return delete_child(self, name); },
      [=](resize_atom, std::uint64_t replicas) {
        return carry_out(self, self->state.core->resize(replicas), self->state.core->spec().name);
      },
      [=](caf::subscribe_atom, caf::actor subscriber) {
        subscribe(self, std::move(subscriber));
        return caf::ok_atom_v;
      },
      [=](shutdown_atom) {
        execute(self, self->state.core->shutdown(clock_type::now()));
        return caf::ok_atom_v;
      },
  };
}

} // namespace

supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                                  tree_context context, supervisor_actor parent,
                                  std::uint64_t child, std::vector<caf::actor> subscribers) {
  return sys.spawn(supervisor, std::move(spec), std::move(context), std::move(parent), child,
                   std::move(subscribers));
}

} // namespace cellhub::actors
