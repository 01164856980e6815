#pragma once

#include "cellhub/transport/fwd.hpp"
#include "cellhub/transport/result.hpp"

#include <sys/types.h>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellhub::transport {

/// Describes how a child process ended.
struct exit_status {
  /// Tells whether a signal ended the child (then `signal` is set, not `code`).
  bool signaled = false;
  /// Holds the exit code passed to `exit` when `signaled` is false.
  int code = 0;
  /// Holds the number of the signal that ended the child when `signaled` is true.
  int signal = 0;
  /// Tells whether the signal left a core dump.
  bool core_dumped = false;

  /// Returns whether the child exited by itself with code 0.
  [[nodiscard]] bool clean() const noexcept { return !signaled && code == 0; }

  /// Renders the status as `exit code 3`, `signal 9 (SIGKILL)` or
  /// `signal 11 (SIGSEGV, core dumped)`.
  [[nodiscard]] std::string describe() const;

  /// Compares every field.
  bool operator==(const exit_status&) const = default;
};

/// Writes `status.describe()` to `out`.
std::ostream& operator<<(std::ostream& out, const exit_status& status);

/// Tells how the child behind `pidfd` ended without reaping it (`waitid` with
/// `WNOWAIT`), so that whoever owns the child still reaps it: its status once it has
/// exited, nothing while it runs. Fails with `io_error` (`ECHILD`) when the process is
/// not a child of this one or was reaped already.
result<std::optional<exit_status>> peek_exit(int pidfd);

/// Names one host fd a child inherits and the number it gets there.
struct inherited_fd {
  /// Names the host's fd (it stays open in the host; the child gets a copy).
  int fd = -1;
  /// Gives its number in the child: 3 or more (0, 1 and 2 stay the host's stdin,
  /// stdout and stderr), and fd 3 is where a ticket puts the cell's doorbell.
  int as = 3;

  /// Compares both fields.
  bool operator==(const inherited_fd&) const = default;
};

/// Names the user a child runs as: its real, effective and saved ids and its
/// supplementary groups.
struct spawn_identity {
  /// Gives the user id (not -1).
  uid_t uid = 0;
  /// Gives the group id (not -1).
  gid_t gid = 0;
  /// Lists the supplementary groups; empty leaves the child in none.
  std::vector<gid_t> groups;

  /// Compares every field.
  bool operator==(const spawn_identity&) const = default;
};

/// Describes how to start a child process.
struct spawn_options {
  /// Names the executable; a name without '/' is searched in the host's PATH.
  std::string binary;
  /// Lists argv[1..]; argv[0] is `binary`.
  std::vector<std::string> args;
  /// Lists variables set or overridden on top of the host's environment (later wins).
  std::vector<std::pair<std::string, std::string>> env;
  /// Lists the host fds the child inherits, each at its own number (3 or more, no
  /// number twice): the cell's doorbell end, which `hub_peer_ticket` adds at 3, and any
  /// other the cell is handed (a listening socket, a pipe). Every other fd is closed.
  std::vector<inherited_fd> inherit;
  /// Runs the child as another user: it calls `setgroups`, `setgid` and `setuid`, in
  /// that order and each checked, before exec (so the binary must be executable by
  /// that user). Needs a host with CAP_SETUID and CAP_SETGID (root); without them the
  /// spawn fails with `spawn_failed` (EPERM) and says so. Empty keeps the host's user.
  std::optional<spawn_identity> user;
  /// Starts the child from a sealed, exec-only in-memory copy of the binary (a memfd of
  /// mode 0111, made once per version of the file and shared by later spawns) rather
  /// than from its path. A process that execs a file it may not read is made
  /// non-dumpable by the kernel from its first instruction, so no other process of the
  /// same user can open its `/proc/PID/mem` or copy its descriptors (its doorbell) in
  /// the moments before `cell::attach` makes it non-dumpable itself. The child runs
  /// the copy only if it may exec the file itself. Not applied to a script (`#!`) nor
  /// to a file the host may not read (already exec-only); not effective for a child
  /// with CAP_DAC_OVERRIDE (root), which may read any file. The child's
  /// `/proc/self/exe` names the memfd, not the file (a cell that looks for files beside
  /// its binary should use its argv[0]), and sanitizers of a child that may not read
  /// it cannot symbolize its stack traces: turn it off to debug such a cell.
  bool sealed_image = true;
};

/// Owns a spawned child process through a pidfd; move-only.
///
/// The child gets fds 0, 1 and 2 of the host, each of `inherit` at its number, and no
/// other fd, whether or not the host's fds are close-on-exec. Its signal mask is empty
/// and SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGCHLD have their default action.
///
/// The child leads a process group of its own (its pgid is its pid), and the group
/// ends with it: when the handle learns that the child has exited (`try_wait`,
/// `wait_for`) or is reset, it sends SIGKILL to the whole group *before* it reaps the
/// child, while the unreaped child still holds the group id, so the signal cannot
/// reach an unrelated group. Background processes the child started are therefore
/// gone with it, unless they left its group (`setsid`, `setpgid`). Being in its own
/// group, the child gets no signal the terminal sends the host's foreground group
/// (Ctrl-C's SIGINT, SIGQUIT, SIGTSTP): the host stops its cells itself. A child that
/// reads the terminal is stopped by SIGTTIN (and one that writes to it by SIGTTOU
/// under `stty tostop`), as any background job is.
///
/// The handle must be the only one to reap its child: the host must not call
/// `wait`/`waitpid(-1)` for any child nor set SIGCHLD to SIG_IGN, or the exit status is
/// lost. Destroying (or assigning over) a handle whose child is not reaped yet sends
/// SIGKILL to its group and reaps it, blocking until it is gone, so no running cell and
/// no zombie is ever left behind; call `wait_for` first to let a child end by itself,
/// or `detach` to let it outlive the handle.
class [[nodiscard]] process {
public:
  /// Starts a child with `vfork` (no copy of the host's page tables) and `execve`,
  /// searching the host's PATH as `execvp` does when `binary` has no '/'; from a sealed
  /// image unless `options.sealed_image` is off. Fails with `spawn_failed` (errno in
  /// `sys_errno`, binary in `detail`)
  /// when the child cannot be started, including when exec or the change of user
  /// fails, and with `invalid_argument` for unusable options (an empty binary, a bad
  /// environment name, an inherited fd that is not open, a number below 3 or given
  /// twice, an id of -1).
  [[nodiscard]] static result<process> spawn(const spawn_options& options);

  /// Constructs a handle that owns no process.
  process() noexcept = default;

  /// Takes over the child of `other`, leaving it empty.
  process(process&& other) noexcept;

  /// Kills and reaps the current child if it is not reaped, then takes over `other`'s.
  process& operator=(process&& other) noexcept;

  process(const process&) = delete;
  process& operator=(const process&) = delete;

  /// Kills (SIGKILL) and reaps the child unless it was reaped already.
  ~process();

  /// Returns the child's pid (still valid after reaping, for logs), or -1.
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Returns the pidfd, readable once the child has exited; -1 for an empty handle.
  [[nodiscard]] int pidfd() const noexcept { return pidfd_; }

  /// Reaps the child if it has exited, without blocking; returns its status, or
  /// nothing while it runs. The status is kept once reaped.
  std::optional<exit_status> try_wait() noexcept;

  /// Waits until the child exits or `timeout` passes (negative waits forever) and
  /// reaps it; fails with `timeout` while it still runs.
  result<exit_status> wait_for(std::chrono::nanoseconds timeout) noexcept;

  /// Returns the status kept since the child was reaped, or nothing.
  [[nodiscard]] std::optional<exit_status> status() const noexcept { return status_; }

  /// Sends `sig` to the child alone (not its group) through its pidfd; succeeds
  /// without sending once the child has exited.
  result<void> send_signal(int sig) noexcept;

  /// Returns whether the child has not exited yet (an exited child counts as not
  /// running even before it is reaped). Does not reap.
  [[nodiscard]] bool running() const noexcept;

  /// Lets the child outlive this handle, which becomes empty: nothing kills it when
  /// the handle goes. A process-wide reaper (one thread over the pidfds of detached
  /// children, started by the first detach) reaps it when it exits, after ending its
  /// process group as the handle would have, so no zombie is left; its exit status is
  /// only logged (debug). A child still running when the host exits is left running
  /// (unless it set a parent-death signal, as cells do). Detaching an empty or reaped
  /// handle just empties it.
  void detach() noexcept;

private:
  friend class detail::child_reaper;

  process(pid_t pid, int pidfd) noexcept
      : pid_{pid}
      , pidfd_{pidfd} {}

  // Sends SIGKILL to the child's process group; only while the child is not reaped.
  void kill_group() const noexcept;

  // Reaps the child if it has exited, keeping its status; kills its process group
  // first. Returns 0 or waitid's errno.
  int reap_if_exited() noexcept;

  // Kills and reaps a child that is not reaped yet, then closes the pidfd.
  void reset() noexcept;

  // Closes the pidfd and empties the handle without killing or reaping the child.
  void abandon() noexcept;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::optional<exit_status> status_;
  bool warned_ = false;
};

} // namespace cellhub::transport
