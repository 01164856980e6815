#pragma once

#include "cellhub/actors/lifecycle_event.hpp"

#include <nlohmann/json.hpp>

namespace cellhub::cli {

/// Turns a lifecycle event into the JSON object of the `--events` file (one per
/// line; docs/events.md describes every field).
nlohmann::json to_json(const actors::lifecycle_event& event);

/// Adds the fields of a life's end to an event object: `ending`, `cause` (in words),
/// `exit_code`, `signal`, `core_dumped` and `uptime_ms`.
void add_end(nlohmann::json& out, const actors::life_end& end);

} // namespace cellhub::cli
