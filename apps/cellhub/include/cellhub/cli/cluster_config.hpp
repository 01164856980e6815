#pragma once

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/cli/config_error.hpp"
#include "cellhub/cli/identity_lookup.hpp"
#include "cellhub/cluster/cluster_options.hpp"
#include "cellhub/transport/hub_config.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cellhub::cli {

/// Describes the demo traffic the host sends to its cells (the `[load]` table).
struct load_config {
  /// Holds the requests per second the host sends; 0 sends none.
  double rate = 0;
  /// Holds the payload size of each request, in bytes.
  std::size_t payload_bytes = 4096;
  /// Names the cells the requests go to; empty means every cell. A pool's template name
  /// stands for all its replicas.
  std::vector<std::string> targets;
  /// Bounds the wait for each reply.
  std::chrono::milliseconds timeout{2000};
};

/// Holds a configuration file, resolved and validated: the hub, the supervision tree and,
/// for a node of a cluster, its `[cluster]` table.
struct cluster_config {
  /// Names the file it was read from.
  std::filesystem::path source;
  /// Holds the hub file's path (`[hub] path`).
  std::string hub_path;
  /// Sizes the hub (`[hub] max_peers`, `ring_capacity`, `[[hub.slot_class]]`).
  transport::hub_config hub;
  /// Describes the root supervisor (`[supervisor]`) and, through it, the whole tree; every
  /// cell's binary is an absolute path.
  actors::supervisor_spec root;
  /// Describes the demo traffic (`[load]`).
  load_config load;
  /// Holds the `[cluster]` table, if present: this host's node name, cluster port, the nodes
  /// it joins and its heartbeat. Absent, the host runs alone. The links' TLS credentials are
  /// the control port's (`--tls-dir`), not part of the file.
  std::optional<cellhub::cluster::cluster_options> cluster;
};

/// Holds what `load_cluster_config` gives: the configuration or the first problem in it.
using load_result = std::variant<cluster_config, config_error>;

/// Reads, checks and resolves the configuration in `file` (format: docs/config.md). Never
/// throws for a bad file; every problem comes back as a `config_error` naming the file, line,
/// column and key path.
///
/// Binary lookup: a bare name is looked for next to `program_dir` (the cellhub binary's
/// directory), then on PATH; a relative path with '/' is relative to the config file's
/// directory; an absolute path is used as is. It must exist and be executable.
///
/// A cell's `user` and `group` are resolved against this machine's user and group
/// databases, and refused when this process could not start the cell as that user (see
/// `host_identity`).
load_result load_cluster_config(const std::filesystem::path& file,
                                const std::filesystem::path& program_dir);

/// Reads the configuration in `file` as `load_cluster_config` does, for a host that is
/// `host` rather than this process: a cell's `user` is refused unless `host` can start it.
load_result load_cluster_config(const std::filesystem::path& file,
                                const std::filesystem::path& program_dir,
                                const host_identity& host);

/// Renders the resolved tree for `cellhub check`: the hub, then each supervisor (strategy,
/// intensity) with its children indented below it, each cell with its binary, user,
/// arguments, environment, restart type, timeouts and backoff, then the demo load, and
/// finally the `[cluster]` table when there is one (node, listen address, join list,
/// heartbeat and join retry).
std::string describe(const cluster_config& config);

} // namespace cellhub::cli
