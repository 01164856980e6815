#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cellhub::cli {

/// Bounds `--chaos`: more kills per second than this would only measure how fast the
/// host can spawn, and the timer behind it would keep the host busy.
inline constexpr double max_chaos_rate = 1000;

/// Bounds the time between two chaos kills: a rate so small that its period would not
/// fit a clock (1e-300 per second) waits this long, a century, which is never in practice.
inline constexpr std::chrono::nanoseconds max_chaos_period =
    std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::hours{24 * 365 * 100});

/// Reads `--chaos RATE`: a plain decimal number within [0, max_chaos_rate] (0: no chaos).
/// Returns it, or nothing with `problem` saying why the text is refused (not a number,
/// not finite, negative, too large).
std::optional<double> parse_chaos_rate(std::string_view text, std::string& problem);

/// Returns the time between two chaos kills at `rate` kills per second (`rate` > 0),
/// saturated at `max_chaos_period` and at least one nanosecond.
std::chrono::nanoseconds chaos_period(double rate) noexcept;

} // namespace cellhub::cli
