#pragma once

// A cell channel: calls one cell by its logical name from a thread of the
// application's own, taking the bytes straight through the life's lane (see
// cell_lane.hpp) instead of the registry's and the peer actor's mailboxes. It
// resolves the name once, and again once that life has ended (a restart, a death),
// so a call by name through it reaches whichever life is current.

#include "cellhub/actors/fwd.hpp"
#include "cellhub/actors/interfaces.hpp"
#include "cellhub/actors/payload.hpp"

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/optional.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace cellhub::actors {

/// Chooses how a channel waits for an answer.
struct channel_options {
  /// Bounds the spin for an answer before the caller sleeps; it spins only while the
  /// cell runs on another CPU. Zero never spins.
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
};

/// Counts which way a channel's calls went.
struct channel_stats {
  /// Counts calls and casts that went through the lane.
  std::uint64_t direct = 0;
  /// Counts calls and casts that went through the registry: the name had no lane then
  /// (restarting, unknown, or on another host), or its life ended before the request
  /// went out.
  std::uint64_t through_registry = 0;
  /// Counts the times the name was resolved to a life's lane.
  std::uint64_t resolves = 0;
};

/// A call sent through a `cell_channel` whose answer is not taken yet: keep many in
/// flight and take each answer with `cell_channel::await`. Dropping it unawaited
/// forgets the call (a late answer is dropped). Move-only.
class pending_call {
public:
  pending_call(pending_call&& other) noexcept;
  pending_call& operator=(pending_call&& other) noexcept;
  pending_call(const pending_call&) = delete;
  pending_call& operator=(const pending_call&) = delete;
  /// Forgets the call unless its answer was taken.
  ~pending_call();

private:
  friend class cell_channel;
  pending_call() = default;
  void forget() noexcept;

  // The lane the call went through, and its id there; no lane when the call went
  // through the registry, whose answer is then already in `answered`.
  std::shared_ptr<cell_lane> lane_;
  std::uint64_t id_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  caf::optional<caf::expected<payload>> answered_;
};

/// Calls one cell by its logical name, blocking the calling thread until the answer
/// (so never from inside an actor; an actor calls through the registry). Answers and
/// errors are those of `(call_atom, name, payload)` to the registry: `cell_died` for a
/// call in flight when its life ended, `restarting`, `hold_buffer_full` and
/// `unknown_name` as the registry rules, `overloaded`, `request_timeout`, `cell_error`.
///
/// One thread at a time: give each thread its own channel.
class cell_channel {
public:
  /// Creates a channel to `name` through `registry` of a tree in `sys`. Resolves
  /// nothing yet: the first call does.
  cell_channel(caf::actor_system& sys, registry_actor registry, std::string name,
               channel_options options = {});
  cell_channel(cell_channel&& other) noexcept;
  cell_channel& operator=(cell_channel&& other) noexcept;
  cell_channel(const cell_channel&) = delete;
  cell_channel& operator=(const cell_channel&) = delete;
  /// Lets go of the lane; calls in flight elsewhere are not affected.
  ~cell_channel();

  /// Calls the cell with `request` and waits up to `timeout` for its answer.
  caf::expected<payload> call(const payload& request,
                              std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Sends a call without waiting for its answer, so that many are in flight at once
  /// (up to `max_pending` per life); take the answer with `await`. Fails only as the
  /// sending of a call does (`overloaded` when no ring room came within `timeout`).
  /// While the name has no lane, the call goes through the registry and is answered
  /// before this returns.
  caf::expected<pending_call>
  send_call(const payload& request, std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Waits for the answer to `call` until the deadline its `send_call` set; answers
  /// may be awaited in any order.
  caf::expected<payload> await(pending_call call);

  /// Sends the cell the one-way message `request` and returns once the current life's
  /// ring took it, waiting up to `timeout` for room (`overloaded` if none came): a
  /// cast through a channel waits where one through the registry would queue. Casts
  /// through one channel reach one life in the order they were sent. While the name
  /// has no lane (restarting, unknown), the cast goes through the registry, which
  /// holds it or fails it as for any cast by name.
  caf::expected<void> cast(const payload& request,
                           std::chrono::milliseconds timeout = std::chrono::seconds{5});

  /// Returns the logical name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// Tells whether the channel holds the lane of a life that has not ended.
  [[nodiscard]] bool direct() const noexcept;
  /// Returns which way the calls went so far.
  [[nodiscard]] const channel_stats& stats() const noexcept { return stats_; }

private:
  using clock = std::chrono::steady_clock;
  // Resolves the name again unless the lane held is open.
  void refresh_lane(clock::time_point deadline);
  void resolve(clock::time_point deadline);
  caf::expected<payload> call_through_registry(const payload& request, clock::time_point deadline);

  std::unique_ptr<caf::scoped_actor> self_;
  registry_actor registry_;
  std::string name_;
  channel_options options_;
  std::shared_ptr<cell_lane> lane_;
  channel_stats stats_;
};

} // namespace cellhub::actors
