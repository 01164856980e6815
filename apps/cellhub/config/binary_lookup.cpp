#include "cellhub/cli/binary_lookup.hpp"

#include <unistd.h>

#include <system_error>

namespace cellhub::cli {
namespace fs = std::filesystem;
namespace {

// Asks the kernel rather than reading the mode bits, because access() also honours ACLs.
bool is_executable_file(const fs::path& candidate) {
  std::error_code ec;
  return fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0;
}

bool is_present(const fs::path& candidate) {
  std::error_code ec;
  return fs::exists(candidate, ec);
}

fs::path absolute_normal(const fs::path& p) {
  std::error_code ec;
  auto full = fs::absolute(p, ec);
  return (ec ? p : full).lexically_normal();
}

std::string quoted(const fs::path& p) {
  return '"' + p.string() + '"';
}

} // namespace

std::optional<fs::path> find_binary(std::string_view binary, const fs::path& config_dir,
                                    const fs::path& program_dir, std::string_view search_path,
                                    std::string& problem) {
  if (binary.empty()) {
    problem = "must not be empty";
    return std::nullopt;
  }
  const fs::path given{binary};
  if (binary.find('/') != std::string_view::npos) {
    const auto full = absolute_normal(given.is_absolute() ? given : config_dir / given);
    if (is_executable_file(full))
      return full;
    problem = is_present(full) ? quoted(full) + " is not an executable file"
                               : quoted(full) + " does not exist";
    return std::nullopt;
  }

  std::optional<fs::path> passed_over;
  auto try_dir = [&](const fs::path& dir) -> std::optional<fs::path> {
    const auto candidate = absolute_normal(dir / given);
    if (is_executable_file(candidate))
      return candidate;
    if (!passed_over && is_present(candidate))
      passed_over = candidate;
    return std::nullopt;
  };
  if (!program_dir.empty())
    if (auto found = try_dir(program_dir))
      return found;
  for (std::size_t at = 0; at <= search_path.size();) {
    auto end = search_path.find(':', at);
    if (end == std::string_view::npos)
      end = search_path.size();
    // An empty entry means the working directory to a shell; a supervisor started from
    // anywhere should not pick up whatever lies there.
    if (end > at)
      if (auto found = try_dir(fs::path{search_path.substr(at, end - at)}))
        return found;
    at = end + 1;
  }
  problem = "cannot find \"" + std::string{binary} + "\" ";
  problem += program_dir.empty() ? "on PATH" : "next to " + program_dir.string() + " or on PATH";
  if (passed_over)
    problem += " (" + quoted(*passed_over) + " is not an executable file)";
  return std::nullopt;
}

} // namespace cellhub::cli
