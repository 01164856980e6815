#include "cellhub/transport/quoted.hpp"

#include <cstddef>
#include <cstdint>

namespace cellhub::transport {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_hex(std::string& out, unsigned char byte) {
  out += "\\x";
  out += hex_digits[byte >> 4];
  out += hex_digits[byte & 0x0f];
}

bool continuation(unsigned char byte) noexcept {
  return (byte & 0xc0) == 0x80;
}

// Returns the length of the well-formed UTF-8 sequence (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF) starting at `at`, or 0.
std::size_t utf8_length(std::string_view text, std::size_t at) noexcept {
  const auto lead = static_cast<unsigned char>(text[at]);
  std::size_t length = 0;
  std::uint32_t code = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    code = lead & 0x1fu;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    code = lead & 0x0fu;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    code = lead & 0x07u;
  } else {
    return 0;
  }
  if (text.size() - at < length)
    return 0;
  for (std::size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[at + i]);
    if (!continuation(next))
      return 0;
    code = (code << 6) | (next & 0x3fu);
  }
  const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
  const bool surrogate = code >= 0xd800 && code <= 0xdfff;
  if (overlong || surrogate || code > 0x10ffff)
    return 0;
  // C1 controls and the line/paragraph separators are well-formed but break lines
  // in some viewers: they are escaped like the ASCII controls.
  if ((code >= 0x80 && code <= 0x9f) || code == 0x2028 || code == 0x2029)
    return 0;
  return length;
}

} // namespace

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (std::size_t at = 0; at < text.size();) {
    const auto byte = static_cast<unsigned char>(text[at]);
    if (byte >= 0x80) {
      if (const auto length = utf8_length(text, at); length > 0) {
        out.append(text.substr(at, length));
        at += length;
        continue;
      }
      // A rejected lead byte is escaped alone; the continuation bytes after it are
      // not valid leads, so they are escaped one by one too.
      append_hex(out, byte);
      ++at;
      continue;
    }
    switch (byte) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (byte < 0x20 || byte == 0x7f)
        append_hex(out, byte);
      else
        out += static_cast<char>(byte);
    }
    ++at;
  }
  out += '"';
  return out;
}

} // namespace cellhub::transport
