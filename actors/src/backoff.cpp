#include "cellhub/actors/backoff.hpp"

#include <limits>
#include <sstream>
#include <stdexcept>

namespace cellhub::actors {

namespace {

using rep = backoff::duration::rep;

// Renders `d` in the largest unit that divides it exactly, like the config file's strings,
// so a message shows "6s" rather than "6000000000ns".
std::string to_text(backoff::duration d) {
  using namespace std::chrono;
  const auto ns = duration_cast<nanoseconds>(d).count();
  if (ns != 0 && ns % 1'000'000'000 == 0)
    return std::to_string(ns / 1'000'000'000) + "s";
  if (ns != 0 && ns % 1'000'000 == 0)
    return std::to_string(ns / 1'000'000) + "ms";
  if (ns != 0 && ns % 1'000 == 0)
    return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

std::string to_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Returns `min_delay * 2^attempt` capped at `max_delay`, in exact integer ticks; the
// comparison against `max >> attempt` decides the cap before any shift could overflow.
rep capped_base(rep min_ticks, rep max_ticks, unsigned attempt) noexcept {
  constexpr unsigned value_bits = std::numeric_limits<rep>::digits;
  if (attempt >= value_bits || min_ticks > (max_ticks >> attempt))
    return max_ticks;
  return min_ticks << attempt;
}

} // namespace

std::optional<std::string> backoff_config::validate() const {
  std::string problems;
  auto add = [&problems](const std::string& problem) {
    if (!problems.empty())
      problems += "; ";
    problems += problem;
  };
  if (min_delay < duration::zero())
    add("min_delay (" + to_text(min_delay) + ") is negative");
  if (max_delay < duration::zero())
    add("max_delay (" + to_text(max_delay) + ") is negative");
  if (min_delay > max_delay)
    add("min_delay (" + to_text(min_delay) + ") exceeds max_delay (" + to_text(max_delay) + ")");
  // Written as a negated range test so that NaN fails it too.
  if (!(jitter >= 0.0 && jitter <= 1.0))
    add("jitter (" + to_text(jitter) + ") is outside [0, 1]");
  if (reset_after < duration::zero())
    add("reset_after (" + to_text(reset_after) + ") is negative");
  if (problems.empty())
    return std::nullopt;
  return "backoff: " + problems;
}

backoff::backoff(const backoff_config& config)
    : config_(config) {
  if (auto problem = config.validate())
    throw std::invalid_argument(*problem);
}

backoff::duration backoff::delay_for(const backoff_config& config, unsigned attempt,
                                     double uniform01) noexcept {
  constexpr rep max_rep = std::numeric_limits<rep>::max();
  const rep min_ticks = config.min_delay.count();
  const rep max_ticks = config.max_delay.count();
  // A zero min_delay means "restart at once"; the other cases only guard invalid configs
  // against undefined shifts and conversions below.
  if (min_ticks <= 0 || max_ticks <= 0)
    return duration::zero();
  const rep base = capped_base(min_ticks, max_ticks, attempt);

  // Clamping (rather than rejecting) keeps this noexcept and the result inside
  // [base, base * (1 + jitter)] for any draw, including NaN and a distribution's 1.0.
  const double u = uniform01 > 0.0 ? (uniform01 < 1.0 ? uniform01 : 1.0) : 0.0;
  const double jitter = config.jitter > 0.0 ? (config.jitter < 1.0 ? config.jitter : 1.0) : 0.0;
  // The extra part is computed apart from the integer base so that u == 0 gives the base
  // exactly (a double cannot hold every tick count); truncating it never rounds above
  // base * jitter.
  const double extra = static_cast<double>(base) * jitter * u;
  // 9.2e18 is below 2^63, so the conversion below is always defined.
  if (!(extra < 9.2e18))
    return duration::max();
  const auto extra_ticks = static_cast<rep>(extra);
  if (extra_ticks > max_rep - base)
    return duration::max();
  return duration{base + extra_ticks};
}

backoff::duration backoff::next_delay(double uniform01) noexcept {
  const auto delay = delay_for(config_, attempt_, uniform01);
  // Saturating instead of wrapping: a wrap to 0 would silently reset the backoff.
  if (attempt_ != std::numeric_limits<unsigned>::max())
    ++attempt_;
  return delay;
}

void backoff::on_started(time_point now) noexcept {
  started_ = now;
}

void backoff::on_stopped(time_point now) noexcept {
  if (!started_)
    return;
  const auto up = now - *started_;
  started_.reset();
  note_uptime(up);
}

void backoff::note_uptime(duration up) noexcept {
  if (up >= config_.reset_after)
    attempt_ = 0;
}

void backoff::reset() noexcept {
  attempt_ = 0;
}

} // namespace cellhub::actors
