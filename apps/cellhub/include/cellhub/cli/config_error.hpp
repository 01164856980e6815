#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace cellhub::cli {

/// Describes why a configuration file was rejected and where: the first problem found.
struct config_error {
  /// Names the configuration file, as it was given to the loader.
  std::filesystem::path file;
  /// Holds the 1-based line of the offending key or table, or 0 when no place applies.
  std::size_t line = 0;
  /// Holds the 1-based column, or 0 when no place applies.
  std::size_t column = 0;
  /// Holds the key path ("cell[2].backoff.min", "group[1].cell[1].restart"), or nothing
  /// for a problem with the file as a whole (a syntax error, an unreadable file).
  std::string key;
  /// Says what is wrong.
  std::string message;

  /// Renders "<file>:<line>:<col>: <key>: <message>", leaving out the parts that are unknown.
  [[nodiscard]] std::string to_string() const;
};

} // namespace cellhub::cli
