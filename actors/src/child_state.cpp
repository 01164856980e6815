#include "cellhub/actors/child_state.hpp"

namespace cellhub::actors {

std::string_view to_string(child_state state) noexcept {
  switch (state) {
  case child_state::idle:
    return "idle";
  case child_state::starting:
    return "starting";
  case child_state::running:
    return "running";
  case child_state::stopping:
    return "stopping";
  case child_state::restarting:
    return "restarting";
  case child_state::stopped:
    return "stopped";
  case child_state::quarantined:
    return "quarantined";
  }
  return "unknown";
}

} // namespace cellhub::actors
