#include "cellhub/transport/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ostream>

namespace cellhub::transport {

namespace {

// Explains the routine outcomes that are reported without a detail, so that
// reporting them allocates nothing.
std::string_view implied_detail(errc code) noexcept {
  switch (code) {
  case errc::ring_full:
    return "the ring has no room for another descriptor";
  case errc::no_slot:
    return "every fitting slot is in flight";
  default:
    return {};
  }
}

} // namespace

std::string_view to_string(errc code) noexcept {
  switch (code) {
  case errc::io_error:
    return "io_error";
  case errc::hub_in_use:
    return "hub_in_use";
  case errc::bad_magic:
    return "bad_magic";
  case errc::version_mismatch:
    return "version_mismatch";
  case errc::bad_layout:
    return "bad_layout";
  case errc::invalid_config:
    return "invalid_config";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::no_free_peer:
    return "no_free_peer";
  case errc::unknown_peer:
    return "unknown_peer";
  case errc::stale_incarnation:
    return "stale_incarnation";
  case errc::bad_token:
    return "bad_token";
  case errc::not_reserved:
    return "not_reserved";
  case errc::peer_dead:
    return "peer_dead";
  case errc::closed:
    return "closed";
  case errc::ring_full:
    return "ring_full";
  case errc::no_slot:
    return "no_slot";
  case errc::payload_too_large:
    return "payload_too_large";
  case errc::protocol_violation:
    return "protocol_violation";
  case errc::timeout:
    return "timeout";
  case errc::spawn_failed:
    return "spawn_failed";
  case errc::bad_ticket:
    return "bad_ticket";
  case errc::path_occupied:
    return "path_occupied";
  case errc::no_space:
    return "no_space";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, errc code) {
  return out << to_string(code);
}

std::string error::message() const {
  std::string text{to_string(code)};
  const std::string_view shown = detail.empty() ? implied_detail(code) : std::string_view{detail};
  if (!shown.empty())
    text += fmt::format(": {}", shown);
  if (sys_errno != 0)
    text += fmt::format(" ({})", std::strerror(sys_errno));
  return text;
}

error make_error(errc code, std::string detail) {
  return error{code, std::move(detail), 0};
}

error make_sys_error(std::string what) {
  return make_sys_error(std::move(what), errno);
}

error make_sys_error(std::string what, int err) {
  return error{errc::io_error, std::move(what), err};
}

} // namespace cellhub::transport
