#pragma once

// The actor that runs a soak against a tree: it subscribes before the tree starts
// (tree_options::subscribers), waits for every cell to be READY, then sends checked
// load by name and strikes cells at random for the run's duration, checking the
// invariants as it goes; then it stops the chaos, waits for every cell to be READY
// again and verifies each with a checked call, and quits.

#include "cellhub/actors/registry.hpp"
#include "cellhub/soak/soak_record.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace cellhub::soak {

/// Holds what the driver needs.
struct driver_config {
  /// Receives the measurements; the driver writes it until it quits, the caller reads
  /// it after (the driver's end, seen as a down message, orders the two).
  std::shared_ptr<soak_record> record;
  /// Bounds the wait for every cell's first READY.
  std::chrono::milliseconds startup_timeout{std::chrono::seconds{60}};
  /// Ends the loaded phase early once set (SIGINT, SIGTERM); may be null.
  const std::atomic<bool>* interrupt = nullptr;
};

/// Spawns the driver, which takes lifecycle events at once (pass it in the tree's
/// `tree_options::subscribers`) and starts the run once given the tree with
/// `attach_soak_driver`. It quits when the run is over (or could not be carried out,
/// with `record->runtime_error` set); the startup timeout counts from the spawn.
caf::actor spawn_soak_driver(caf::actor_system& sys, driver_config config);

/// Gives the driver the started tree's root supervisor (its end ends the run) and
/// registry (calls by name).
void attach_soak_driver(const caf::actor& driver, actors::supervisor_actor root,
                        actors::registry_actor registry);

} // namespace cellhub::soak
