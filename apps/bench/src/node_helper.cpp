#include "cellhub/bench/node_helper.hpp"

#include "cellhub/bench/bench_context.hpp"
#include "cellhub/bench/cell_launch.hpp"
#include "cellhub/bench/node_session.hpp"

#include <fmt/format.h>

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>

namespace cellhub::bench {

namespace tr = cellhub::transport;

transport::process spawn_node_helper(const bench_options& opts, std::uint16_t join_port,
                                     const std::string& hub_path) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    throw bench_failure{"cannot find this program to start node " + node_helper_name + ": " +
                        ec.message()};
  tr::spawn_options command{.binary = self.string(),
                            .args = {fmt::format("--node-helper-join={}", join_port),
                                     "--node-helper-hub=" + hub_path, "--cell=" + opts.cell_binary,
                                     fmt::format("--spin={}ns", opts.spin.count())}};
  for (const auto& setting : opts.caf_settings)
    command.args.push_back("--caf=" + setting);
  if (opts.verbose)
    command.args.emplace_back("--verbose");
  // The helper is the bench itself, not a cell: no sealed copy of a large binary.
  command.sealed_image = false;
  auto child = tr::process::spawn(command);
  if (!child)
    throw bench_failure{"starting node " + node_helper_name + ": " + child.error().message()};
  return std::move(child).value();
}

int run_node_helper(const bench_options& opts) {
  // Never outlive the bench, whose scoped handle would otherwise have killed us.
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
  try {
    node_session_options options{.node = node_helper_name,
                                 .hub_path = opts.node_helper_hub,
                                 .join = {{"127.0.0.1", opts.node_helper_join}},
                                 .caf_settings = opts.caf_settings};
    options.root.children.emplace_back(bench_cell_spec(opts, "idle"));
    node_session node{std::move(options)};
    for (;;)
      ::pause();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cellhub-bench: node %s: %s\n", node_helper_name.c_str(), e.what());
    return 1;
  }
}

} // namespace cellhub::bench
