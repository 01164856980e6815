#pragma once

// The actor-layer benchmarks' harness: a supervision tree in its own actor system
// and a scoped actor that receives every lifecycle event as it is published.

#include "cellhub/actors/embedding.hpp"
#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/payload.hpp"

#include <caf/actor_addr.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Is one thing the session's scoped actor received, with the time it arrived.
struct sighting {
  /// Holds when the scoped actor got it.
  std::chrono::steady_clock::time_point at;
  /// Holds the lifecycle event, if it is one.
  std::optional<actors::lifecycle_event> event;
  /// Is set when a monitored actor went down.
  bool down = false;
  /// Names the actor that went down.
  caf::actor_addr down_source;
};

/// Counts how a run of pipelined casts by name was answered.
struct cast_tally {
  /// Counts the casts a life took (each one reaches the cell).
  std::uint64_t taken = 0;
  /// Counts the casts refused with `overloaded` (`max_pending` already waited),
  /// each sent again while the run lasts.
  std::uint64_t refused = 0;
};

/// Runs one supervision tree in an actor system of its own; every thread of that
/// system inherits the creating thread's CPU affinity.
class tree_session {
public:
  /// Starts the tree `root` over a hub at `hub_path` shaped by `hub` and subscribes
  /// to its events. `caf_settings` (`key=value`) are applied to the actor system's
  /// config after `actors::prepare_config`. Throws `bench_failure`.
  tree_session(std::string hub_path, actors::supervisor_spec root, transport::hub_config hub,
               const std::vector<std::string>& caf_settings = {});
  tree_session(const tree_session&) = delete;
  tree_session& operator=(const tree_session&) = delete;
  /// Stops the tree and the actor system.
  ~tree_session();

  /// Returns the tree.
  [[nodiscard]] const actors::supervision_tree& tree() const;

  /// Returns the scoped actor the events reach.
  [[nodiscard]] caf::scoped_actor& self();

  /// Hands everything received to `done` until it returns true (then true) or
  /// `deadline` passes (then false).
  bool watch(std::chrono::steady_clock::time_point deadline,
             const std::function<bool(const sighting&)>& done);

  /// Monitors `actor`: its end arrives as a `down` sighting.
  void monitor(const caf::actor& actor);

  /// Looks `name` up in the registry; throws `bench_failure`.
  actors::registry_entry lookup(const std::string& name);

  /// Lists the root's children; throws `bench_failure`.
  std::vector<actors::child_info> which();

  /// Resizes the root pool to `replicas`; throws `bench_failure`.
  void resize(std::uint64_t replicas);

  /// Calls `name` through the registry with `bytes` and waits for the answer, or
  /// the error (CAF's `request_timeout` after `timeout`).
  caf::expected<actors::payload> call(const std::string& name, const actors::payload& bytes,
                                      std::chrono::milliseconds timeout);

  /// Keeps `depth` calls by name to `name` with `bytes` in flight, sending the next
  /// as each answer arrives, until `stop`; then waits for those still in flight.
  /// Returns how many were answered; throws `bench_failure` on an error, an answer
  /// of another size, or none within `timeout`.
  std::uint64_t pipelined_calls(const std::string& name, const actors::payload& bytes,
                                std::size_t depth, std::chrono::steady_clock::time_point stop,
                                std::chrono::milliseconds timeout);

  /// Keeps `depth` casts by name to `name` with `bytes` unacknowledged (the registry
  /// acknowledges a cast once the cell's life took it), sending the next as each
  /// acknowledgement arrives, until `stop`; then waits for the rest. A cast refused
  /// with `overloaded` is counted and sent again, as a sender that must not lose it
  /// would. Throws `bench_failure` on another error or no acknowledgement within
  /// `timeout`.
  cast_tally pipelined_casts(const std::string& name, const actors::payload& bytes,
                             std::size_t depth, std::chrono::steady_clock::time_point stop,
                             std::chrono::milliseconds timeout);

  /// Renders `err` with the names the session's actor system knows.
  [[nodiscard]] std::string render(const caf::error& err) const;

  /// Stops the tree in order (done by the destructor otherwise).
  void stop();

private:
  struct parts;
  std::unique_ptr<parts> parts_;
};

} // namespace cellhub::bench
