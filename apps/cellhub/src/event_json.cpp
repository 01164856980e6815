#include "cellhub/cli/event_json.hpp"

#include <string>

namespace cellhub::cli {

nlohmann::json to_json(const actors::lifecycle_event& event) {
  nlohmann::json out = {
      {"ts_ns", event.ts_ns},
      {"event", std::string{actors::to_string(event.kind)}},
      {"name", event.name},
      {"supervisor", event.supervisor},
      {"peer_id", event.peer_id},
      {"incarnation", event.incarnation},
      {"pid", event.pid},
      {"cause", event.cause},
      {"exit_code", event.exit_code},
      {"signal", event.signal},
  };
  if (event.kind == actors::event_kind::remapped)
    out["old_peer_id"] = event.old_peer_id;
  if (event.kind == actors::event_kind::restarting)
    out["delay_ms"] = event.delay_ms;
  return out;
}

} // namespace cellhub::cli
