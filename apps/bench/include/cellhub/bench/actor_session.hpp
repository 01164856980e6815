#pragma once

// What the actor-layer and cluster harnesses (tree_session, node_session) share: an
// actor system of their own, a scoped actor that receives lifecycle events, and one
// supervision tree in that system, called by name through its registry.

#include "cellhub/bench/sighting.hpp"

#include "cellhub/actors/embedding.hpp"
#include "cellhub/actors/payload.hpp"

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cellhub::bench {

/// Runs an actor system and one supervision tree in it; every thread of that system
/// inherits the creating thread's CPU affinity. The base of the benchmarks' sessions,
/// each of which starts the tree and subscribes to events its own way.
class actor_session {
public:
  actor_session(const actor_session&) = delete;
  actor_session& operator=(const actor_session&) = delete;

  /// Returns the tree (once started).
  [[nodiscard]] const actors::supervision_tree& tree() const;

  /// Returns the scoped actor the events reach.
  [[nodiscard]] caf::scoped_actor& self();

  /// Hands everything received (lifecycle events, the ends of monitored actors) to
  /// `done` until it returns true (then true) or `deadline` passes (then false).
  bool watch(std::chrono::steady_clock::time_point deadline,
             const std::function<bool(const sighting&)>& done);

  /// Calls `name`, a cell of this tree, through its registry with `bytes` and waits
  /// for the answer, or the error (CAF's `request_timeout` after `timeout`).
  caf::expected<actors::payload> call(const std::string& name, const actors::payload& bytes,
                                      std::chrono::milliseconds timeout);

  /// Renders `err` with the names the session's actor system knows.
  [[nodiscard]] std::string render(const caf::error& err) const;

protected:
  /// Creates the actor system: `actors::prepare_config`, then `configure` (for more
  /// of the application's own), then `caf_settings` (`key=value`, see caf_settings.hpp).
  /// Throws `bench_failure`.
  explicit actor_session(const std::vector<std::string>& caf_settings,
                         const std::function<void(caf::actor_system_config&)>& configure = {});
  /// Stops the tree if it still runs, then the actor system.
  ~actor_session();

  /// Returns the actor system.
  [[nodiscard]] caf::actor_system& system();

  /// Starts the tree `root` over a hub at `hub_path` with `options`; throws
  /// `bench_failure` saying which tree (`what`) did not start.
  void start_tree(std::string hub_path, actors::supervisor_spec root, actors::tree_options options,
                  const std::string& what);

  /// Subscribes the scoped actor to `source`'s events (`caf::subscribe_atom`); throws
  /// `bench_failure` saying whose (`what`) on an error or no answer within 10 s.
  void subscribe_to(const caf::actor& source, const std::string& what);

  /// Calls `name` with `bytes` through `target` (the registry, or an actor that
  /// speaks its `call_atom`) and waits for the answer or the error, as `call`.
  caf::expected<actors::payload> call_through(const caf::actor& target, const std::string& name,
                                              const actors::payload& bytes,
                                              std::chrono::milliseconds timeout);

  /// Stops the tree in order, if it runs (waiting up to 60 s).
  void stop_tree();

private:
  struct parts;
  std::unique_ptr<parts> parts_;
};

} // namespace cellhub::bench
