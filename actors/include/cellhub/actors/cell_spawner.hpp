#pragma once

// The cell spawner: the thread on which a tree starts its cells' processes, so that
// a spawn (milliseconds in the kernel) never blocks a scheduler thread that other
// messages wait behind.

#include "cellhub/actors/interfaces.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/process.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace cellhub::actors {

/// Asks the cell spawner to start one cell. Local to one process: it carries the hub.
struct spawn_job {
  /// Hosts the cell's peer entry.
  std::shared_ptr<transport::hub_host> hub;
  /// Names the peer entry and sizes it.
  transport::add_peer_options entry;
  /// Says what to run.
  transport::spawn_options command;
  /// Receives the `spawn_done`.
  peer_actor reply_to;
};

/// Answers a `spawn_job`: the started cell's transport (which owns its process), or
/// why it could not be started. Dropping it undelivered kills the cell it carries.
struct spawn_done {
  /// Holds the started cell's transport, or nothing when the spawn failed.
  std::shared_ptr<transport::peer_transport> cell;
  /// Explains a failed spawn (the transport's error), empty after a success.
  std::string error;
};

/// Hands the spawner the remains of a life that ended (its transport: the region's
/// mapping, the fds, the peer entry), to be released on a spawning thread instead of
/// a scheduler thread: unmapping a region takes tens of microseconds that the peer
/// actor's end, and the supervisor waiting for it, need not wait for.
struct retired_life {
  /// Holds the ended life's transport (its process reaped).
  std::shared_ptr<transport::peer_transport> cell;
};

/// Spawns a tree's cell spawner: an actor that hands `spawn_job`s in turn to one
/// detached worker (a thread of its own) per core. Each worker takes its jobs in
/// arrival order, creates the peer entry and starts its process
/// (`hub_host::spawn_peer`), and sends the `spawn_done` to the job's `reply_to`. The
/// spawner ends on an exit message (the tree sends `user_shutdown` once its root is
/// down) and its linked workers with it; jobs still queued then are dropped, which
/// kills nothing: no cell was started for them. A `retired_life` goes to a worker
/// the same way, which lets it go.
[[nodiscard]] cell_spawner_actor spawn_cell_spawner(caf::actor_system& sys);

} // namespace cellhub::actors

// They hold a hub or a transport: they never leave the process, so they need no
// serialization.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cellhub::actors::spawn_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cellhub::actors::spawn_done)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(cellhub::actors::retired_life)
