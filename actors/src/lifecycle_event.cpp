#include "cellhub/actors/lifecycle_event.hpp"

#include <ctime>

namespace cellhub::actors {

std::string_view to_string(event_kind kind) noexcept {
  switch (kind) {
  case event_kind::started:
    return "started";
  case event_kind::ready:
    return "ready";
  case event_kind::died:
    return "died";
  case event_kind::restarting:
    return "restarting";
  case event_kind::remapped:
    return "remapped";
  case event_kind::quarantined:
    return "quarantined";
  case event_kind::escalated:
    return "escalated";
  case event_kind::stopped:
    return "stopped";
  case event_kind::removed:
    return "removed";
  case event_kind::node_down:
    return "node_down";
  case event_kind::node_up:
    return "node_up";
  }
  return "unknown";
}

std::int64_t event_clock_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

} // namespace cellhub::actors
