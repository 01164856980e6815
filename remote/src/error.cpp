#include "cellhub/remote/error.hpp"

#include <cstring>
#include <ostream>

namespace cellhub::remote {

std::string_view to_string(errc code) noexcept {
  switch (code) {
  case errc::io_error:
    return "io_error";
  case errc::unsafe_permissions:
    return "unsafe_permissions";
  case errc::missing_credentials:
    return "missing_credentials";
  case errc::invalid_credentials:
    return "invalid_credentials";
  case errc::crypto_failure:
    return "crypto_failure";
  case errc::insecure_address:
    return "insecure_address";
  case errc::listen_failed:
    return "listen_failed";
  case errc::connect_failed:
    return "connect_failed";
  case errc::timeout:
    return "timeout";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& out, errc code) {
  return out << to_string(code);
}

std::string error::message() const {
  std::string text = detail.empty() ? std::string{to_string(code)} : detail;
  if (sys_errno != 0) {
    text += " (";
    text += std::strerror(sys_errno);
    text += ')';
  }
  return text;
}

error make_error(errc code, std::string detail) {
  return error{code, std::move(detail), 0};
}

error make_sys_error(std::string what, int err) {
  return error{errc::io_error, std::move(what), err};
}

} // namespace cellhub::remote
