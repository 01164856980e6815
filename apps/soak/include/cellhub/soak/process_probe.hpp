#pragma once

// What the soak reads in /proc about processes: a process's identity (pid plus start
// time, which survives pid reuse), its state, and the children of a process. (The
// soak counts its own open fds with transport::count_open_fds.)

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace cellhub::soak {

/// Names one process for its whole life: a pid is reused, a pid with its start time
/// (clock ticks after boot, /proc/PID/stat field 22) is not.
struct process_identity {
  /// Holds the pid.
  pid_t pid = 0;
  /// Holds the start time in clock ticks; 0 when it could not be read.
  std::uint64_t start_ticks = 0;

  /// Compares both fields.
  bool operator==(const process_identity&) const = default;
};

/// Reads `pid`'s start time; nothing when no such process exists (or it was reaped).
std::optional<std::uint64_t> process_start_ticks(pid_t pid);

/// Returns the state letter of the process `who` names (R, S, T, Z, ...), or nothing
/// when it is gone: no process has its pid, or the one that has it started at
/// another time (the pid was reused).
std::optional<char> state_if_alive(const process_identity& who);

/// Lists the pids whose parent is `parent` (zombies included).
std::vector<pid_t> children_of(pid_t parent);

} // namespace cellhub::soak
