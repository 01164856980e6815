#include "cellhub/transport/process.hpp"

#include "child_reaper.hpp"
#include "exec_image.hpp"
#include "poll_until.hpp"
#include "unique_fd.hpp"

#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS, so C++ would mangle the names
// (fixed in 2.37). What it includes (<fcntl.h>, siginfo_t) is included above, so only
// its own declarations end up inside the extern "C".
extern "C" {
#include <sys/pidfd.h>
}
#include <grp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string_view>

namespace cellhub::transport {
namespace {

using namespace std::chrono_literals;

// Signals a cell must see with their default action even if the host ignores them
// (an ignored disposition survives exec; a handler does not).
constexpr std::array default_signals = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD};

// Bounds an inherited fd's number in the child by the kernel's default fs.nr_open,
// which also keeps `top + 1` from overflowing.
constexpr int max_inherit_as = 1 << 20;

// Converts what waitid(WEXITED) reported into an exit_status.
exit_status to_exit_status(const siginfo_t& info) noexcept {
  exit_status status;
  switch (info.si_code) {
  case CLD_KILLED:
    status.signaled = true;
    status.signal = info.si_status;
    break;
  case CLD_DUMPED:
    status.signaled = true;
    status.signal = info.si_status;
    status.core_dumped = true;
    break;
  default: // CLD_EXITED; WEXITED reports nothing else
    status.code = info.si_status;
    break;
  }
  return status;
}

// Returns whether `name` is overridden by one of `overrides`.
bool is_overridden(std::string_view name,
                   const std::vector<std::pair<std::string, std::string>>& overrides) noexcept {
  for (const auto& [key, value] : overrides)
    if (key == name)
      return true;
  return false;
}

// Builds the child's environment: the host's, minus overridden names, plus overrides
// (the last override of a name wins).
std::vector<std::string>
build_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text{*entry};
    if (!is_overridden(text.substr(0, text.find('=')), overrides))
      entries.emplace_back(text);
  }
  for (std::size_t i = 0; i < overrides.size(); ++i) {
    bool overridden_later = false;
    for (std::size_t j = i + 1; j < overrides.size(); ++j)
      overridden_later = overridden_later || overrides[j].first == overrides[i].first;
    if (!overridden_later)
      entries.push_back(overrides[i].first + "=" + overrides[i].second);
  }
  return entries;
}

// Returns the argv/envp view of `strings`: pointers into them, null-terminated.
std::vector<char*> to_pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings)
    pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

// One fd the child inherits: the host's copy, moved above every fd number the child
// is given, and the number it gets there.
struct fd_move {
  int temp = -1;
  int as = -1;
};

// Owns the host-side copies of the fds a child inherits, for the length of one spawn.
// Every copy is close-on-exec and above `top`, so setting up the child never dup2's
// an fd onto itself (glibc before 2.29 left FD_CLOEXEC set on dup2(fd, fd), BZ #23640)
// nor onto a source another move still needs.
class fd_plan {
public:
  fd_plan() = default;
  fd_plan(const fd_plan&) = delete;
  fd_plan& operator=(const fd_plan&) = delete;
  ~fd_plan() {
    for (const auto& move : moves_)
      ::close(move.temp);
  }

  // Copies every inherited fd above the highest number the child gets.
  result<void> prepare(const std::vector<inherited_fd>& inherit, const std::string& binary) {
    for (const auto& wanted : inherit)
      top_ = std::max(top_, wanted.as);
    for (const auto& wanted : inherit) {
      const int temp = ::fcntl(wanted.fd, F_DUPFD_CLOEXEC, top_ + 1);
      if (temp < 0) {
        const int err = errno;
        return error{errc::invalid_argument,
                     err == EBADF
                         ? fmt::format("spawn {}: inherited fd {} is not open", binary, wanted.fd)
                         : fmt::format("spawn {}: inherited fd {} cannot be duplicated above fd {}",
                                       binary, wanted.fd, top_),
                     err};
      }
      moves_.push_back({temp, wanted.as});
    }
    std::sort(moves_.begin(), moves_.end(),
              [](const fd_move& a, const fd_move& b) { return a.as < b.as; });
    return success();
  }

  // Returns the moves, by rising child fd number.
  [[nodiscard]] const std::vector<fd_move>& moves() const noexcept { return moves_; }
  // Returns the highest fd number the child gets (2 when it inherits nothing).
  [[nodiscard]] int top() const noexcept { return top_; }

private:
  std::vector<fd_move> moves_;
  int top_ = 2;
};

error spawn_error(std::string what, const std::string& binary, int err) {
  return error{errc::spawn_failed, fmt::format("{} {}", what, binary), err};
}

// Names the step at which a child failed before its exec.
enum class child_step : int { setpgid, dup2, close_range, setgroups, setgid, setuid, exec };

std::string_view describe(child_step step) noexcept {
  switch (step) {
  case child_step::setpgid:
    return "setpgid";
  case child_step::dup2:
    return "dup2";
  case child_step::close_range:
    return "close_range";
  case child_step::setgroups:
    return "setgroups";
  case child_step::setgid:
    return "setgid";
  case child_step::setuid:
    return "setuid";
  case child_step::exec:
    return "execve";
  }
  return "setup";
}

// Is what a child that failed before its exec writes to the host.
struct child_failure {
  child_step step = child_step::exec;
  int err = 0;
};

// Holds everything a child needs, built before the vfork: the child shares the host's
// memory and may only make async-signal-safe calls, so it allocates nothing and writes
// nothing but its own stack.
struct child_plan {
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  // Paths to try, in order (one unless `binary` is searched in PATH), when there is
  // no sealed image.
  const std::vector<const char*>* candidates = nullptr;
  // The sealed exec-only copy to exec (above every fd the child inherits,
  // close-on-exec), or -1; and the path it was copied from.
  int image_fd = -1;
  const char* image_path = nullptr;
  const fd_plan* fds = nullptr;
  // The identity to take, or null to keep the host's.
  const spawn_identity* user = nullptr;
  // The write end of the pipe that tells the host why the child failed; above
  // every fd the child inherits, close-on-exec.
  int report_fd = -1;
};

[[noreturn]] void fail_in_child(int report_fd, child_step step, int err) noexcept {
  const child_failure failure{step, err};
  // Nothing is left to do if the report cannot be written: the host sees a child
  // that ended without exec (EOF) and reaps exit code 127.
  while (::write(report_fd, &failure, sizeof failure) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

// Closes the fds in [first, last] (both included) of the child, if any.
void close_in_child(const child_plan& plan, int first, unsigned last) noexcept {
  if (first < 0 || static_cast<unsigned>(first) > last)
    return;
  if (::close_range(static_cast<unsigned>(first), last, 0) != 0)
    fail_in_child(plan.report_fd, child_step::close_range, errno);
}

// Takes `user`'s identity: groups first, since once the uid is dropped the privilege
// to change them is gone. Raw system calls: glibc's wrappers would ask every thread
// of the host (whose memory the child shares) to change its ids too.
void take_identity(const child_plan& plan, const spawn_identity& user) noexcept {
  if (::syscall(SYS_setgroups, user.groups.size(), user.groups.data()) != 0)
    fail_in_child(plan.report_fd, child_step::setgroups, errno);
  if (::syscall(SYS_setgid, user.gid) != 0)
    fail_in_child(plan.report_fd, child_step::setgid, errno);
  if (::syscall(SYS_setuid, user.uid) != 0)
    fail_in_child(plan.report_fd, child_step::setuid, errno);
}

// Execs the sealed image, or the first candidate path that can be exec'd.
[[noreturn]] void exec_binary(const child_plan& plan) noexcept {
  if (plan.image_fd >= 0) {
    // Anyone may exec the copy: the child runs it only if it may exec the file itself
    // (mode, ACLs, a noexec mount), and fails as that exec would.
    if (::faccessat(AT_FDCWD, plan.image_path, X_OK, AT_EACCESS) != 0)
      fail_in_child(plan.report_fd, child_step::exec, errno);
    ::syscall(SYS_execveat, plan.image_fd, "", plan.argv, plan.envp, AT_EMPTY_PATH);
    fail_in_child(plan.report_fd, child_step::exec, errno);
  }
  // As execvp does: go on past a candidate that is missing, remember one that was
  // refused, stop at any other error.
  int err = ENOENT;
  bool refused = false;
  for (const char* path : *plan.candidates) {
    ::execve(path, plan.argv, plan.envp);
    err = errno;
    if (err == EACCES)
      refused = true;
    else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
      break;
  }
  if (refused &&
      (err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV || err == ETIMEDOUT))
    err = EACCES;
  fail_in_child(plan.report_fd, child_step::exec, err);
}

// Turns the child into the cell: see `process` for what it gets. Only
// async-signal-safe calls from here on.
[[noreturn]] void exec_in_child(const child_plan& plan) noexcept {
  // A handler the host installed must not run in the child (it would act on the
  // host's state), and the signals a cell relies on get their default action. The
  // child has its own copy of the dispositions (no CLONE_SIGHAND).
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0 || current.sa_handler == SIG_DFL)
      continue;
    const bool must_default =
        std::find(default_signals.begin(), default_signals.end(), sig) != default_signals.end();
    if (current.sa_handler != SIG_IGN || must_default)
      (void)::sigaction(sig, &default_action, nullptr);
  }
  if (::setpgid(0, 0) != 0)
    fail_in_child(plan.report_fd, child_step::setpgid, errno);

  int next = 3; // the lowest fd number not handled yet
  for (const auto& move : plan.fds->moves()) {
    if (::dup2(move.temp, move.as) < 0)
      fail_in_child(plan.report_fd, child_step::dup2, errno);
    close_in_child(plan, next, static_cast<unsigned>(move.as) - 1);
    next = move.as + 1;
  }
  // Every other fd goes, even one the host forgot to make close-on-exec; the report
  // pipe and the image stay until exec closes them.
  const int low_keep =
      plan.image_fd >= 0 ? std::min(plan.image_fd, plan.report_fd) : plan.report_fd;
  const int high_keep = std::max(plan.image_fd, plan.report_fd);
  close_in_child(plan, next, static_cast<unsigned>(low_keep) - 1);
  close_in_child(plan, low_keep + 1, static_cast<unsigned>(high_keep) - 1);
  close_in_child(plan, high_keep + 1, ~0U);

  if (plan.user != nullptr)
    take_identity(plan, *plan.user);

  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
  exec_binary(plan);
}

// Lists where a child's binary may be: itself when it has a '/', else each entry of
// the host's PATH (as execvp searches it; an empty entry is the working directory).
std::vector<std::string> exec_candidates(const std::string& binary) {
  if (binary.find('/') != std::string::npos)
    return {binary};
  const char* path = std::getenv("PATH");
  const std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  std::vector<std::string> candidates;
  std::size_t at = 0;
  for (;;) {
    const auto end = dirs.find(':', at);
    const auto dir = dirs.substr(at, end == std::string_view::npos ? end : end - at);
    candidates.push_back(dir.empty() ? binary : fmt::format("{}/{}", dir, binary));
    if (end == std::string_view::npos)
      return candidates;
    at = end + 1;
  }
}

// Returns the first candidate that is a regular file the host may exec, or nothing
// (then the child tries them all and reports why none ran).
const std::string* first_executable(const std::vector<std::string>& candidates) {
  for (const auto& path : candidates) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) == 0)
      return &path;
  }
  return nullptr;
}

// Explains a child's failure before exec.
error child_error(const child_failure& failure, const spawn_options& options) {
  if (!options.user)
    return error{errc::spawn_failed,
                 fmt::format("spawn {}: {} failed", options.binary, describe(failure.step)),
                 failure.err};
  const auto& user = *options.user;
  const bool refused = failure.err == EPERM &&
                       (failure.step == child_step::setgroups ||
                        failure.step == child_step::setgid || failure.step == child_step::setuid);
  const auto* why = refused ? " refused: running a cell as another user needs a host with "
                              "CAP_SETUID and CAP_SETGID (root)"
                            : " failed";
  return error{errc::spawn_failed,
               fmt::format("spawn {} as uid {} gid {}: {}{}", options.binary, user.uid, user.gid,
                           describe(failure.step), why),
               failure.err};
}

// Starts a child (vfork: no copy of the host's page tables, whatever its size) that
// sets itself up as `process` describes and execs the binary; returns its pid.
result<pid_t> start_child(const spawn_options& options, const fd_plan& fds,
                          std::vector<char*>& argv, std::vector<char*>& envp) {
  const auto candidate_strings = exec_candidates(options.binary);
  std::vector<const char*> candidates;
  candidates.reserve(candidate_strings.size());
  for (const auto& path : candidate_strings)
    candidates.push_back(path.c_str());

  detail::unique_fd image;
  const std::string* image_path = nullptr;
  if (options.sealed_image) {
    image_path = first_executable(candidate_strings);
    if (image_path != nullptr) {
      BOOST_OUTCOME_TRY(sealed, detail::sealed_exec_image(*image_path));
      if (sealed.get() >= 0) {
        // Above every fd the child inherits, so its fd moves cannot overwrite it.
        image = detail::unique_fd{::fcntl(sealed.get(), F_DUPFD_CLOEXEC, fds.top() + 1)};
        if (image.get() < 0)
          return spawn_error("fcntl(F_DUPFD_CLOEXEC) of the sealed image for", options.binary,
                             errno);
      }
    }
  }

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0)
    return spawn_error("pipe2 for", options.binary, errno);
  detail::unique_fd read_end{report[0]};
  detail::unique_fd write_end{::fcntl(report[1], F_DUPFD_CLOEXEC, fds.top() + 1)};
  const int dup_err = errno;
  ::close(report[1]);
  if (write_end.get() < 0)
    return spawn_error("fcntl(F_DUPFD_CLOEXEC) of the report pipe for", options.binary, dup_err);

  const child_plan plan{argv.data(),
                        envp.data(),
                        &candidates,
                        image.get(),
                        image.get() >= 0 ? image_path->c_str() : nullptr,
                        &fds,
                        options.user ? &*options.user : nullptr,
                        write_end.get()};
  // Every signal stays blocked from the vfork until the child has reset its handlers,
  // so no host handler runs in the child (on the host's memory).
  sigset_t all;
  sigfillset(&all);
  sigset_t previous;
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  const pid_t pid = ::vfork();
  if (pid == 0)
    exec_in_child(plan);
  // The host resumes once the child has exec'd or exited.
  const int vfork_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  write_end.reset();
  if (pid < 0)
    return spawn_error("vfork for", options.binary, vfork_err);

  // EOF: the exec succeeded and closed the pipe. A report: the child failed and exits.
  child_failure failure{};
  ssize_t got = 0;
  do {
    got = ::read(read_end.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == 0)
    return pid;
  const int read_err = errno;
  if (got != static_cast<ssize_t>(sizeof failure)) {
    // Not a report the child wrote: do not leave it running.
    ::kill(pid, SIGKILL);
  }
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (got != static_cast<ssize_t>(sizeof failure))
    return spawn_error("reading the child's report for", options.binary, got < 0 ? read_err : EIO);
  return child_error(failure, options);
}

// Rejects options that cannot describe a child.
result<void> check_options(const spawn_options& options, const std::vector<inherited_fd>& fds) {
  if (options.binary.empty())
    return make_error(errc::invalid_argument, "spawn: binary is empty");
  for (const auto& [name, value] : options.env)
    if (name.empty() || name.find('=') != std::string::npos)
      return make_error(errc::invalid_argument, fmt::format("spawn {}: bad environment name {}",
                                                            options.binary, quoted(name)));
  for (auto wanted = fds.begin(); wanted != fds.end(); ++wanted) {
    if (wanted->fd < 0)
      return make_error(
          errc::invalid_argument,
          fmt::format("spawn {}: inherited fd {} is not an fd", options.binary, wanted->fd));
    if (wanted->as < 3 || wanted->as > max_inherit_as)
      return make_error(errc::invalid_argument,
                        fmt::format("spawn {}: fd {} would be fd {} in the child, outside [3, {}] "
                                    "(0-2 are stdio)",
                                    options.binary, wanted->fd, wanted->as, max_inherit_as));
    for (auto earlier = fds.begin(); earlier != wanted; ++earlier)
      if (earlier->as == wanted->as)
        return make_error(
            errc::invalid_argument,
            fmt::format("spawn {}: fds {} and {} would both be fd {} in the child{}",
                        options.binary, earlier->fd, wanted->fd, wanted->as,
                        wanted->as == 3 ? " (a ticket puts the cell's doorbell at fd 3)" : ""));
  }
  if (options.user) {
    const auto& user = *options.user;
    if (user.uid == static_cast<uid_t>(-1) || user.gid == static_cast<gid_t>(-1))
      return make_error(errc::invalid_argument,
                        fmt::format("spawn {}: user uid {} gid {}: -1 is not an id", options.binary,
                                    static_cast<long>(user.uid), static_cast<long>(user.gid)));
    const long max_groups = ::sysconf(_SC_NGROUPS_MAX);
    if (max_groups >= 0 && user.groups.size() > static_cast<std::size_t>(max_groups))
      return make_error(errc::invalid_argument,
                        fmt::format("spawn {}: {} supplementary groups, more than the {} allowed",
                                    options.binary, user.groups.size(), max_groups));
    for (const gid_t group : user.groups)
      if (group == static_cast<gid_t>(-1))
        return make_error(
            errc::invalid_argument,
            fmt::format("spawn {}: supplementary group -1 is not an id", options.binary));
  }
  return success();
}

} // namespace

std::string exit_status::describe() const {
  if (!signaled)
    return fmt::format("exit code {}", code);
  const char* abbrev = sigabbrev_np(signal);
  const std::string_view dumped = core_dumped ? ", core dumped" : "";
  if (abbrev == nullptr)
    return core_dumped ? fmt::format("signal {} (core dumped)", signal)
                       : fmt::format("signal {}", signal);
  return fmt::format("signal {} (SIG{}{})", signal, abbrev, dumped);
}

std::ostream& operator<<(std::ostream& out, const exit_status& status) {
  return out << status.describe();
}

result<process> process::spawn(const spawn_options& options) {
  BOOST_OUTCOME_TRY(check_options(options, options.inherit));

  std::vector<std::string> argv_strings;
  argv_strings.reserve(options.args.size() + 1);
  argv_strings.push_back(options.binary);
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  auto env_strings = build_environment(options.env);
  auto argv = to_pointers(argv_strings);
  auto envp = to_pointers(env_strings);

  fd_plan fds;
  BOOST_OUTCOME_TRY(fds.prepare(options.inherit, options.binary));

  BOOST_OUTCOME_TRY(started, start_child(options, fds, argv, envp));
  const pid_t pid = started;

  // The child stays ours until reaped, so its pid cannot be reused before this call.
  // pidfd_open always sets O_CLOEXEC on the new fd.
  const int pidfd = pidfd_open(pid, 0);
  if (pidfd < 0) {
    const int open_err = errno;
    ::kill(-pid, SIGKILL); // its group, like any ended cell's (the child is not reaped yet)
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return spawn_error(fmt::format("pidfd_open (pid {}) for", pid), options.binary, open_err);
  }
  return process{pid, pidfd};
}

process::process(process&& other) noexcept
    : pid_{std::exchange(other.pid_, -1)}
    , pidfd_{std::exchange(other.pidfd_, -1)}
    , status_{std::exchange(other.status_, std::nullopt)}
    , warned_{std::exchange(other.warned_, false)} {}

process& process::operator=(process&& other) noexcept {
  if (this != &other) {
    reset();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    warned_ = std::exchange(other.warned_, false);
  }
  return *this;
}

process::~process() {
  reset();
}

result<std::optional<exit_status>> peek_exit(int pidfd) {
  siginfo_t info{};
  for (;;) {
    // waitid leaves si_pid untouched when WNOHANG finds nothing, so it must start at 0.
    info.si_pid = 0;
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | WNOWAIT) == 0)
      break;
    if (errno != EINTR)
      return make_sys_error("waitid on a pidfd");
  }
  if (info.si_pid == 0)
    return std::optional<exit_status>{};
  return std::optional<exit_status>{to_exit_status(info)};
}

void process::kill_group() const noexcept {
  // Safe only while the leader is not reaped: its pid, and so the group id, cannot
  // be reused, and the signal cannot reach an unrelated group. ESRCH (the group is
  // empty, e.g. the leader moved itself to another group) is fine.
  ::kill(-pid_, SIGKILL);
}

int process::reap_if_exited() noexcept {
  siginfo_t info{};
  for (;;) {
    // waitid leaves si_pid untouched when WNOHANG finds nothing, so it must start at 0.
    // WNOWAIT: look first, so the group can be killed while the zombie holds its id.
    info.si_pid = 0;
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG | WNOWAIT) == 0)
      break;
    if (errno != EINTR)
      return errno;
  }
  if (info.si_pid == 0)
    return 0;
  kill_group();
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG) != 0)
    if (errno != EINTR)
      return errno;
  status_ = to_exit_status(info);
  return 0;
}

std::optional<exit_status> process::try_wait() noexcept {
  if (status_ || pidfd_ < 0)
    return status_;
  if (const int err = reap_if_exited(); err != 0 && !warned_) {
    warned_ = true;
    try {
      // ECHILD means someone else reaped the child (waitpid(-1) or SIGCHLD ignored).
      logger()->warn("process pid={} waitid failed: {} (errno {}); exit status lost", pid_,
                     std::strerror(err), err);
    } catch (...) {
      // Logging must not throw out of a noexcept call.
    }
  }
  return status_;
}

result<exit_status> process::wait_for(std::chrono::nanoseconds timeout) noexcept {
  if (status_)
    return *status_;
  if (pidfd_ < 0)
    return make_error(errc::invalid_argument, "wait_for on an empty process handle");
  using clock = std::chrono::steady_clock;
  const bool forever = timeout < 0ns;
  const auto start = clock::now();
  auto remaining = timeout;
  for (;;) {
    // The pidfd turns readable when the child exits; only then is reaping non-blocking.
    const int revents = detail::poll_until(pidfd_, POLLIN, remaining);
    if (revents < 0)
      return make_sys_error(fmt::format("ppoll on pidfd of pid {}", pid_), -revents);
    if (revents != 0) {
      if (const int err = reap_if_exited(); err != 0)
        return make_sys_error(fmt::format("waitid for pid {}", pid_), err);
      if (status_)
        return *status_;
    }
    if (!forever) {
      remaining =
          timeout - std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start);
      if (remaining <= 0ns || revents == 0)
        return make_error(
            errc::timeout,
            fmt::format("pid {} still running after {} ms", pid_,
                        std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
    }
  }
}

result<void> process::send_signal(int sig) noexcept {
  if (status_)
    return success();
  if (pidfd_ < 0)
    return make_error(errc::invalid_argument, "send_signal on an empty process handle");
  if (pidfd_send_signal(pidfd_, sig, nullptr, 0) == 0)
    return success();
  // ESRCH: the child has exited and only waits to be reaped; nothing is left to signal.
  if (errno == ESRCH)
    return success();
  return make_sys_error(fmt::format("pidfd_send_signal({}) to pid {}", sig, pid_));
}

bool process::running() const noexcept {
  if (status_ || pidfd_ < 0)
    return false;
  pollfd entry{pidfd_, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&entry, 1, 0);
  } while (ready < 0 && errno == EINTR);
  return !(ready > 0 && (entry.revents & POLLIN) != 0);
}

void process::detach() noexcept {
  if (pidfd_ < 0 || status_) {
    reset(); // nothing left to outlive the handle
    return;
  }
  detail::child_reaper::instance().take(std::move(*this));
}

void process::abandon() noexcept {
  if (pidfd_ >= 0)
    ::close(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
  status_.reset();
  warned_ = false;
}

void process::reset() noexcept {
  if (pidfd_ >= 0) {
    if (!status_) {
      // A cell must never outlive its handle: kill it and its group, then reap so no
      // zombie is left. The group goes first, while the unreaped leader holds its id;
      // the leader is also signalled on its own in case it left the group.
      kill_group();
      const bool was_running = pidfd_send_signal(pidfd_, SIGKILL, nullptr, 0) == 0;
      siginfo_t info{};
      while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_), &info, WEXITED) != 0 && errno == EINTR) {
      }
      if (was_running) {
        try {
          logger()->debug("process pid={} killed and reaped by its handle ({})", pid_,
                          to_exit_status(info).describe());
        } catch (...) {
          // Logging must not throw out of a destructor.
        }
      }
    }
    ::close(pidfd_);
  }
  pid_ = -1;
  pidfd_ = -1;
  status_.reset();
  warned_ = false;
}

} // namespace cellhub::transport
