#include "cellhub/actors/registry.hpp"

#include "cellhub/transport/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/result.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <utility>

namespace cellhub::actors {

namespace {

using state_type = registry_state;
using self_pointer = registry_actor::stateful_pointer<state_type>;

// Spawning a class avoids the UBSan report CAF 0.17 raises for function-based
// actors spawned without arguments.
class registry_impl : public registry_actor::stateful_base<state_type> {
public:
  using super = registry_actor::stateful_base<state_type>;

  explicit registry_impl(caf::actor_config& cfg)
      : super(cfg) {}

  behavior_type make_behavior() override { return registry(this); }
};

// Reads an unbind reason; a value outside the enum (from a peer of another version)
// means "gone for good".
errc to_reason(errc code) {
  const bool known = std::find(all_errcs.begin(), all_errcs.end(), code) != all_errcs.end();
  return known ? code : errc::unknown_name;
}

// A deleted or terminated child leaves no trace: remembering it would let names of
// resized pools pile up, and "unknown_name" is what a caller of a deleted name expects.
bool forgets_name(errc reason) {
  return reason == errc::unknown_child || reason == errc::unknown_name;
}

void fail_held(registry_state::record& rec, const caf::error& err) {
  for (auto& msg : rec.held)
    msg.promise.deliver(err);
  rec.held.clear();
}

// Sends as the registry. A typed actor may not send() to untyped handles, and an
// anonymous message would hide from peers and subscribers where it came from.
template <class... Ts>
void send_untyped(self_pointer self, const caf::actor& dest, Ts&&... xs) {
  caf::unsafe_send_as(self, dest, std::forward<Ts>(xs)...);
}

// Keeps `promise` until the life answers; returns the function that answers it once.
// The entry's owner is the peer actor: it answers every call within its
// request_timeout (or fails it when the life ends), so `forwarded` cannot grow
// beyond what the lives hold, however long callers wait.
auto keep_forwarded(self_pointer self, caf::response_promise promise) {
  auto& st = self->state;
  const auto id = st.next_forward++;
  st.forwarded.emplace(id, std::move(promise));
  return [self, id](auto&& outcome) {
    auto it = self->state.forwarded.find(id);
    if (it == self->state.forwarded.end())
      return;
    it->second.deliver(std::forward<decltype(outcome)>(outcome));
    self->state.forwarded.erase(it);
  };
}

// Forwards a call to a life and relays the answer. A plain delegate would let a
// life that ended an instant before the call arrived answer with CAF's
// `request_receiver_down`; callers are promised `cell_died` for any death.
void forward_call(self_pointer self, const registry_entry& life, payload data,
                  caf::response_promise promise) {
  auto answer = keep_forwarded(self, std::move(promise));
  self->request(life.actor, caf::infinite, call_atom_v, std::move(data))
      .then([answer](payload& reply) mutable { answer(std::move(reply)); },
            [answer, name = life.name](caf::error& err) mutable {
              if (err == caf::sec::request_receiver_down)
                err = make_error(errc::cell_died, name + " ended before the call reached it");
              answer(std::move(err));
            });
}

// Forwards a cast to a life and relays whether it took it: `overloaded` when the
// life already holds max_pending messages. A cast to a life that just ended is
// dropped without an error, as a cast taken by a cell that dies at once would be.
void forward_cast(self_pointer self, const registry_entry& life, payload data,
                  caf::response_promise promise) {
  auto answer = keep_forwarded(self, std::move(promise));
  self->request(life.actor, caf::infinite, cast_atom_v, std::move(data))
      .then([answer]() mutable { answer(caf::unit); },
            [answer](caf::error& err) mutable {
              if (err == caf::sec::request_receiver_down)
                answer(caf::unit);
              else
                answer(std::move(err));
            });
}

void deliver_held(self_pointer self, registry_state::record& rec) {
  for (auto& msg : rec.held) {
    if (msg.is_call)
      forward_call(self, rec.entry, std::move(msg.data), std::move(msg.promise));
    else
      forward_cast(self, rec.entry, std::move(msg.data), std::move(msg.promise));
  }
  rec.held.clear();
}

void publish(self_pointer self, const remapped& note) {
  for (const auto& subscriber : self->state.subscribers)
    send_untyped(self, subscriber, note);
}

// Tells what became of a message by name: forward it to `bound`, answer `err`, or
// (when `held`) answer later through the promise now kept in the hold buffer.
struct route {
  registry_state::record* bound = nullptr;
  caf::error err;
  bool held = false;
  caf::response_promise promise;
};

route route_by_name(self_pointer self, const std::string& name, bool is_call, payload& data) {
  auto it = self->state.names.find(name);
  if (it == self->state.names.end())
    return {nullptr, make_error(errc::unknown_name, name), false};
  auto& rec = it->second;
  switch (rec.state) {
  case registry_state::status::bound:
    return {&rec, {}, false};
  case registry_state::status::removed:
    return {nullptr, make_error(rec.removed_reason, name), false};
  case registry_state::status::restarting:
    break;
  }
  if (rec.delivery == restart_delivery::fail)
    return {nullptr, make_error(errc::restarting, name), false};
  if (rec.held.size() >= rec.hold_capacity)
    return {nullptr, make_error(errc::hold_buffer_full, name), false};
  auto promise = self->make_response_promise();
  rec.held.push_back({is_call, std::move(data), promise});
  return {nullptr, {}, true, std::move(promise)};
}

caf::result<caf::ok_atom> on_bind(self_pointer self, registry_entry& entry,
                                  restart_delivery delivery, std::uint64_t hold_capacity) {
  if (entry.name.empty() || !entry.actor)
    return make_error(errc::invalid_spec, "bind needs a name and an actor");
  auto [it, first_bind] = self->state.names.try_emplace(entry.name);
  auto& rec = it->second;
  const bool same_life = !first_bind && rec.state == registry_state::status::bound &&
                         rec.entry.peer_id == entry.peer_id &&
                         rec.entry.incarnation == entry.incarnation;
  const auto old_peer_id =
      rec.state == registry_state::status::bound ? rec.entry.peer_id : rec.last_peer_id;
  rec.entry = std::move(entry);
  rec.state = registry_state::status::bound;
  rec.last_peer_id = rec.entry.peer_id;
  rec.delivery = delivery;
  rec.hold_capacity = hold_capacity;
  if (!first_bind && !same_life)
    publish(self, remapped{rec.entry.name, old_peer_id, rec.entry.peer_id, rec.entry.incarnation});
  deliver_held(self, rec);
  return caf::ok_atom_v;
}

caf::ok_atom on_unbind(self_pointer self, const std::string& name, errc value) {
  auto it = self->state.names.find(name);
  if (it == self->state.names.end())
    return caf::ok_atom_v;
  auto& rec = it->second;
  const auto reason = to_reason(value);
  if (rec.state == registry_state::status::bound)
    rec.last_peer_id = rec.entry.peer_id;
  rec.entry.peer_id = -1;
  rec.entry.pid = 0;
  rec.entry.actor = nullptr;
  if (reason == errc::restarting) {
    rec.state = registry_state::status::restarting;
    return caf::ok_atom_v;
  }
  fail_held(rec, make_error(reason, name));
  if (forgets_name(reason)) {
    self->state.names.erase(it);
  } else {
    rec.state = registry_state::status::removed;
    rec.removed_reason = reason;
  }
  return caf::ok_atom_v;
}

} // namespace

registry_state::~registry_state() {
  const auto err = caf::make_error(caf::sec::request_receiver_down);
  for (auto& entry : names)
    fail_held(entry.second, err);
  for (auto& entry : forwarded)
    entry.second.deliver(err);
}

registry_actor::behavior_type registry(self_pointer self) {
  // A stray error message (an answer to a cast sent back by a caller with no use for
  // it) must not end the registry, as CAF's default handler would.
  self->set_error_handler([self](caf::error& err) {
    transport::logger()->debug("registry: dropped a stray error message: {}",
                               self->system().render(err));
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& subs = self->state.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& sub) { return sub.address() == msg.source; }),
               subs.end());
  });
  return {
      [self](bind_request& req) -> caf::result<caf::ok_atom> {
        return on_bind(self, req.entry, req.delivery, req.hold_capacity);
      },
      [self](const unbind_request& req) { return on_unbind(self, req.name, req.reason); },
      [self](call_atom, const std::string& name, payload& data) -> caf::result<payload> {
        auto r = route_by_name(self, name, true, data);
        if (r.held)
          return r.promise;
        if (r.bound == nullptr)
          return std::move(r.err);
        auto promise = self->make_response_promise();
        forward_call(self, r.bound->entry, std::move(data), promise);
        return promise;
      },
      [self](cast_atom, const std::string& name, payload& data) -> caf::result<void> {
        auto r = route_by_name(self, name, false, data);
        if (r.held)
          return r.promise;
        if (r.bound == nullptr)
          return std::move(r.err);
        auto promise = self->make_response_promise();
        forward_cast(self, r.bound->entry, std::move(data), promise);
        return promise;
      },
      [self](lookup_atom, const std::string& name) -> caf::result<registry_entry> {
        auto it = self->state.names.find(name);
        if (it == self->state.names.end())
          return make_error(errc::unknown_name, name);
        if (it->second.state == registry_state::status::removed)
          return make_error(it->second.removed_reason, name);
        return it->second.entry;
      },
      [self](names_atom) {
        std::vector<registry_entry> result;
        result.reserve(self->state.names.size());
        for (const auto& [name, rec] : self->state.names)
          if (rec.state != registry_state::status::removed)
            result.push_back(rec.entry);
        return result;
      },
      [self](caf::subscribe_atom, caf::actor& subscriber) {
        auto& subs = self->state.subscribers;
        if (subscriber && std::find(subs.begin(), subs.end(), subscriber) == subs.end()) {
          self->monitor(subscriber);
          subs.push_back(std::move(subscriber));
        }
        return caf::ok_atom_v;
      },
  };
}

registry_actor spawn_registry(caf::actor_system& sys) {
  return sys.spawn<registry_impl>();
}

} // namespace cellhub::actors
