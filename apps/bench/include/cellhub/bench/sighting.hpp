#pragma once

#include "cellhub/actors/lifecycle_event.hpp"

#include <caf/actor_addr.hpp>

#include <chrono>
#include <optional>

namespace cellhub::bench {

/// Is one thing a session's scoped actor received, with the time it arrived.
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

} // namespace cellhub::bench
