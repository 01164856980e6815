#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cellhub::cli {

/// Resolves a cell's `binary` key to an absolute path of an existing executable file:
/// - an absolute path is used as is;
/// - a relative path holding a '/' is relative to `config_dir` (the config file's directory);
/// - a bare name is looked for in `program_dir` (the cellhub binary's directory; skipped
///   when empty), then in each directory of `search_path` (a PATH value, ':'-separated;
///   empty entries are skipped rather than meaning the working directory).
/// A candidate that exists but is not an executable regular file is passed over.
/// Returns nothing when no candidate fits, and says why in `problem`.
std::optional<std::filesystem::path> find_binary(std::string_view binary,
                                                 const std::filesystem::path& config_dir,
                                                 const std::filesystem::path& program_dir,
                                                 std::string_view search_path,
                                                 std::string& problem);

} // namespace cellhub::cli
