#include "cellhub/cli/console.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/cli/chaos_rate.hpp"
#include "cellhub/cli/cluster_view.hpp"
#include "cellhub/cli/console_types.hpp"
#include "cellhub/cli/event_json.hpp"
#include "cellhub/cluster/messages.hpp"
#include "cellhub/demo/demo_protocol.hpp"
#include "cellhub/demo/request_text.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <unordered_map>

namespace cellhub::cli {

namespace {

namespace ac = cellhub::actors;
using clock_type = std::chrono::steady_clock;

using caf::tick_atom;

// Ticks of the request load: frequent enough for smooth rates, cheap enough at idle.
constexpr std::chrono::milliseconds load_tick{10};

struct console_state {
  console_options options;
  ac::supervisor_actor root;
  ac::registry_actor registry;
  cluster::node_actor node;
  std::shared_ptr<run_signal> signal;
  cluster_view view;
  double load_credit = 0;
  std::size_t next_target = 0;
  std::uint64_t next_request = 1;
  std::mt19937_64 random{std::random_device{}()};
  // Remote restarts waiting for their cell's `stopped` event.
  std::unordered_map<std::string, std::pair<ac::supervisor_actor, caf::response_promise>> restarts;

  static inline const char* name = "cellhub.console";
};

using console_self = console_actor::stateful_base<console_state>;

std::vector<std::string> load_targets(const console_state& st) {
  if (!st.options.config.load.targets.empty())
    return st.options.config.load.targets;
  std::vector<std::string> names;
  for (const auto& row : st.view.rows())
    if (row.state == ac::child_state::running && row.pid > 0)
      names.push_back(row.name);
  return names;
}

void send_load(console_self* self) {
  auto& st = self->state;
  st.load_credit += st.options.config.load.rate * std::chrono::duration<double>(load_tick).count();
  const auto targets = load_targets(st);
  while (st.load_credit >= 1.0 && !targets.empty()) {
    st.load_credit -= 1.0;
    const auto& target = targets[st.next_target++ % targets.size()];
    auto request = ac::payload{
        demo::make_request_text(st.options.config.load.payload_bytes, st.next_request++)};
    self->request(st.registry, st.options.config.load.timeout, ac::call_atom_v, target, request)
        .then(
            [self, request](const ac::payload& reply) {
              // The demo cell answers with a checksum and a word count we can verify.
              self->state.view.count_request(
                  demo::is_demo_reply_to(request.bytes(), reply.bytes()));
            },
            [self](const caf::error&) { self->state.view.count_request(false); });
  }
  if (targets.empty())
    st.load_credit = 0;
}

void unleash_chaos(console_self* self) {
  auto& st = self->state;
  std::vector<cell_row> victims;
  for (const auto& row : st.view.rows())
    if (row.state == ac::child_state::running && row.pid > 0)
      victims.push_back(row);
  if (!victims.empty()) {
    const auto& victim = victims[st.random() % victims.size()];
    ::kill(victim.pid, SIGKILL);
  }
}

void show(console_self* self) {
  auto& st = self->state;
  const auto now = clock_type::now();
  if (st.options.terminal)
    std::fputs(("\x1b[H\x1b[2J" + st.view.render_table(now)).c_str(), stdout);
  else
    std::puts(st.view.render_line(now).c_str());
  std::fflush(stdout);
}

// Finds the supervisor that owns `name` anywhere below `supervisor`, then calls `found`.
void find_owner(console_self* self, ac::supervisor_actor supervisor, std::string name,
                std::function<void(ac::supervisor_actor, const ac::child_info&)> found,
                std::shared_ptr<int> outstanding, std::function<void()> not_found) {
  ++*outstanding;
  self->request(supervisor, std::chrono::seconds{5}, ac::which_atom_v)
      .then(
          [=](const std::vector<ac::child_info>& children) {
            --*outstanding;
            for (const auto& child : children)
              if (child.name == name && !child.supervisor)
                return found(supervisor, child);
            for (const auto& child : children)
              if (child.supervisor_handle)
                find_owner(self, child.supervisor_handle, name, found, outstanding, not_found);
            if (*outstanding == 0)
              not_found();
          },
          [=](const caf::error&) {
            if (--*outstanding == 0)
              not_found();
          });
}

// Writes one event to the events file; a failed write ends the run (exit 1): a record
// with holes is worse than none, and the operator asked for it.
void record(console_self* self, const ac::lifecycle_event& event) {
  auto& st = self->state;
  if (!st.options.events)
    return;
  if (auto problem = st.options.events->write_line(to_json(event).dump())) {
    st.signal->report_failure(std::move(*problem));
    st.options.events.reset();
  }
}

// Starts what needs the tree: the root's watch, the request load and the chaos.
void join(console_self* self, ac::supervisor_actor root, ac::registry_actor registry) {
  auto& st = self->state;
  if (st.root)
    return;
  st.root = std::move(root);
  st.registry = std::move(registry);
  self->monitor(st.root);
  if (st.options.config.load.rate > 0)
    self->delayed_send(self, load_tick, load_atom_v);
  if (st.options.chaos_rate > 0)
    self->delayed_send(self, chaos_period(st.options.chaos_rate), chaos_atom_v);
}

// Shows an event, writes it to the events file, and acts on what ends the run or
// finishes an operator's restart.
void on_event(console_self* self, const ac::lifecycle_event& event) {
  auto& s = self->state;
  s.view.apply(event, clock_type::now());
  record(self, event);
  // Only the root giving up ends the run; a group that gives up is restarted (or
  // not) by its own supervisor, which is the supervisors' business.
  if (event.kind == ac::event_kind::escalated && event.supervisor == s.options.config.root.name)
    s.signal->report_escalation(fmt::format("supervisor \"{}\" gave up because of child "
                                            "\"{}\": {}",
                                            event.supervisor, event.name,
                                            event.end ? ac::describe(*event.end) : std::string{}));
  if (event.kind != ac::event_kind::stopped)
    return;
  auto it = s.restarts.find(event.name);
  if (it == s.restarts.end())
    return;
  auto [owner, promise] = std::move(it->second);
  s.restarts.erase(it);
  self->request(owner, std::chrono::seconds{5}, ac::restart_atom_v, event.name)
      // Init-captures: clang 14 cannot capture a structured binding by name.
      .then([promise = promise](caf::ok_atom) mutable { promise.deliver(caf::ok_atom_v); },
            [promise = promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
}

// Restarts the child `name` wherever it is in the tree: a running one is stopped
// gracefully first and restarted once its `stopped` event comes (`on_event`).
caf::result<caf::ok_atom> restart_by_name(console_self* self, const std::string& name) {
  if (!self->state.root)
    return ac::make_error(ac::errc::unknown_child, name);
  auto promise = self->make_response_promise();
  auto outstanding = std::make_shared<int>(0);
  auto answered = std::make_shared<bool>(false);
  find_owner(
      self, self->state.root, name,
      [self, promise, answered, name](ac::supervisor_actor owner,
                                      const ac::child_info& child) mutable {
        *answered = true;
        if (child.state == ac::child_state::running || child.state == ac::child_state::starting) {
          self->state.restarts[name] = {owner, promise};
          // The restart completes when its `stopped` event comes (on_event).
          self->request(owner, std::chrono::seconds{5}, ac::terminate_atom_v, name)
              .then([](caf::ok_atom) {},
                    [self, name](caf::error& err) mutable {
                      auto it = self->state.restarts.find(name);
                      if (it == self->state.restarts.end())
                        return;
                      it->second.second.deliver(std::move(err));
                      self->state.restarts.erase(it);
                    });
          return;
        }
        self->request(owner, std::chrono::seconds{5}, ac::restart_atom_v, name)
            .then([promise](caf::ok_atom) mutable { promise.deliver(caf::ok_atom_v); },
                  [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
      },
      outstanding,
      [promise, answered, name]() mutable {
        if (!*answered)
          promise.deliver(ac::make_error(ac::errc::unknown_child, name));
      });
  return promise;
}

console_actor::behavior_type console(console_self* self, console_options options,
                                     std::shared_ptr<run_signal> signal) {
  auto& st = self->state;
  st.options = std::move(options);
  st.signal = std::move(signal);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& s = self->state;
    if (msg.source != s.root.address())
      return;
    s.signal->report_root_down(ac::is(msg.reason, ac::errc::reached_max_restart_intensity),
                               self->system().render(msg.reason));
  });
  self->delayed_send(self, st.options.refresh, caf::tick_atom_v);

  return {
      [self](caf::join_atom, ac::supervisor_actor root, ac::registry_actor registry) {
        join(self, std::move(root), std::move(registry));
      },
      [self](caf::join_atom, cluster::node_actor node) {
        self->state.node = std::move(node);
        self->request(self->state.node, std::chrono::seconds{5}, caf::subscribe_atom_v,
                      caf::actor_cast<caf::actor>(self))
            .then([](caf::ok_atom) {}, [](caf::error&) {});
      },
      [self](cluster::cluster_atom) -> caf::result<cluster::cluster_status> {
        if (!self->state.node)
          return cluster::cluster_status{};
        return self->delegate(self->state.node, cluster::cluster_atom_v);
      },
      [self](ac::call_atom, std::string& name, ac::payload& data) -> caf::result<ac::payload> {
        auto& s = self->state;
        if (s.node)
          return self->delegate(s.node, ac::call_atom_v, std::move(name), std::move(data));
        if (!s.registry)
          return ac::make_error(ac::errc::unknown_name, name);
        return self->delegate(s.registry, ac::call_atom_v, std::move(name), std::move(data));
      },
      [self](caf::update_atom, std::string note) { self->state.view.set_note(std::move(note)); },
      [self](const ac::lifecycle_event& event) { on_event(self, event); },
      [self](tick_atom) {
        show(self);
        self->delayed_send(self, self->state.options.refresh, caf::tick_atom_v);
      },
      [self](load_atom) {
        send_load(self);
        self->delayed_send(self, load_tick, load_atom_v);
      },
      [self](chaos_atom) {
        unleash_chaos(self);
        self->delayed_send(self, chaos_period(self->state.options.chaos_rate), chaos_atom_v);
      },
      [self](ac::which_atom) { return self->state.view.as_child_infos(clock_type::now()); },
      [self](ac::restart_atom, const std::string& name) { return restart_by_name(self, name); },
      [self](caf::get_atom) { return self->state.view.render_line(clock_type::now()); },
      [self](ac::stop_atom) {
        self->state.signal->request_stop();
        return caf::ok_atom_v;
      },
  };
}

} // namespace

console_actor spawn_console(caf::actor_system& sys, console_options options,
                            std::shared_ptr<run_signal> signal) {
  return sys.spawn(console, std::move(options), std::move(signal));
}

} // namespace cellhub::cli
