#include "cellhub/actors/life_end.hpp"

#include <fmt/format.h>

#include <csignal>

namespace cellhub::actors {
namespace {

// Says how a stop went: nothing when the cell exited cleanly, whether the
// escalation had to end it, else how the process ended.
std::string stop_detail(const life_end& end) {
  if (!end.status || end.status->clean())
    return {};
  const auto& status = *end.status;
  if (status.signaled && status.signal == SIGKILL && end.last_step == transport::stop_step::sigkill)
    return fmt::format("killed (signal {}) after ignoring goodbye and SIGTERM", SIGKILL);
  if (status.signaled && status.signal == SIGTERM && end.last_step == transport::stop_step::sigterm)
    return fmt::format("ended by SIGTERM (signal {}) after ignoring goodbye", SIGTERM);
  return status.describe();
}

std::string status_text(const life_end& end) {
  return end.status ? end.status->describe() : std::string{};
}

std::string detail(const life_end& end) {
  switch (end.how) {
  case ending::goodbye:
  case ending::gave_up:
    return {};
  case ending::stopped:
    return stop_detail(end);
  case ending::killed:
    // The host's SIGKILL for a cell whose doorbell hung up while its process ran on.
    if (end.last_step == transport::stop_step::sigkill && end.status &&
        end.status->signal == SIGKILL)
      return fmt::format("{}, sent by the host after the cell's doorbell hung up while it ran on",
                         status_text(end));
    return status_text(end);
  case ending::exited:
  case ending::protocol_violation:
    return status_text(end);
  case ending::exec_failed:
    return end.spawn_error;
  case ending::no_ready:
    if (end.timeout_ms > 0)
      return fmt::format("no READY within {} ms", end.timeout_ms);
    return end.status ? fmt::format("ended before READY; {}", status_text(end))
                      : std::string{"ended before READY"};
  case ending::hung:
    return fmt::format("no progress for {} ms with work waiting", end.timeout_ms);
  case ending::lingered:
    return fmt::format("said goodbye but was still running {} ms later; {}", end.timeout_ms,
                       end.status ? status_text(end) : std::string{"exit not seen"});
  }
  return {};
}

} // namespace

std::string_view to_string(ending how) noexcept {
  switch (how) {
  case ending::goodbye:
    return "goodbye";
  case ending::stopped:
    return "stopped";
  case ending::exited:
    return "exited";
  case ending::killed:
    return "killed";
  case ending::exec_failed:
    return "exec_failed";
  case ending::no_ready:
    return "no_ready";
  case ending::hung:
    return "hung";
  case ending::protocol_violation:
    return "protocol_violation";
  case ending::lingered:
    return "lingered";
  case ending::gave_up:
    return "gave_up";
  }
  return "unknown";
}

bool is_clean(ending how) noexcept {
  return how == ending::goodbye || how == ending::stopped;
}

std::string describe(const life_end& end) {
  auto text = std::string{to_string(end.how)};
  if (auto more = detail(end); !more.empty())
    text += ": " + more;
  return text;
}

} // namespace cellhub::actors
