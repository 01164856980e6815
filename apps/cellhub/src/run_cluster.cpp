#include "cellhub/actors/embedding.hpp"
#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/cli/commands.hpp"
#include "cellhub/cli/console.hpp"
#include "cellhub/cli/link_setup.hpp"
#include "cellhub/transport/log.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace cellhub::cli {
namespace {

namespace ac = cellhub::actors;

// Owns one fd.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

// Tells how the wait in `run_cluster` ended.
enum class wake_reason { signal, timeout, console };

wake_reason wait_for_end(int signal_fd, int wake_fd,
                         std::optional<std::chrono::nanoseconds> limit) {
  fd_guard epoll{::epoll_create1(EPOLL_CLOEXEC)};
  for (int fd : {signal_fd, wake_fd}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll.fd, EPOLL_CTL_ADD, fd, &ev);
  }
  const auto deadline = limit ? std::chrono::steady_clock::now() + *limit
                              : std::chrono::steady_clock::time_point::max();
  for (;;) {
    int wait_ms = -1;
    if (limit) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return wake_reason::timeout;
      wait_ms = static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30));
    }
    epoll_event ev{};
    const int n = ::epoll_wait(epoll.fd, &ev, 1, wait_ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      continue; // the deadline is checked above
    return ev.data.fd == signal_fd ? wake_reason::signal : wake_reason::console;
  }
}

} // namespace

int run_cluster(const run_options& options) {
  auto loaded = load_cluster_config(options.config, options.program_dir);
  if (auto* err = std::get_if<config_error>(&loaded)) {
    std::fprintf(stderr, "cellhub: %s\n", err->to_string().c_str());
    return exit_bad_usage;
  }
  auto config = std::get<cluster_config>(std::move(loaded));
  // The control port's TLS credentials (generated on first use) or its --insecure
  // address check. Declared before the actor system: CAF reads the credentials at
  // every connection, so they outlive it.
  std::optional<remote::link_security> control;
  if (options.listen_port) {
    auto made = make_link_security(options.link, options.listen_address, link_role::listen);
    if (auto* code = std::get_if<int>(&made))
      return *code;
    control = std::get<remote::link_security>(std::move(made));
  }

  // Block the stop signals in every thread (the actor system's threads inherit the
  // mask) and take them through a signalfd in the main thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  fd_guard signal_fd{::signalfd(-1, &stop_signals, SFD_CLOEXEC)};
  fd_guard wake_fd{::eventfd(0, EFD_CLOEXEC)};

  // One warning per cell death stays; routine lines would scroll the live view away.
  if (!options.verbose)
    transport::logger()->set_level(spdlog::level::warn);

  caf::actor_system_config cfg;
  ac::prepare_config(cfg);
  if (control)
    control->configure(cfg);
  caf::actor_system sys{cfg};

  auto tree = ac::supervision_tree::start(sys, config.hub_path, config.root, {.hub = config.hub});
  if (!tree) {
    std::fprintf(stderr, "cellhub: cannot start the cluster: %s\n",
                 sys.render(tree.error()).c_str());
    return exit_runtime_error;
  }
  auto signal = std::make_shared<run_signal>();
  signal->wake_fd = wake_fd.fd;
  console_options console_opts;
  console_opts.config = config;
  console_opts.events_file = options.events_file;
  console_opts.terminal = !options.plain && ::isatty(STDOUT_FILENO) != 0;
  console_opts.chaos_rate = options.chaos_rate;
  console_opts.refresh =
      console_opts.terminal ? std::chrono::milliseconds{250} : std::chrono::milliseconds{1000};
  auto console = spawn_console(sys, tree->root(), tree->registry(), console_opts, signal);

  if (options.listen_port) {
    const auto port =
        publish_control(sys, console, options.listen_address, *options.listen_port, *control);
    if (!port) {
      caf::anon_send_exit(console, caf::exit_reason::user_shutdown);
      tree->stop();
      return exit_runtime_error;
    }
  }

  const auto woke = wait_for_end(signal_fd.fd, wake_fd.fd, options.duration);
  bool gave_up = false;
  std::string why;
  {
    std::lock_guard guard{signal->mutex};
    gave_up = signal->root_down && !signal->stop_requested;
    why = signal->escalation;
  }
  if (woke == wake_reason::signal)
    std::fprintf(stderr, "cellhub: stopping (signal)\n");
  auto reason = tree->stop();
  {
    caf::scoped_actor self{sys};
    self->request(console, std::chrono::seconds{5}, caf::get_atom_v)
        .receive(
            [](const std::string& summary) {
              std::printf("cellhub: stopped: %s\n", summary.c_str());
            },
            [](const caf::error&) {});
  }
  caf::anon_send_exit(console, caf::exit_reason::user_shutdown);
  if (gave_up || (reason && reason != caf::exit_reason::user_shutdown)) {
    std::fprintf(stderr, "cellhub: supervision gave up: %s\n",
                 why.empty() ? sys.render(reason).c_str() : why.c_str());
    return exit_supervision_gave_up;
  }
  return exit_ok;
}

int check_config(const std::filesystem::path& config, const std::filesystem::path& program_dir) {
  auto loaded = load_cluster_config(config, program_dir);
  if (auto* err = std::get_if<config_error>(&loaded)) {
    std::fprintf(stderr, "cellhub: %s\n", err->to_string().c_str());
    return exit_bad_usage;
  }
  std::fputs(describe(std::get<cluster_config>(loaded)).c_str(), stdout);
  return exit_ok;
}

} // namespace cellhub::cli
