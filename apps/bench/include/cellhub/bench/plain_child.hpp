#pragma once

// The baselines' children: cellhub-bench-cell in pipe-ready mode, spawned with
// transport::process (vfork and exec of the file), saying "up" with one byte on a shared pipe.
// No hub, no doorbell, no actor: what is left is the floor.

#include "cellhub/transport/process.hpp"

#include <chrono>
#include <cstddef>
#include <string>

namespace cellhub::bench {

/// Owns the pipe that baseline children write their one "up" byte to.
class ready_pipe {
public:
  /// Creates the pipe (close-on-exec on both ends); throws `bench_failure`.
  ready_pipe();
  ready_pipe(const ready_pipe&) = delete;
  ready_pipe& operator=(const ready_pipe&) = delete;
  /// Closes both ends.
  ~ready_pipe();

  /// Returns the end children inherit.
  [[nodiscard]] int write_fd() const noexcept { return write_fd_; }

  /// Waits until `count` more bytes arrived or `deadline` passed; returns how many did.
  std::size_t await(std::size_t count, std::chrono::steady_clock::time_point deadline);

private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

/// Spawns `binary --mode=pipe-ready --pipe-fd=3` with `pipe`'s write end as fd 3;
/// with `stay` the child idles after its byte until it is killed; a `cpu` ≥ 0 pins
/// it there. Throws `bench_failure`.
transport::process spawn_plain_child(const std::string& binary, const ready_pipe& pipe, bool stay,
                                     int cpu = -1);

} // namespace cellhub::bench
