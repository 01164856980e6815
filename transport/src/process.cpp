#include "cellhub/transport/process.hpp"

#include "poll_until.hpp"

#include "cellhub/transport/log.hpp"
#include "cellhub/transport/quoted.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
// glibc 2.36's <sys/pidfd.h> lacks __BEGIN_DECLS, so C++ would mangle the names
// (fixed in 2.37). What it includes (<fcntl.h>, siginfo_t) is included above, so only
// its own declarations end up inside the extern "C".
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <string_view>

namespace cellhub::transport {
namespace {

using namespace std::chrono_literals;

// Signals a cell must see with their default action even if the host ignores them
// (an ignored disposition survives exec; a handler does not).
constexpr std::array default_signals = {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD};

// Bounds `spawn_options::inherit_as` by the kernel's default fs.nr_open, which also
// keeps `inherit_as + 1` from overflowing.
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

// Owns posix_spawn's attribute and file-action objects for the length of one spawn.
struct spawn_setup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};
  bool attr_ready = false;
  bool actions_ready = false;
  int temp_fd = -1;

  spawn_setup() = default;
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
  ~spawn_setup() {
    if (actions_ready)
      posix_spawn_file_actions_destroy(&actions);
    if (attr_ready)
      posix_spawnattr_destroy(&attr);
    if (temp_fd >= 0)
      ::close(temp_fd);
  }
};

error spawn_error(std::string what, const std::string& binary, int err) {
  return error{errc::spawn_failed, fmt::format("{} {}", what, binary), err};
}

// Prepares signal state and fds for the child; see `process` for what the child gets.
result<void> prepare(spawn_setup& setup, const spawn_options& options) {
  if (int err = posix_spawnattr_init(&setup.attr); err != 0)
    return spawn_error("posix_spawnattr_init for", options.binary, err);
  setup.attr_ready = true;
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : default_signals)
    sigaddset(&defaults, sig);
  // POSIX_SPAWN_USEVFORK is implied by glibc >= 2.24 (clone with CLONE_VM|CLONE_VFORK);
  // it is set to state the intent: no page-table copy of a large host.
  // POSIX_SPAWN_SETPGROUP with group 0: the child leads a new process group, so
  // that everything it starts can be ended with it (see `process`).
  const auto flags =
      POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK | POSIX_SPAWN_SETPGROUP;
  if (int err = posix_spawnattr_setflags(&setup.attr, static_cast<short>(flags)); err != 0)
    return spawn_error("posix_spawnattr_setflags for", options.binary, err);
  if (int err = posix_spawnattr_setpgroup(&setup.attr, 0); err != 0)
    return spawn_error("posix_spawnattr_setpgroup for", options.binary, err);
  if (int err = posix_spawnattr_setsigmask(&setup.attr, &empty_mask); err != 0)
    return spawn_error("posix_spawnattr_setsigmask for", options.binary, err);
  if (int err = posix_spawnattr_setsigdefault(&setup.attr, &defaults); err != 0)
    return spawn_error("posix_spawnattr_setsigdefault for", options.binary, err);

  if (int err = posix_spawn_file_actions_init(&setup.actions); err != 0)
    return spawn_error("posix_spawn_file_actions_init for", options.binary, err);
  setup.actions_ready = true;
  int keep_below = 3; // every fd from here up is closed in the child
  if (options.inherit_fd >= 0) {
    // Duplicate above `inherit_as` first, so the child's dup2 never has equal fds:
    // glibc before 2.29 left FD_CLOEXEC set on dup2(fd, fd) (BZ #23640). The copy is
    // close-on-exec and above `inherit_as`, so the closefrom below drops it.
    setup.temp_fd = ::fcntl(options.inherit_fd, F_DUPFD_CLOEXEC, options.inherit_as + 1);
    if (setup.temp_fd < 0) {
      const int err = errno;
      return error{errc::invalid_argument,
                   fmt::format("inherit_fd {} cannot be duplicated above inherit_as {}",
                               options.inherit_fd, options.inherit_as),
                   err};
    }
    if (int err =
            posix_spawn_file_actions_adddup2(&setup.actions, setup.temp_fd, options.inherit_as);
        err != 0)
      return spawn_error(
          fmt::format("posix_spawn_file_actions_adddup2 to fd {} for", options.inherit_as),
          options.binary, err);
    for (int fd = 3; fd < options.inherit_as; ++fd)
      if (int err = posix_spawn_file_actions_addclose(&setup.actions, fd); err != 0)
        return spawn_error("posix_spawn_file_actions_addclose for", options.binary, err);
    keep_below = options.inherit_as + 1;
  }
  // Close every other fd even if the host forgot CLOEXEC on it (a library, a test
  // harness): a cell holding another cell's doorbell would hide that cell's death.
  if (int err = posix_spawn_file_actions_addclosefrom_np(&setup.actions, keep_below); err != 0)
    return spawn_error("posix_spawn_file_actions_addclosefrom_np for", options.binary, err);
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
  if (options.binary.empty())
    return make_error(errc::invalid_argument, "spawn: binary is empty");
  if (options.inherit_fd >= 0 && (options.inherit_as < 3 || options.inherit_as > max_inherit_as))
    return make_error(errc::invalid_argument,
                      fmt::format("spawn {}: inherit_as {} is outside [3, {}] (0-2 are stdio)",
                                  options.binary, options.inherit_as, max_inherit_as));
  for (const auto& [name, value] : options.env)
    if (name.empty() || name.find('=') != std::string::npos)
      return make_error(errc::invalid_argument, fmt::format("spawn {}: bad environment name {}",
                                                            options.binary, quoted(name)));

  std::vector<std::string> argv_strings;
  argv_strings.reserve(options.args.size() + 1);
  argv_strings.push_back(options.binary);
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  auto env_strings = build_environment(options.env);
  const auto argv = to_pointers(argv_strings);
  const auto envp = to_pointers(env_strings);

  spawn_setup setup;
  BOOST_OUTCOME_TRY(prepare(setup, options));

  pid_t pid = -1;
  // glibc reports a failed exec through the return value (the vfork'ed child writes
  // the errno before _exit) and reaps that child itself.
  const bool search_path = options.binary.find('/') == std::string::npos;
  const int err = search_path ? posix_spawnp(&pid, options.binary.c_str(), &setup.actions,
                                             &setup.attr, argv.data(), envp.data())
                              : posix_spawn(&pid, options.binary.c_str(), &setup.actions,
                                            &setup.attr, argv.data(), envp.data());
  if (err != 0)
    return spawn_error(search_path ? "posix_spawnp" : "posix_spawn", options.binary, err);

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
