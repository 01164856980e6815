#pragma once

// The cellhub-soak command line: flags, their validation and the exit codes.

#include "cellhub/soak/soak_options.hpp"

#include <optional>

namespace cellhub::soak {

/// Names cellhub-soak's exit codes.
namespace exit_code {
/// Marks a run in which every invariant held.
inline constexpr int held = 0;
/// Marks a run that could not be carried out (no demo cell, hub creation failed, ...).
inline constexpr int runtime_error = 1;
/// Marks bad usage: an unknown flag or an impossible value.
inline constexpr int usage = 2;
/// Marks a run that finished and broke at least one invariant (named in the summary).
inline constexpr int violated = 4;
} // namespace exit_code

/// Holds the outcome of parsing the command line: options to run with, or the code
/// to exit with at once (after --help, or with the error already printed).
struct parsed_command_line {
  /// Holds the options when the soak should run.
  std::optional<soak_options> options;
  /// Holds the exit code when `options` is empty.
  int exit_code = exit_code::held;
};

/// Parses and validates cellhub-soak's flags; prints help or errors to stdout/stderr.
/// A seed left out is drawn from std::random_device (and printed in the summary).
parsed_command_line parse_command_line(int argc, const char* const* argv);

} // namespace cellhub::soak
