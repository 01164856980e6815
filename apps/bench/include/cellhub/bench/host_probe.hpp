#pragma once

// What the bench reads about its own process and the machine: memory,
// the hub file's real size, a child's scheduler state, and a description of the
// machine for the report.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace cellhub::bench {

/// Returns this process's resident set (VmRSS of /proc/self/status) in KiB.
std::optional<std::uint64_t> resident_kib();

/// Returns the machine's shared memory in use (Shmem in /proc/meminfo), in bytes:
/// memfd pages (peer regions) and tmpfs files.
std::optional<std::uint64_t> shmem_bytes();

/// Waits until `pid` sleeps (state S in /proc/PID/stat) or `deadline` passes;
/// returns whether it sleeps. A cell that just sent READY may still be spinning.
bool wait_until_sleeping(pid_t pid, std::chrono::steady_clock::time_point deadline);

/// Describes the machine a run measured.
struct machine_info {
  /// Counts online CPUs (`nproc`).
  long cpus = 0;
  /// Holds `uname -r`.
  std::string kernel;
  /// Holds the CPU model name.
  std::string cpu_model;
  /// Tells whether the CPU flags say "hypervisor" (a VM).
  bool virtual_machine = false;
  /// Holds the host name.
  std::string hostname;
  /// Holds /proc/loadavg's first three numbers when the run started.
  std::string load_average;
  /// Holds them when the run ended.
  std::string load_average_end;
  /// Holds the build type the bench was compiled as.
  std::string build_type;
  /// Holds the sanitizers it was compiled with (empty: none).
  std::string sanitizers;
};

/// Reads the machine's description now.
machine_info describe_machine();

/// Returns /proc/loadavg's first three numbers.
std::string load_average();

} // namespace cellhub::bench
