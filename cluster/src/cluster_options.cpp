#include "cellhub/cluster/cluster_options.hpp"

#include <fmt/format.h>

#include <charconv>

namespace cellhub::cluster {

std::string node_address::to_string() const {
  if (host.find(':') != std::string::npos)
    return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string check_node_name(const std::string& name) {
  if (name.empty())
    return "a node name must not be empty";
  if (name.size() > 64)
    return fmt::format("a node name has at most 64 characters, not {}", name.size());
  for (const char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!allowed) {
      // A control byte or a piece of a UTF-8 character would garble the message (a NUL
      // would cut it): show those as a number.
      const auto byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte >= 0x7f)
        return fmt::format(
            "a node name has only letters, digits, '_', '.' and '-', not the byte 0x{:02x}", byte);
      return fmt::format("a node name has only letters, digits, '_', '.' and '-', not '{}'", c);
    }
  }
  return {};
}

bool parse_node_address(const std::string& text, node_address& out) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    // Brackets hold an IPv6 address; to_string() would write anything else without them.
    if (host.find(':') == std::string::npos)
      return false;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  // The host goes to the resolver as a C string: no NUL, no control bytes, no spaces, and
  // no brackets outside the IPv6 form.
  for (const char c : host) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '[' || c == ']')
      return false;
  }
  unsigned value = 0;
  const auto* end = port.data() + port.size();
  const auto [ptr, ec] = std::from_chars(port.data(), end, value);
  if (host.empty() || port.empty() || ec != std::errc{} || ptr != end || value > 65535)
    return false;
  out = {std::move(host), static_cast<std::uint16_t>(value)};
  return true;
}

} // namespace cellhub::cluster
