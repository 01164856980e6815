#pragma once

#include <caf/fwd.hpp>

namespace cellhub::actors {

/// Spawns the host's doorbell watcher: the one actor that blocks on file descriptors.
///
/// Spawn one per host. It turns doorbell readiness, doorbell hang-ups and pidfd exits
/// into messages for the actor that registered each cell life.
///
/// Messages in:
/// - `(watch_atom, watch_request)`: watches one cell life, keyed by
///   `(peer_id, incarnation)`. The watcher takes over `doorbell_fd` and `pidfd`
///   (duplicates; either may be -1) and closes them when the registration ends. A
///   second request with the same key replaces the first (closing its fds).
/// - `(unwatch_atom, uint16_t peer_id, uint32_t incarnation)`: ends a registration
///   and closes its fds; the owner gets nothing from it once this is processed
///   (messages sent before may still be in the owner's mailbox).
/// - any `caf::exit_msg` (e.g. `caf::anon_send_exit(w, caf::exit_reason::user_shutdown)`):
///   ends every registration, closes every fd and stops the watcher, which then
///   terminates with the exit message's reason.
///
/// Messages out, sent to the registration's owner with the watcher as sender:
/// - `(rang_atom, uint16_t peer_id, uint32_t incarnation)` once per wake-up of the
///   watcher in which the doorbell had data (many rings coalesce into one message).
/// - `peer_dead{peer_id, incarnation, cause = death_cause::hung_up}` when the
///   cell's end of the doorbell closed (a pending ring is reported first). When the
///   process has already exited by then (the usual case: files close an instant
///   before the exit), the notice carries the exit as below and no second notice
///   follows.
/// - `peer_dead{peer_id, incarnation, cause = death_cause::process_exited,
///   exited = true, signaled, status}` when the process exited and no notice told
///   it yet; `status` holds the exit code, or the signal when `signaled`. The
///   watcher peeks at the status with `WNOWAIT`, so the process owner must still
///   reap the child. `exited` is false if the status could not be read (the pidfd
///   is not a child of this process, or the child was reaped already).
/// Each kind of death notice is sent at most once per registration, and the exit at
/// most once. The notice after which nothing is left to watch (both fds reported,
/// or absent) has `last` set: the watcher has then closed the fds and forgotten the
/// registration, and stops monitoring an owner left without registrations, so the
/// owner neither needs to unwatch nor costs the watcher a wake-up when it ends.
/// Other registrations end by unwatch, or when their owner terminates.
///
/// Threading: the watcher runs detached, on a thread of its own, sleeping in
/// `epoll_wait` over every watched fd plus an eventfd that each incoming message
/// writes, so it reacts to fds and messages at once and never polls on a timer.
///
/// Lifetime: the watcher runs until it gets an exit message. Send it one before the
/// actor system is destroyed: the system's destructor waits for every actor, so a
/// watcher left running makes it wait forever.
[[nodiscard]] caf::actor spawn_doorbell_watcher(caf::actor_system& sys);

} // namespace cellhub::actors
