#include "node_actor.hpp"

#include "dialer.hpp"

#include "cellhub/actors/error.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/cluster/messages.hpp"
#include "cellhub/cluster/node_table.hpp"
#include "cellhub/cluster/type_ids.hpp"
#include "cellhub/remote/link_security.hpp"
#include "cellhub/transport/log.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

namespace cellhub::cluster::detail {
namespace {

using actors::errc;
using actors::payload;
using clock_type = std::chrono::steady_clock;

// A node this one is linked to: its actor and the calls in flight to it.
struct link {
  node_link_actor actor;
  // The calls and casts in flight to it, each answered once: by the node, or with
  // node_down when it is lost.
  std::map<std::uint64_t, caf::response_promise> in_flight;
};

// One address of the join list and its dialer.
struct join_target {
  node_address address;
  dialer_actor dialer;
  bool dialing = false;
  clock_type::time_point next_dial{};
  // Names the node found there, once one was; empty before.
  std::string node;
};

struct node_state {
  static inline const char* name = "cellhub.cluster.node";

  cluster_options options;
  std::shared_ptr<const remote::link_security> security;
  node_table table{std::string{}};
  actors::registry_actor registry;
  std::map<std::string, link, std::less<>> links;
  std::vector<join_target> joins;
  std::vector<caf::actor> subscribers;
  // Numbers calls and casts to other nodes; never reused, so that a late answer from a
  // lost link cannot settle a call made over the link that replaced it.
  std::uint64_t last_call_id = 0;
  // Counts this node's own lifecycle events, to tell whether a hello went out stale.
  std::uint64_t own_version = 0;
  bool ticking = false;
};

using self_pointer = node_actor::stateful_pointer<node_state>;

std::int64_t now_ns() {
  return actors::event_clock_ns();
}

void publish_node_event(self_pointer self, actors::event_kind kind, const std::string& node) {
  actors::lifecycle_event event;
  event.ts_ns = now_ns();
  event.kind = kind;
  event.name = node;
  event.supervisor = self->state.table.self();
  for (const auto& subscriber : self->state.subscribers)
    caf::anon_send(subscriber, event);
}

// Forgets a linked node: its calls in flight fail at once with node_down, its cells
// become unreachable, and subscribers hear `node_down`.
void lose_node(self_pointer self, const std::string& node, const std::string& why) {
  auto& st = self->state;
  const auto found = st.links.find(node);
  if (found == st.links.end())
    return;
  auto lost = std::move(found->second);
  st.links.erase(found);
  self->demonitor(lost.actor.address());
  for (auto& [id, promise] : lost.in_flight)
    promise.deliver(actors::make_error(errc::node_down, node));
  if (st.table.node_down(node, now_ns())) {
    transport::logger()->warn("cluster node={} down: {}", node, why);
    publish_node_event(self, actors::event_kind::node_down, node);
  }
}

// Records a link to `node` through `actor`, with its cells as it told them; returns
// false (and links nothing) for a name that is not valid or is this node's own.
bool link_node(self_pointer self, const std::string& node, node_link_actor actor,
               std::vector<cell_record> cells) {
  auto& st = self->state;
  if (const auto problem = check_node_name(node); !problem.empty()) {
    transport::logger()->error("cluster: a node that says hello has a bad name ({}); it is "
                               "not linked",
                               problem);
    return false;
  }
  if (node == st.table.self()) {
    transport::logger()->error("cluster: a node calls itself '{}' as this one does; node names "
                               "must be unique, it is not linked",
                               node);
    return false;
  }
  if (auto found = st.links.find(node); found != st.links.end()) {
    if (found->second.actor == actor) {
      st.table.node_up(node, std::move(cells), now_ns());
      return true;
    }
    // Another actor under the same name: the node restarted before its old link was
    // seen gone. The old one's calls cannot be answered any more.
    lose_node(self, node, "a new instance of it joined");
  }
  self->monitor(actor);
  st.links[node].actor = actor;
  if (st.table.node_up(node, std::move(cells), now_ns())) {
    transport::logger()->info("cluster node={} up", node);
    publish_node_event(self, actors::event_kind::node_up, node);
  }
  return true;
}

// Says hello to `actor` with this node's cells and links to the node that answers;
// `done` learns its name, or an empty one when it did not answer in time. When this
// node's own cells changed meanwhile (events the other side did not get: it links us
// only now), it says hello again, so that the other side's view is current.
void say_hello(self_pointer self, node_link_actor actor,
               std::function<void(const std::string&)> done) {
  auto& st = self->state;
  const auto version = st.own_version;
  self->request(actor, st.options.heartbeat_timeout,
                node_hello{st.table.self(), self, st.table.own_cells()})
      .then(
          [self, actor, version, done](node_snapshot& snapshot) mutable {
            const auto node = snapshot.node;
            link_node(self, node, actor, std::move(snapshot.cells));
            if (self->state.own_version != version && self->state.links.contains(node))
              say_hello(self, actor, [](const std::string&) {});
            done(node);
          },
          [done](caf::error&) mutable { done(std::string{}); });
}

void dial(self_pointer self, std::size_t index) {
  auto& entry = self->state.joins[index];
  entry.dialing = true;
  const auto retry_later = [self, index] {
    auto& target = self->state.joins[index];
    target.dialing = false;
    target.next_dial = clock_type::now() + self->state.options.join_retry;
  };
  self->request(entry.dialer, caf::infinite, dial_atom_v)
      .then(
          [self, index, retry_later](node_link_actor& actor) {
            say_hello(self, actor, [self, index, retry_later](const std::string& node) {
              if (node.empty())
                return retry_later();
              auto& target = self->state.joins[index];
              target.dialing = false;
              target.node = node;
            });
          },
          [retry_later](caf::error&) { retry_later(); });
}

void on_tick(self_pointer self) {
  auto& st = self->state;
  const auto now = clock_type::now();
  for (std::size_t i = 0; i < st.joins.size(); ++i) {
    const auto& target = st.joins[i];
    const bool linked = !target.node.empty() && st.links.contains(target.node);
    if (!target.dialing && !linked && now >= target.next_dial)
      dial(self, i);
  }
  // A node that stays silent for the heartbeat timeout is lost, whether or not its
  // connection closed (a partition keeps it open).
  for (const auto& [node, link] : st.links) {
    self->request(link.actor, st.options.heartbeat_timeout, heartbeat_atom_v, st.table.self())
        .then(
            [self, actor = link.actor](bool linked) {
              // It lost us (our heartbeats were late once): link again.
              if (!linked)
                say_hello(self, actor, [](const std::string&) {});
            },
            [self, node = node, actor = link.actor](caf::error&) {
              const auto found = self->state.links.find(node);
              if (found != self->state.links.end() && found->second.actor == actor)
                lose_node(self, node, "no heartbeat answer in time");
            });
  }
  const auto period = std::min(st.options.heartbeat_interval, st.options.join_retry);
  self->delayed_send(self, period, caf::tick_atom_v);
}

// Answers the call or cast `id` in flight to `node` through `answer`, unless the node
// was lost meanwhile (then node_down answered it already).
template <class Answer>
void settle(self_pointer self, const std::string& node, std::uint64_t id, Answer answer) {
  const auto found = self->state.links.find(node);
  if (found == self->state.links.end())
    return;
  if (auto entry = found->second.in_flight.extract(id))
    answer(entry.mapped());
}

// Sends `msg` (a node_call or a node_cast) to `target`'s node and answers the sender
// with that node's answer: the cell's reply, its errors (overloaded, cell_died, ...), or
// node_down once the node is lost. No timeout of its own: the other node bounds a call
// as a local one, and a node that goes silent fails everything in flight when lost.
template <class Message>
caf::response_promise forward_remote(self_pointer self, const std::string& node, Message msg) {
  auto& link = self->state.links.at(node);
  const auto id = ++self->state.last_call_id;
  auto promise = self->make_response_promise();
  link.in_flight.emplace(id, promise);
  auto failed = [self, node, id, actor = link.actor](caf::error& err) {
    // "Receiver down" comes from the other node's registry as well as from its node
    // actor, and CAF may say it to a request before the node actor's down message
    // arrives. Ask the node actor: alive, the error stands; gone, the node is lost
    // and this call fails with the rest as node_down.
    const auto found = self->state.links.find(node);
    if (err == caf::sec::request_receiver_down && found != self->state.links.end() &&
        found->second.actor == actor) {
      self->request(actor, self->state.options.heartbeat_timeout, heartbeat_atom_v,
                    self->state.table.self())
          .then(
              [self, node, id, err](bool) mutable {
                settle(self, node, id,
                       [&](caf::response_promise& p) { p.deliver(std::move(err)); });
              },
              [self, node, actor](caf::error&) {
                const auto still = self->state.links.find(node);
                if (still != self->state.links.end() && still->second.actor == actor)
                  lose_node(self, node, "its node actor is gone");
              });
      return;
    }
    settle(self, node, id, [&](caf::response_promise& p) { p.deliver(std::move(err)); });
  };
  if constexpr (std::is_same_v<Message, node_call>)
    self->request(link.actor, caf::infinite, std::move(msg))
        .then(
            [self, node, id](payload& reply) {
              settle(self, node, id,
                     [&](caf::response_promise& p) { p.deliver(std::move(reply)); });
            },
            failed);
  else
    self->request(link.actor, caf::infinite, std::move(msg))
        .then(
            [self, node, id]() {
              settle(self, node, id, [](caf::response_promise& p) { p.deliver(caf::unit); });
            },
            failed);
  return promise;
}

caf::error resolve_error(errc code, const std::string& name) {
  return actors::make_error(code, name);
}

// Routes a call or cast by cluster name (`Message` is node_call or node_cast): to this
// node's registry, or to the node that runs the cell.
template <class Result, class Message, class Atom>
caf::result<Result> route(self_pointer self, Atom atom, const std::string& name, payload data) {
  auto& st = self->state;
  auto resolved = st.table.resolve(name);
  if (const auto* code = std::get_if<errc>(&resolved))
    return resolve_error(*code, name);
  const auto& target = std::get<cell_target>(resolved);
  if (target.node != st.table.self())
    return forward_remote(self, target.node, Message{target.name, std::move(data)});
  if (!st.registry)
    return resolve_error(errc::unknown_name, name);
  return self->delegate(st.registry, atom, target.name, std::move(data));
}

node_actor::behavior_type node_behavior(self_pointer self, cluster_options options,
                                        std::shared_ptr<const remote::link_security> security) {
  auto& init = self->state;
  init.options = std::move(options);
  init.security = std::move(security);
  init.table = node_table{init.options.node};
  const auto dial_timeout = std::max<std::chrono::nanoseconds>(2 * init.options.heartbeat_timeout,
                                                               std::chrono::seconds{2});
  for (const auto& address : init.options.join) {
    auto dialer = spawn_dialer(self->system(), address, init.security, dial_timeout);
    self->link_to(dialer);
    init.joins.push_back({.address = address, .dialer = std::move(dialer)});
  }
  // An error message nobody asked for (a stray answer, a peer's mistake) must not end
  // the node: CAF's default would quit with it.
  self->set_error_handler([self](caf::error& err) {
    transport::logger()->debug("cluster: dropped a stray error message: {}",
                               self->system().render(err));
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    std::erase_if(st.subscribers,
                  [&](const caf::actor& sub) { return sub.address() == msg.source; });
    for (const auto& [node, link] : st.links) {
      if (link.actor.address() == msg.source) {
        lose_node(self, std::string{node}, "its link closed");
        return;
      }
    }
  });
  return {
      // --- the links' protocol ---
      [self](node_hello& hello) -> caf::result<node_snapshot> {
        if (!link_node(self, hello.node, hello.actor, std::move(hello.cells)))
          return caf::make_error(caf::sec::invalid_argument, "node name refused: " + hello.node);
        return node_snapshot{self->state.table.self(), self->state.table.own_cells()};
      },
      [self](node_update& update) {
        auto& st = self->state;
        const auto found = st.links.find(update.node);
        // Only a node speaks for its own cells.
        if (found == st.links.end() || found->second.actor.address() != self->current_sender())
          return;
        st.table.apply(update.node, update.event);
      },
      [self](node_call& call) -> caf::result<payload> {
        if (!self->state.registry)
          return resolve_error(errc::unknown_name, call.name);
        return self->delegate(self->state.registry, actors::call_atom_v, std::move(call.name),
                              std::move(call.data));
      },
      [self](node_cast& cast) -> caf::result<void> {
        // The registry answers the casting node: accepted, or why not (overloaded, ...).
        if (!self->state.registry)
          return resolve_error(errc::unknown_name, cast.name);
        return self->delegate(self->state.registry, actors::cast_atom_v, std::move(cast.name),
                              std::move(cast.data));
      },
      [self](heartbeat_atom, const std::string& from) {
        const auto found = self->state.links.find(from);
        return found != self->state.links.end() &&
               found->second.actor.address() == self->current_sender();
      },
      // --- this host's side ---
      [self](actors::call_atom, std::string& name, payload& data) -> caf::result<payload> {
        return route<payload, node_call>(self, actors::call_atom_v, name, std::move(data));
      },
      [self](actors::cast_atom, std::string& name, payload& data) -> caf::result<void> {
        return route<void, node_cast>(self, actors::cast_atom_v, name, std::move(data));
      },
      [self](cluster_atom) { return self->state.table.status(); },
      [self](caf::subscribe_atom, caf::actor& subscriber) {
        auto& subs = self->state.subscribers;
        if (subscriber && std::find(subs.begin(), subs.end(), subscriber) == subs.end()) {
          self->monitor(subscriber);
          subs.push_back(std::move(subscriber));
        }
        return caf::ok_atom_v;
      },
      [self](caf::join_atom, actors::registry_actor& registry) {
        auto& st = self->state;
        st.registry = std::move(registry);
        if (!st.ticking) {
          st.ticking = true;
          on_tick(self);
        }
      },
      [self](actors::lifecycle_event& event) {
        auto& st = self->state;
        st.table.apply(st.table.self(), event);
        ++st.own_version;
        const node_update update{st.table.self(), event};
        for (const auto& [node, link] : st.links)
          self->send(link.actor, update);
      },
      [self](caf::tick_atom) { on_tick(self); },
  };
}

} // namespace

node_actor spawn_node_actor(caf::actor_system& sys, cluster_options options,
                            std::shared_ptr<const remote::link_security> security) {
  return sys.spawn(node_behavior, std::move(options), std::move(security));
}

} // namespace cellhub::cluster::detail
