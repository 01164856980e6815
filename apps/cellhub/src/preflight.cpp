#include "cellhub/cli/preflight.hpp"

#include "cellhub/cli/commands.hpp"
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/memory_budget.hpp"

#include <fmt/format.h>

namespace cellhub::cli {
namespace {

namespace tr = cellhub::transport;

// A path that cannot hold a hub is the configuration's fault (exit 2: change hub.path);
// what the machine lacks, or a live host on the path, is not (exit 1: the file is fine).
int refusal_for(const tr::error& problem) {
  switch (problem.code) {
  case tr::errc::path_occupied:
  case tr::errc::invalid_argument:
  case tr::errc::invalid_config:
  case tr::errc::bad_magic:
  case tr::errc::version_mismatch:
  case tr::errc::bad_layout:
    return exit_bad_usage;
  default:
    return exit_runtime_error;
  }
}

} // namespace

std::string preflight_report::describe() const {
  std::string out;
  if (site)
    out += fmt::format("hub file {}: {}, {} free on its filesystem{}\n", site->path,
                       tr::describe_bytes(site->file_size), tr::describe_bytes(site->free_bytes),
                       site->state == tr::hub_site_state::stale_hub
                           ? " (a stale hub of a dead host is there and will be replaced)"
                           : "");
  else
    out += fmt::format("hub file: {}\n", tr::describe_bytes(hub_file_size));
  out += fmt::format("peer regions: up to {} ({} peers x {}), this host has {} ({})\n",
                     tr::describe_bytes(region_memory), max_peers, tr::describe_bytes(region_size),
                     tr::describe_bytes(memory.limit), memory.source);
  out += fmt::format("fds {}\n", fds.describe());
  return out;
}

preflight_report preflight(const cluster_config& config,
                           std::optional<remote::handshake_limits> control) {
  preflight_report report;
  // The loader has run hub_geometry::compute already, so this succeeds.
  if (auto geometry = tr::hub_geometry::compute(config.hub)) {
    report.hub_file_size = geometry.value().file_size;
    report.region_size = geometry.value().region_size;
    report.max_peers = geometry.value().max_peers;
    report.region_memory = geometry.value().memory_needed();
  }
  if (auto budget = tr::read_memory_budget())
    report.memory = std::move(budget).value();
  report.fds = actors::plan_fd_budget(config.root, control ? control->listener_fds() : 0);
  auto site = tr::inspect_hub_site(config.hub_path, report.hub_file_size);
  if (site) {
    report.site = std::move(site).value();
  } else {
    report.problem = "hub.path: " + site.error().message();
    report.refusal = refusal_for(site.error());
    return report;
  }
  if (report.memory.limit != 0)
    if (auto fits = tr::check_memory_budget(report.region_memory, report.memory); !fits) {
      report.problem = "hub " + config.hub_path + ": " + fits.error().message();
      report.refusal = exit_runtime_error;
      return report;
    }
  if (!report.fds.fits()) {
    report.problem = "fds: " + report.fds.describe();
    report.refusal = exit_runtime_error;
  }
  return report;
}

} // namespace cellhub::cli
