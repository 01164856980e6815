#pragma once

// The one header an application includes to run cells under supervision in its
// own actor system: declare child specs and a strategy, start the tree, talk to
// cells by name. docs/embedding.md walks through it.

#include "cellhub/actors/cell_channel.hpp"
#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/doorbell_watcher.hpp"
#include "cellhub/actors/error.hpp"
#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/registry.hpp"
#include "cellhub/actors/types.hpp"
#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/hub_config.hpp"

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace cellhub::actors {

/// Prepares an actor system config for cellhub: registers its message types and
/// error category, sizes the scheduler to the machine's cores (CAF's default of at
/// least four threads only adds wake-ups on a small machine) and picks CAF's
/// work-sharing scheduler: every enqueue can wake any idle worker, where work
/// stealing leaves a message to a worker napping 50 us at a time. Settings parsed
/// after this call override these (an application of compute-heavy actors may
/// prefer `scheduler.policy=stealing`).
void prepare_config(caf::actor_system_config& cfg);

/// Chooses how a tree runs.
struct tree_options {
  /// Sizes the hub.
  transport::hub_config hub;
  /// Receives a `cell_message` for each of the cells' one-way messages.
  caf::actor sink;
  /// Receive every `lifecycle_event` of the tree from its very first `started` on: the
  /// root subscribes them before it starts its first child.
  std::vector<caf::actor> subscribers;
};

/// Runs one supervision tree over one hub inside an application's actor system:
/// the hub file, the doorbell watcher, the cell spawner (the thread that starts the
/// cells' processes), the name registry and the root supervisor.
/// Destroying it stops the tree in order (children in reverse start order).
class supervision_tree {
public:
  /// Creates the hub at `hub_path` and starts the tree described by `root`. Fails with
  /// `invalid_spec` for a spec that does not validate, with `fd_limit` (the text of
  /// `fd_budget::describe()`) when the tree's cells cannot fit the fd limit even after
  /// raising it, and with `transport_failure` when the hub cannot be created.
  static caf::expected<supervision_tree> start(caf::actor_system& sys, std::string hub_path,
                                               supervisor_spec root, tree_options options = {});

  supervision_tree(supervision_tree&& other) noexcept;
  supervision_tree& operator=(supervision_tree&& other) noexcept;
  supervision_tree(const supervision_tree&) = delete;
  supervision_tree& operator=(const supervision_tree&) = delete;
  /// Stops the tree if it still runs.
  ~supervision_tree();

  /// Returns the root supervisor (OTP's API: which_atom, restart_atom, ...).
  [[nodiscard]] const supervisor_actor& root() const noexcept { return root_; }
  /// Returns the registry: `(call_atom, name, payload)`, `(cast_atom, name, payload)`,
  /// `(lookup_atom, name)`, `(caf::subscribe_atom, actor)` for `remapped`.
  [[nodiscard]] const registry_actor& registry() const noexcept { return registry_; }
  /// Returns a channel that calls the cell named `name` from a thread of the
  /// application's own, the bytes passing the actors by (see cell_channel.hpp).
  [[nodiscard]] cell_channel channel(std::string name, channel_options options = {}) const;
  /// Returns the hub.
  [[nodiscard]] const std::shared_ptr<transport::hub_host>& hub() const noexcept { return hub_; }

  /// Asks the root to stop the tree in order (children in reverse start order, a pool's
  /// replicas all at once) and returns at once; watch the root (monitor it) to learn
  /// when it is done. Does nothing once the tree is stopped or killed.
  void request_stop();

  /// Ends the tree at once and returns at once: every supervisor exits with
  /// `exit_reason::kill`, and every cell is SIGKILLed as its peer actor goes, without
  /// goodbye or SIGTERM. Works while an orderly stop is under way (a second Ctrl-C).
  void kill();

  /// Stops the tree in order and waits up to `timeout` for it, then kills what is left;
  /// ends the registry and the doorbell watcher, and returns the root's exit reason:
  /// `user_shutdown` after a clean stop, `kill` when it had to be killed, or why it
  /// gave up earlier. Later calls return the same reason at once.
  caf::error stop(std::chrono::milliseconds timeout = std::chrono::seconds{30});

private:
  supervision_tree() = default;
  caf::actor_system* sys_ = nullptr;
  std::shared_ptr<transport::hub_host> hub_;
  doorbell_watcher_actor watcher_;
  cell_spawner_actor spawner_;
  registry_actor registry_;
  supervisor_actor root_;
  bool stop_requested_ = false;
  bool killed_ = false;
  bool finished_ = false;
  caf::error reason_;
};

} // namespace cellhub::actors
