#pragma once

#include <spdlog/logger.h>

#include <memory>

namespace cellhub::transport {

/// Returns the logger every cellhub component writes to (named "cellhub").
/// By default it writes to stderr with the pattern `<time> <LEVEL> <message>`,
/// LEVEL being TRACE, DEBUG, INFO, WARN, ERROR or CRIT.
std::shared_ptr<spdlog::logger> logger();

/// Replaces the logger; pass a logger with your own sinks to capture or route output.
/// The new logger gets the cellhub pattern unless `keep_pattern` is set.
void set_logger(std::shared_ptr<spdlog::logger> replacement, bool keep_pattern = false);

/// Applies the cellhub pattern (`<time> <LEVEL> <message>`) to `target`.
void apply_pattern(spdlog::logger& target);

} // namespace cellhub::transport
