#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/cli/commands.hpp"
#include "cellhub/cli/preflight.hpp"

#include <cstdio>

namespace cellhub::cli {

int check_config(const std::filesystem::path& config, const std::filesystem::path& program_dir) {
  auto loaded = load_cluster_config(config, program_dir);
  if (auto* err = std::get_if<config_error>(&loaded)) {
    std::fprintf(stderr, "cellhub: %s\n", err->to_string().c_str());
    return exit_bad_usage;
  }
  const auto& cluster = std::get<cluster_config>(loaded);
  std::fputs(describe(cluster).c_str(), stdout);
  // The file is fine; whether this machine can run it now is the second half.
  const auto report = preflight(cluster);
  std::fputs(report.describe().c_str(), stdout);
  std::fflush(stdout);
  if (!report.fits()) {
    std::fprintf(stderr, "cellhub: cannot run here: %s\n", report.problem.c_str());
    return report.refusal;
  }
  return exit_ok;
}

} // namespace cellhub::cli
