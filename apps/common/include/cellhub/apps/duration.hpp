#pragma once

// Durations as people write them in configuration files and flags: "250ms",
// "5s", "1.5s", "2m", "1h", "10us", "500ns". A number needs a unit.

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cellhub::apps {

/// Parses `text` ("250ms", "1.5s", ...); nothing for an empty, negative,
/// unit-less, unknown-unit or out-of-range text.
inline std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  std::size_t unit_at = 0;
  while (unit_at < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    ++unit_at;
  if (unit_at == 0 || unit_at == text.size())
    return std::nullopt;
  double value = 0;
  const auto number = text.substr(0, unit_at);
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc{} || end != number.data() + number.size() || !std::isfinite(value))
    return std::nullopt;
  const auto unit = text.substr(unit_at);
  double scale = 0;
  if (unit == "ns")
    scale = 1;
  else if (unit == "us")
    scale = 1e3;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "s")
    scale = 1e9;
  else if (unit == "m")
    scale = 60e9;
  else if (unit == "h")
    scale = 3600e9;
  else
    return std::nullopt;
  const double ns = value * scale;
  if (ns > 9.2e18)
    return std::nullopt;
  return std::chrono::nanoseconds{static_cast<std::int64_t>(std::llround(ns))};
}

/// Writes `d` the way `parse_duration` reads it, in the largest exact unit ("1500ms").
inline std::string format_duration(std::chrono::nanoseconds d) {
  const auto ns = d.count();
  struct unit {
    std::int64_t size;
    const char* name;
  };
  for (const unit u : {unit{3'600'000'000'000, "h"}, unit{60'000'000'000, "m"},
                       unit{1'000'000'000, "s"}, unit{1'000'000, "ms"}, unit{1'000, "us"}})
    if (ns != 0 && ns % u.size == 0)
      return std::to_string(ns / u.size) + u.name;
  return std::to_string(ns) + "ns";
}

} // namespace cellhub::apps
