#pragma once

// What cellhub-bench-cell does, mode by mode. The hub modes link the transport
// only (no actor system), like any cell; the socket and pipe modes are the
// baselines and touch no hub at all.

#include <chrono>
#include <string>

namespace cellhub::bench {

/// Chooses a bench cell's behaviour.
struct bench_cell_settings {
  /// Names the mode: echo, sink, idle, socket-echo, socket-sink or pipe-ready.
  std::string mode = "idle";
  /// Names the inherited socket of the socket modes.
  int socket_fd = -1;
  /// Names the inherited pipe end of pipe-ready.
  int pipe_fd = -1;
  /// Keeps a pipe-ready cell alive after its byte (until it is killed).
  bool stay = false;
  /// Makes a sink read every byte it receives (a checksum), as a consumer would;
  /// otherwise it checks only the first and last byte.
  bool read_all = false;
  /// Pins the cell to this CPU (negative: anywhere).
  int cpu = -1;
  /// Bounds how long a hub cell spins before it sleeps on its doorbell.
  std::chrono::nanoseconds spin = std::chrono::microseconds{50};
};

/// Runs a bench cell; `argc`/`argv` carry the hub ticket for the hub modes.
/// Returns the process exit code: 0 after a goodbye or when the host hangs up,
/// 2 when attaching fails, 9 for an unknown mode, others for broken traffic.
int run_bench_cell(const bench_cell_settings& settings, int argc, char** argv);

} // namespace cellhub::bench
