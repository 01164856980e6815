#pragma once

// Starting cellhub-bench-cell for a measurement: on a hub (through the ticket),
// on a socket (the baseline), up and answering before any clock starts, or under
// a supervisor (its child spec).

#include "cellhub/bench/bench_options.hpp"
#include "cellhub/bench/frame_socket.hpp"

#include "cellhub/actors/child_spec.hpp"

#include "cellhub/transport/hub_host.hpp"
#include "cellhub/transport/peer_transport.hpp"
#include "cellhub/transport/process.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cellhub::bench {

/// Returns a bench cell's arguments: `--mode=`, `--spin=` and, for `cpu` ≥ 0, `--cpu=`.
std::vector<std::string> cell_arguments(const std::string& mode, std::chrono::nanoseconds spin,
                                        int cpu = -1);

/// Returns the child spec of a supervised bench cell named `mode` in that mode (on
/// `cpu` when ≥ 0): 30 s to start (sanitizer builds start slowly), no hang timeout
/// (no timers to disturb a measurement), the rest the defaults.
actors::cell_spec bench_cell_spec(const bench_options& opts, const std::string& mode, int cpu = -1);

/// Spawns a bench cell on `hub` with `args` and waits for its READY; throws `bench_failure`.
std::shared_ptr<transport::peer_transport> spawn_hub_cell(transport::hub_host& hub,
                                                          const std::string& binary,
                                                          std::vector<std::string> args,
                                                          const std::string& name);

/// Asks a hub cell to leave and waits until its process is gone (killing it after 10 s).
void retire_hub_cell(transport::peer_transport& cell);

/// Holds a socket-mode bench cell and the host's end of its socket.
struct socket_cell {
  /// Owns the cell's process (killed and reaped when destroyed).
  transport::process child;
  /// Talks to the cell.
  frame_socket link;
};

/// Spawns a bench cell in socket `mode` (socket-echo, socket-sink) with one end of a
/// fresh socket pair as its fd 3 and `extra` arguments, and waits for its "up" frame;
/// throws `bench_failure`.
socket_cell spawn_socket_cell(const std::string& binary, const std::string& mode, int cpu = -1,
                              const std::vector<std::string>& extra = {});

/// Spawns the same over `sockets` (a connected pair, e.g. `tcp_loopback_pair`): the
/// cell gets the second as its fd 3, the host keeps the first. Throws `bench_failure`.
socket_cell spawn_socket_cell(std::pair<frame_socket, frame_socket> sockets,
                              const std::string& binary, const std::string& mode, int cpu = -1,
                              const std::vector<std::string>& extra = {});

/// Closes the host's end so the cell exits, and reaps it.
void retire_socket_cell(socket_cell& cell);

} // namespace cellhub::bench
