#include "cellhub/cli/chaos_rate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace cellhub::cli {

std::optional<double> parse_chaos_rate(std::string_view text, std::string& problem) {
  double rate = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, ec] = std::from_chars(text.data(), end, rate, std::chars_format::general);
  if (text.empty() || ec != std::errc{} || stop != end) {
    problem = fmt::format("'{}' is not a number of kills per second (e.g. 0.5)", text);
    return std::nullopt;
  }
  // Negated range tests, so that NaN fails them too.
  if (!std::isfinite(rate)) {
    problem = fmt::format("'{}' is not a finite number", text);
    return std::nullopt;
  }
  if (!(rate >= 0)) {
    problem = fmt::format("'{}' is negative; give 0 or more kills per second", text);
    return std::nullopt;
  }
  if (!(rate <= max_chaos_rate)) {
    problem = fmt::format("'{}' is more than {} kills per second", text, max_chaos_rate);
    return std::nullopt;
  }
  return rate;
}

std::chrono::nanoseconds chaos_period(double rate) noexcept {
  // Compared in double seconds before any conversion: 1 / 1e-300 does not fit a
  // nanosecond count, and converting it would be undefined (in practice a negative
  // period: a kill on every tick).
  const double seconds = 1.0 / rate;
  const double ceiling = std::chrono::duration<double>(max_chaos_period).count();
  if (!(seconds < ceiling))
    return max_chaos_period;
  const auto period =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
  return std::max(period, std::chrono::nanoseconds{1});
}

} // namespace cellhub::cli
