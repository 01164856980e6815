#pragma once

#include "cellhub/cli/link_options.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace cellhub::cli {

/// Lists the exit codes of the `cellhub` program.
enum exit_code : int {
  /// The cluster stopped because it was asked to (a signal, `--duration`, a remote
  /// `stop`), or the command succeeded.
  exit_ok = 0,
  /// Something failed at run time (the events file, a connection, a root that ended by
  /// itself), or the machine lacks what the configuration needs (space for the hub, fds,
  /// a hub path free of a live host).
  exit_runtime_error = 1,
  /// The configuration or the command line is wrong (including a hub path that cannot
  /// hold a hub, or an `--events` file that cannot be opened); nothing was started.
  exit_bad_usage = 2,
  /// The root supervisor gave up (it reached its restart intensity).
  exit_supervision_gave_up = 3,
};

/// Holds the options of `cellhub run`.
struct run_options {
  /// Names the configuration file.
  std::filesystem::path config;
  /// Names the directory the cellhub binary lives in (binaries are looked up there).
  std::filesystem::path program_dir;
  /// Names the JSON-lines events file, or empty.
  std::string events_file;
  /// Stops the cluster cleanly after this long, if set.
  std::optional<std::chrono::nanoseconds> duration;
  /// Kills this many random cells per second (0: none).
  double chaos_rate = 0;
  /// Publishes the control actor on this port, if set (0 picks a free port).
  std::optional<std::uint16_t> listen_port;
  /// Names the address to publish on.
  std::string listen_address = "127.0.0.1";
  /// Secures the control port (`--insecure`, `--tls-dir`).
  link_options link;
  /// Forces plain lines even on a terminal.
  bool plain = false;
  /// Shows the transport's informational log lines (clean exits, stale hubs).
  bool verbose = false;
};

/// Runs a cluster from its configuration until Ctrl-C, SIGTERM, `--duration`, a
/// remote `stop`, a failed write of the events file, or the root supervisor giving up;
/// returns the exit code (`run_end::exit_code`).
int run_cluster(const run_options& options);

/// Validates a configuration, prints the resolved tree, and checks that this machine can
/// run it (`preflight`: hub path and space, fd budget); returns the exit code.
int check_config(const std::filesystem::path& config, const std::filesystem::path& program_dir);

/// Names what a remote command asks a running cluster.
enum class remote_action { status, restart, stop, call };

/// Connects to a running cluster at `options.endpoint` (mutual TLS unless
/// `--insecure`) and carries out `action` (`name` for restart and call, `payload` the
/// request of call) within the deadlines, printing a table, a sentence, the cell's reply
/// or JSON; returns the exit code (1 when the host cannot be reached, refuses the link,
/// does not answer in time, or the call fails). `status` on a node of a cluster shows
/// every node's cells with a NODE column; `call` takes a cluster name (`node/name`, or
/// a bare name unique in the cluster).
int remote_command(remote_action action, const remote_options& options, const std::string& name,
                   const std::string& payload = {});

} // namespace cellhub::cli
