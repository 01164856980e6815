#pragma once

#include <string>
#include <string_view>

namespace cellhub::transport {

/// Returns `text` in double quotes, escaped so that it can never forge a log line
/// or end the quotes early: `"` and `\` become `\"` and `\\`; newline, carriage
/// return and tab become `\n`, `\r` and `\t`; every other byte below 0x20, 0x7f,
/// every byte >= 0x80 that is not part of a well-formed UTF-8 sequence, and the
/// bytes of the C1 controls (U+0080..U+009F) and the Unicode line and paragraph
/// separators (U+2028, U+2029), which some viewers break lines at, become `\xNN`.
/// Well-formed UTF-8 otherwise passes through unchanged.
std::string quoted(std::string_view text);

/// Returns `quoted(std::string_view{text})`. The overloads for strings exist so
/// that an unqualified `quoted(name)` picks this function over `std::quoted`,
/// which argument-dependent lookup finds too, and so that a literal is not ambiguous.
inline std::string quoted(const std::string& text) {
  return quoted(std::string_view{text});
}

/// Returns `quoted(std::string_view{text})` (see the `const std::string&` overload).
inline std::string quoted(std::string& text) {
  return quoted(std::string_view{text});
}

/// Returns `quoted(std::string_view{text})`; `text` must be NUL-terminated.
inline std::string quoted(const char* text) {
  return quoted(std::string_view{text});
}

} // namespace cellhub::transport
