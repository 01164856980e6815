#pragma once

// Private to the transport library: sealed, exec-only in-memory copies of the binaries
// that cells are started from.
//
// A process that execs a file it may not read is made non-dumpable by the kernel from
// its first instruction (`would_dump` in fs/exec.c), before any of its own code runs.
// Cells turn themselves non-dumpable in `cell::attach`, but that comes later: in
// between, another process of the same user could open `/proc/PID/mem` or copy the
// cell's doorbell with `pidfd_getfd`. Starting the cell from a copy it cannot read
// closes that window, as runc does for its own binary.

#include "unique_fd.hpp"

#include "cellhub/transport/result.hpp"

#include <string>

namespace cellhub::transport::detail {

/// Returns a close-on-exec descriptor of a sealed, exec-only in-memory copy (a memfd,
/// mode 0111, sealed against writes and resizes) of the executable at `path`, for
/// `execveat(fd, "", ..., AT_EMPTY_PATH)`; an empty descriptor when `path` must be
/// exec'd as it is: a script (`#!`, whose interpreter must read it), a file the host
/// may not read (already exec-only, so the kernel protects the child anyway), or no
/// regular file (exec reports why). The copy is made on first use, kept for the life
/// of the process and shared by every later spawn of that binary; it is made again
/// when the file at `path` changes (another inode, size, mtime or ctime). Fails with
/// `spawn_failed` when the copy cannot be made (no memory, memfds refused by
/// `vm.memfd_noexec`).
result<unique_fd> sealed_exec_image(const std::string& path);

} // namespace cellhub::transport::detail
