#pragma once

// The actor-layer benchmarks' harness: a supervision tree in its own actor system
// and a scoped actor that receives every lifecycle event as it is published, with
// the registry's and the root's requests the benchmarks make.

#include "cellhub/bench/actor_session.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/actors/lifecycle_event.hpp"
#include "cellhub/actors/messages.hpp"
#include "cellhub/actors/payload.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Counts how a run of pipelined casts by name was answered.
struct cast_tally {
  /// Counts the casts a life took (each one reaches the cell).
  std::uint64_t taken = 0;
  /// Counts the casts refused with `overloaded` (`max_pending` already waited),
  /// each sent again while the run lasts.
  std::uint64_t refused = 0;
};

/// Runs one supervision tree in an actor system of its own and receives its events.
class tree_session : public actor_session {
public:
  /// Starts the tree `root` over a hub at `hub_path` shaped by `hub` and subscribes
  /// to its events. `caf_settings` (`key=value`) are applied to the actor system's
  /// config after `actors::prepare_config`. Throws `bench_failure`.
  tree_session(std::string hub_path, actors::supervisor_spec root, transport::hub_config hub,
               const std::vector<std::string>& caf_settings = {});
  /// Monitors `actor`: its end arrives as a `down` sighting.
  void monitor(const caf::actor& actor);

  /// Looks `name` up in the registry; throws `bench_failure`.
  actors::registry_entry lookup(const std::string& name);

  /// Lists the root's children; throws `bench_failure`.
  std::vector<actors::child_info> which();

  /// Resizes the root pool to `replicas`; throws `bench_failure`.
  void resize(std::uint64_t replicas);

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

  /// Stops the tree in order (done by the destructor otherwise).
  void stop();
};

} // namespace cellhub::bench
