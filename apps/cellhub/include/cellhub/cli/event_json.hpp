#pragma once

#include "cellhub/actors/lifecycle_event.hpp"

#include <nlohmann/json.hpp>

namespace cellhub::cli {

/// Turns a lifecycle event into the JSON object of the `--events` file (one per
/// line; docs/events.md describes every field).
nlohmann::json to_json(const actors::lifecycle_event& event);

} // namespace cellhub::cli
