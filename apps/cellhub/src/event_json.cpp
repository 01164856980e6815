#include "cellhub/cli/event_json.hpp"

#include <string>

namespace cellhub::cli {

void add_end(nlohmann::json& out, const actors::life_end& end) {
  out["ending"] = std::string{actors::to_string(end.how)};
  out["cause"] = actors::describe(end);
  const auto& status = end.status;
  out["exit_code"] = status && !status->signaled ? status->code : -1;
  out["signal"] = status && status->signaled ? status->signal : 0;
  out["core_dumped"] = status && status->core_dumped;
  out["uptime_ms"] = end.uptime_ms;
}

nlohmann::json to_json(const actors::lifecycle_event& event) {
  nlohmann::json out = {
      {"ts_ns", event.ts_ns},     {"event", std::string{actors::to_string(event.kind)}},
      {"name", event.name},       {"supervisor", event.supervisor},
      {"peer_id", event.peer_id}, {"incarnation", event.incarnation},
      {"pid", event.pid},
  };
  if (event.end)
    add_end(out, *event.end);
  if (event.kind == actors::event_kind::remapped)
    out["old_peer_id"] = event.old_peer_id;
  if (event.kind == actors::event_kind::restarting)
    out["delay_ms"] = event.delay_ms;
  return out;
}

} // namespace cellhub::cli
