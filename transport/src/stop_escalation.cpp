#include "cellhub/transport/stop_escalation.hpp"

#include "cellhub/transport/peer_transport.hpp"

#include <csignal>

namespace cellhub::transport {

std::string_view describe(stop_step step) noexcept {
  switch (step) {
  case stop_step::goodbye:
    return "goodbye";
  case stop_step::sigterm:
    return "SIGTERM";
  case stop_step::sigkill:
    return "SIGKILL";
  }
  return "unknown step";
}

stop_step stop_escalation::begin(time_point now) noexcept {
  begin_after(stop_step::goodbye, now);
  return stop_step::goodbye;
}

void stop_escalation::begin_after(stop_step taken, time_point now) noexcept {
  reached_ = taken;
  if (taken == stop_step::sigkill)
    next_at_.reset();
  else
    next_at_ = now + grace_;
}

std::optional<stop_step> stop_escalation::due(time_point now) noexcept {
  if (!next_at_ || now < *next_at_)
    return std::nullopt;
  const auto step = *reached_ == stop_step::goodbye ? stop_step::sigterm : stop_step::sigkill;
  begin_after(step, now);
  return step;
}

std::optional<stop_escalation::time_point> stop_escalation::next_at() const noexcept {
  return next_at_;
}

result<void> take_step(peer_transport& cell, stop_step step) {
  if (step == stop_step::goodbye)
    return cell.request_goodbye();
  auto* child = cell.child();
  if (child == nullptr)
    return success();
  // An exited process, reaped or not, has nothing to signal: send_signal succeeds.
  return child->send_signal(step == stop_step::sigterm ? SIGTERM : SIGKILL);
}

} // namespace cellhub::transport
