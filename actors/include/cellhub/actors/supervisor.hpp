#pragma once

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/actors/doorbell_watcher.hpp"
#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/registry.hpp"
#include "cellhub/transport/fwd.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace cellhub::actors {

/// Holds what every supervisor of one tree shares.
struct tree_context {
  /// Hosts the cells.
  std::shared_ptr<transport::hub_host> hub;
  /// Watches every cell's doorbell and pidfd.
  doorbell_watcher_actor watcher;
  /// Starts the cells' processes, off the scheduler's threads.
  cell_spawner_actor spawner;
  /// Maps logical names to current lives.
  registry_actor registry;
  /// Receives one-way messages from cells (optional).
  caf::actor sink;
};

/// Spawns a supervisor for `spec` (which must validate) under `parent`, which it
/// reports to as child `child` (pass an invalid handle for a root supervisor).
/// `subscribers` receive every `lifecycle_event` from before the first child starts.
///
/// Protocol (`supervisor_actor`, declared in interfaces.hpp; OTP's supervisor API):
/// - `(which_atom)` → `std::vector<child_info>`, in start order;
/// - `(count_atom)` → `child_counts`;
/// - `(restart_atom, name)` → `ok`: starts a stopped or quarantined child;
/// - `(terminate_atom, name)` → `ok`: stops a child, keeping its spec;
/// - `(caf::delete_atom, name)` → `ok`: forgets a child that does not run;
/// - `(resize_atom, uint64_t replicas)` → `ok`: resizes a simple_one_for_one pool;
/// - `(caf::subscribe_atom, actor)` → `ok`: the actor receives every `lifecycle_event`
///   of this supervisor and of the supervisors below it, until it goes down (a second
///   subscription of the same actor changes nothing);
/// - `(shutdown_atom)` → `ok`: stops the children in reverse start order (a
///   simple_one_for_one pool: all at once), then exits with `exit_reason::user_shutdown`.
/// It exits with `errc::reached_max_restart_intensity` (context: the child and cause)
/// when it gives up, after stopping its children the same way. An exit message from
/// its parent stops it in order, except `exit_reason::kill`, which ends it at once
/// (and its children with it).
supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec,
                                  tree_context context, supervisor_actor parent = {},
                                  std::uint64_t child = 0,
                                  std::vector<caf::actor> subscribers = {});

} // namespace cellhub::actors
