// embedded_tree — cellhub inside an application's own CAF actor system.
//
// Declares two worker cells under one_for_one, starts the tree, calls a worker
// by name and then its life directly (the typed handle the registry names), kills
// it, checks how the death was reported (one typed life_end, no words to parse), and
// calls it by name again: the registry holds that call until the restarted life is
// ready. Prints every lifecycle event and, at the end, the tree's children.
//
//   embedded_tree --cell-binary PATH [--hub-path P]
// Exits 0 when both calls were answered, 1 otherwise.
#include <cellhub/actors/embedding.hpp>

#include <caf/all.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace ac = cellhub::actors;
using namespace std::chrono_literals;

namespace {

std::string option(int argc, char** argv, const std::string& name, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name)
      return argv[i + 1];
  return fallback;
}

// Describes the tree: in code, the same thing a TOML file describes for `cellhub run`.
ac::supervisor_spec make_tree(const std::string& cell_binary) {
  ac::cell_spec worker;
  worker.binary = cell_binary;
  worker.args = {"--mode=reverse"}; // the test cell answers with the bytes reversed
  worker.restart = ac::restart_type::permanent;
  worker.backoff = {.min_delay = 0ms, .max_delay = 1s, .jitter = 0.2, .reset_after = 30s};
  worker.during_restart = ac::restart_delivery::hold; // calls by name wait for the next life

  ac::supervisor_spec root;
  root.name = "root";
  root.strategy = ac::restart_strategy::one_for_one;
  root.max_restarts = 5;
  root.period = 10s;
  for (const char* name : {"worker-1", "worker-2"}) {
    worker.name = name;
    root.children.push_back(worker);
  }
  return root;
}

// Calls `name` with a text and prints the answer.
bool call(caf::scoped_actor& self, const ac::supervision_tree& tree, const std::string& name) {
  const std::string text = "a request for " + name + ", long enough to travel in a slot";
  bool ok = false;
  self->request(tree.registry(), 10s, ac::call_atom_v, name, ac::payload::from_string(text))
      .receive(
          [&](const ac::payload& reply) {
            std::printf("reply from %s: \"%.*s\" (zero-copy: %s)\n", name.c_str(),
                        static_cast<int>(reply.size()), reply.as_string().data(),
                        reply.zero_copy() ? "yes" : "no");
            ok = std::string{reply.as_string()} == std::string{text.rbegin(), text.rend()};
          },
          [&](const caf::error& err) {
            std::printf("call to %s failed: %s\n", name.c_str(),
                        self->system().render(err).c_str());
          });
  return ok;
}

// Calls `name` from this thread through a cell channel: the bytes go through the
// cell's rings and back without the registry or the peer actor (see cell_channel.hpp).
bool call_through_channel(const ac::supervision_tree& tree, const std::string& name) {
  auto channel = tree.channel(name);
  const std::string text = "a request through a channel";
  auto reply = channel.call(ac::payload::from_string(text), 10s);
  if (!reply) {
    std::printf("channel call to %s failed\n", name.c_str());
    return false;
  }
  std::printf("reply through a channel from %s: \"%.*s\" (through its lane: %s)\n", name.c_str(),
              static_cast<int>(reply->size()), reply->as_string().data(),
              channel.stats().direct == 1 ? "yes" : "no");
  return std::string{reply->as_string()} == std::string{text.rbegin(), text.rend()} &&
         channel.stats().direct == 1;
}

// Prints lifecycle events until `name` reports `kind` (or nothing comes for 30 s);
// returns that event.
std::optional<ac::lifecycle_event> print_events_until(caf::scoped_actor& self, ac::event_kind kind,
                                                      const std::string& name) {
  for (;;) {
    std::optional<ac::lifecycle_event> seen;
    bool timed_out = false;
    self->receive(
        [&](const ac::lifecycle_event& e) {
          std::printf("event %-10s %-9s peer_id=%d incarnation=%u pid=%d %s\n",
                      std::string{ac::to_string(e.kind)}.c_str(), e.name.c_str(), e.peer_id,
                      e.incarnation, e.pid, e.end ? ac::describe(*e.end).c_str() : "");
          if (e.kind == kind && e.name == name)
            seen = e;
        },
        caf::after(30s) >> [&] { timed_out = true; });
    if (seen || timed_out)
      return seen;
  }
}

// Calls one life directly through its typed handle, bypassing the registry: what a
// caller does when it wants exactly this life (the call fails once the life is gone).
bool call_life(caf::scoped_actor& self, const ac::peer_actor& life) {
  bool ok = false;
  self->request(life, 10s, ac::call_atom_v, ac::payload::from_string("abc"))
      .receive([&](const ac::payload& reply) { ok = reply.as_string() == "cba"; },
               [](const caf::error&) {});
  return ok;
}

// Prints the root's children: typed states and the typed end of their last lives.
void print_children(caf::scoped_actor& self, const ac::supervision_tree& tree) {
  self->request(tree.root(), 10s, ac::which_atom_v)
      .receive(
          [](const std::vector<ac::child_info>& children) {
            for (const auto& child : children)
              std::printf("child %-9s %-10s restarts=%u last end: %s\n", child.name.c_str(),
                          std::string{ac::to_string(child.state)}.c_str(), child.restarts,
                          child.last_end ? ac::describe(*child.last_end).c_str() : "none");
          },
          [](const caf::error&) {});
}

} // namespace

int main(int argc, char** argv) {
  const auto cell_binary = option(argc, argv, "cell-binary", "");
  if (cell_binary.empty()) {
    std::fprintf(stderr, "usage: embedded_tree --cell-binary PATH [--hub-path P]\n");
    return 2;
  }
  const auto hub_path =
      option(argc, argv, "hub-path", "/dev/shm/cellhub-embedded-" + std::to_string(::getpid()));

  caf::actor_system_config cfg;
  ac::prepare_config(cfg); // cellhub's message types, error names, scheduler size
  caf::actor_system sys{cfg};

  auto tree = ac::supervision_tree::start(sys, hub_path, make_tree(cell_binary));
  if (!tree) {
    std::fprintf(stderr, "cannot start: %s\n", sys.render(tree.error()).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  self->request(tree->root(), 10s, caf::subscribe_atom_v, caf::actor{self})
      .receive([](caf::ok_atom) {}, [](const caf::error&) {});
  // Names are known to the registry once their first life is ready.
  if (!print_events_until(self, ac::event_kind::ready, "worker-2"))
    return 1;

  bool ok = call(self, *tree, "worker-1");

  ac::registry_entry entry;
  self->request(tree->registry(), 10s, ac::lookup_atom_v, std::string{"worker-1"})
      .receive([&](ac::registry_entry& e) { entry = std::move(e); }, [](const caf::error&) {});
  if (entry.pid <= 0)
    return 1;
  ok = call_life(self, entry.actor) && ok;
  std::printf("killing worker-1 (pid %d)\n", entry.pid);
  ::kill(entry.pid, SIGKILL);

  // Once the death is known, calls by name wait for the next life.
  const auto died = print_events_until(self, ac::event_kind::died, "worker-1");
  ok = died && died->end && died->end->how == ac::ending::killed && died->end->status &&
       died->end->status->signal == SIGKILL && ok;
  ok = call(self, *tree, "worker-1") && ok;
  ok = print_events_until(self, ac::event_kind::remapped, "worker-1").has_value() && ok;
  // The old life's handle now fails: the name, not the handle, follows restarts.
  ok = !call_life(self, entry.actor) && ok;
  ok = call_through_channel(*tree, "worker-2") && ok;
  print_children(self, *tree);
  tree->stop();
  return ok ? 0 : 1;
}
