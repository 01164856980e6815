// cell_manager — runs N cells on a hub and keeps them running: a crashed cell is
// relaunched under a new peer id with exponential backoff, up to a limit; a cell
// that said goodbye is left alone. Prints one line per event to stdout (or
// --report-fd) and stops its cells cleanly on SIGTERM/SIGINT or after --run-for-ms.
//
//   cell_manager --cell-binary PATH [--cells N] [--max-relaunches N] [--backoff-ms N]
//                [--run-for-ms N] [--hub-path P] [--report-fd N] [-- CELL ARGS...]
//
// Exit codes: 0 clean stop, 1 runtime error, 2 bad usage.
#include "cell_manager.hpp"

#include "cellhub/transport/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <sys/signalfd.h>
#include <unistd.h>
#include <vector>

namespace tr = cellhub::transport;
namespace ex = cellhub::examples;

namespace {

// Writes `line` and a newline to `fd` in one write, so that lines never interleave.
void write_line(int fd, std::string_view line) {
  std::string text{line};
  text += '\n';
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return; // nobody reads the events any more; the cells still matter
    done += static_cast<std::size_t>(n);
  }
}

// Blocks SIGTERM and SIGINT and returns a signalfd that reports them (-1 on failure).
// Children start with an empty mask (process::spawn), so the block is ours alone.
int open_stop_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0)
    return -1;
  return ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"cell_manager: keeps cells running on a hub, relaunching the ones that crash"};
  std::string cell_binary;
  unsigned cells = 1;
  std::uint32_t max_relaunches = 5;
  long backoff_ms = 100;
  long run_for_ms = 0;
  long stop_timeout_ms = 2000;
  std::string hub_path = fmt::format("/dev/shm/cellhub-cell-manager-{}", ::getpid());
  int report_fd = STDOUT_FILENO;
  std::vector<std::string> cell_args;
  app.add_option("--cell-binary", cell_binary, "Executable every cell runs")->required();
  app.add_option("--cells", cells, "Number of cells (cell-0 ...)")->capture_default_str();
  app.add_option("--max-relaunches", max_relaunches, "Relaunches per cell before giving up")
      ->capture_default_str();
  app.add_option("--backoff-ms", backoff_ms, "First relaunch delay; doubles each relaunch")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--run-for-ms", run_for_ms, "Stop after this long (0: until SIGTERM/SIGINT)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stop-timeout-ms", stop_timeout_ms, "Wait this long for cells to exit")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--hub-path", hub_path, "Hub file to create")->capture_default_str();
  app.add_option("--report-fd", report_fd, "Fd the event lines go to")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("cell-args", cell_args, "Arguments every cell gets (after --)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  // A reader that went away must not kill the manager (and, with it, the cells).
  std::signal(SIGPIPE, SIG_IGN);
  const int stop_fd = open_stop_signals();
  if (stop_fd < 0) {
    tr::logger()->error("cell_manager: cannot watch SIGTERM/SIGINT: {}", std::strerror(errno));
    return 1;
  }
  auto hub = tr::hub_host::create(hub_path);
  if (!hub) {
    tr::logger()->error("cell_manager: {}", hub.error().message());
    return 1;
  }
  auto manager =
      ex::cell_manager::create(hub.value(),
                               {.max_relaunches = max_relaunches,
                                .backoff_base = std::chrono::milliseconds{backoff_ms},
                                .stop_timeout = std::chrono::milliseconds{stop_timeout_ms}},
                               [report_fd](std::string_view line) { write_line(report_fd, line); });
  if (!manager) {
    tr::logger()->error("cell_manager: {}", manager.error().message());
    return 1;
  }
  auto& cells_manager = *manager.value();
  for (unsigned i = 0; i < cells; ++i) {
    auto spawned = cells_manager.spawn_cell(fmt::format("cell-{}", i),
                                            {.binary = cell_binary, .args = cell_args});
    if (!spawned) {
      tr::logger()->error("cell_manager: cannot start cell-{}: {}", i, spawned.error().message());
      cells_manager.stop();
      return 1;
    }
  }

  std::optional<ex::cell_manager::clock::time_point> until;
  if (run_for_ms > 0)
    until = ex::cell_manager::clock::now() + std::chrono::milliseconds{run_for_ms};
  auto ran = cells_manager.run(stop_fd, until);
  int code = 0;
  if (!ran) {
    tr::logger()->error("cell_manager: {}", ran.error().message());
    code = 1;
  }
  if (signalfd_siginfo info{}; ::read(stop_fd, &info, sizeof info) == sizeof info)
    tr::logger()->info("cell_manager: got SIG{}; stopping",
                       sigabbrev_np(static_cast<int>(info.ssi_signo)));
  cells_manager.stop();
  ::close(stop_fd);
  return code;
}
