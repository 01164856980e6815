#pragma once

#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/messages.hpp"

#include <caf/fwd.hpp>

namespace cellhub::actors {

/// Spawns the host's doorbell watcher: the actor that turns a `transport::death_watch`
/// (doorbell wake-ups, doorbell hang-ups and pidfd exits) into messages for the actor
/// that registered each cell life. One per host; the only actor that blocks on fds.
///
/// Messages in:
/// - `watch_request`: watches one cell life, keyed by `(peer_id, incarnation)`. The
///   watcher takes over `doorbell_fd` and `pidfd` (duplicates; either may be -1) and
///   closes them when the registration ends. A second request with the same key
///   replaces the first (closing its fds).
/// - `unwatch_request`: ends a registration and closes its fds; the owner gets nothing
///   from it once this is processed (messages sent before may still be in its mailbox).
/// - any `caf::exit_msg` (e.g. `caf::anon_send_exit(w, caf::exit_reason::user_shutdown)`):
///   ends every registration, closes every fd and stops the watcher, which then
///   terminates with the exit message's reason.
///
/// Messages out, to the registration's owner with the watcher as sender: one
/// `doorbell_rang` per wake-up of the watcher in which the doorbell had data, and
/// `peer_dead` for each death notice of the death watch (see `transport::life_notice`:
/// the hang-up, which carries the exit when the process had exited by then, and the
/// pidfd's notice with the exit otherwise; a ring pending at the hang-up is sent first).
/// The notice with `last` set ends the registration: the watcher has closed the fds,
/// and stops monitoring an owner left without registrations, so the owner neither needs
/// to unwatch nor costs the watcher a wake-up when it ends. Other registrations end by
/// unwatch, or when their owner terminates.
///
/// Threading: the watcher runs detached, on a thread of its own, sleeping in the death
/// watch's `wait`, which each incoming message wakes, so it reacts to fds and messages
/// at once and never polls on a timer.
///
/// Lifetime: the watcher runs until it gets an exit message. Send it one before the
/// actor system is destroyed: the system's destructor waits for every actor, so a
/// watcher left running makes it wait forever.
[[nodiscard]] doorbell_watcher_actor spawn_doorbell_watcher(caf::actor_system& sys);

} // namespace cellhub::actors
