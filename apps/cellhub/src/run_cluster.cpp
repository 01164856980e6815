#include "cellhub/actors/embedding.hpp"
#include "cellhub/cli/cluster_config.hpp"
#include "cellhub/cli/commands.hpp"
#include "cellhub/cli/console.hpp"
#include "cellhub/cli/console_types.hpp"
#include "cellhub/cli/link_setup.hpp"
#include "cellhub/cli/preflight.hpp"
#include "cellhub/cli/run_end.hpp"
#include "cellhub/cluster/cluster_node.hpp"
#include "cellhub/remote/link_security.hpp"
#include "cellhub/transport/log.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>

#include <array>
#include <csignal>
#include <cstdio>
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

} // namespace

int run_cluster(const run_options& options) {
  auto loaded = load_cluster_config(options.config, options.program_dir);
  if (auto* err = std::get_if<config_error>(&loaded)) {
    std::fprintf(stderr, "cellhub: %s\n", err->to_string().c_str());
    return exit_bad_usage;
  }
  auto config = std::get<cluster_config>(std::move(loaded));

  // Everything that can refuse the run is checked before anything starts.
  std::shared_ptr<events_file> events;
  if (!options.events_file.empty()) {
    std::string problem;
    auto opened = events_file::open(options.events_file, problem);
    if (!opened) {
      std::fprintf(stderr, "cellhub: --events: %s\n", problem.c_str());
      return exit_bad_usage;
    }
    events = std::make_shared<events_file>(std::move(*opened));
  }
  // A control port and a cluster port hold fds beside the cells': count them too.
  const bool links = options.listen_port || config.cluster;
  const auto port_limits = links ? std::optional{control_limits} : std::nullopt;
  if (!links && (options.link.insecure || !options.link.tls_dir.empty())) {
    std::fprintf(stderr, "cellhub: --insecure and --tls-dir secure links: they need --listen "
                         "or a [cluster] table\n");
    return exit_bad_usage;
  }
  if (const auto report = preflight(config, port_limits); !report.fits()) {
    std::fprintf(stderr, "cellhub: cannot run here: %s\n", report.problem.c_str());
    return report.refusal;
  }
  // The control port's TLS credentials (generated on first use) or its --insecure
  // address check. Declared before the actor system: CAF reads the credentials at
  // every connection, so they outlive it.
  // The links between the nodes of a cluster use the same credentials, or the same
  // --insecure, with every address they touch on loopback.
  std::optional<remote::link_security> control;
  if (links) {
    const auto& first = options.listen_port ? options.listen_address : config.cluster->listen.host;
    auto made = make_link_security(options.link, first, link_role::listen);
    if (auto* code = std::get_if<int>(&made))
      return *code;
    control = std::get<remote::link_security>(std::move(made));
    if (config.cluster && !control->uses_tls()) {
      std::vector<std::string> hosts{config.cluster->listen.host};
      for (const auto& joined : config.cluster->join)
        hosts.push_back(joined.host);
      for (const auto& host : hosts) {
        auto checked = make_link_security(options.link, host, link_role::connect);
        if (auto* code = std::get_if<int>(&checked))
          return *code;
      }
    }
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
  cluster::prepare_config(cfg);
  cfg.add_message_types<caf::id_block::cellhub_cli>();
  if (control)
    control->configure(cfg);
  caf::actor_system sys{cfg};

  // The console subscribes before the tree starts, so that it records its first event.
  auto signal = std::make_shared<run_signal>(wake_fd.fd);
  console_options console_opts;
  console_opts.config = config;
  console_opts.events = std::move(events);
  console_opts.terminal = !options.plain && ::isatty(STDOUT_FILENO) != 0;
  console_opts.chaos_rate = options.chaos_rate;
  console_opts.refresh =
      console_opts.terminal ? std::chrono::milliseconds{250} : std::chrono::milliseconds{1000};
  auto console = spawn_console(sys, console_opts, signal);
  // The node, like the console, sees the tree's first event.
  std::optional<cluster::cluster_node> node;
  std::vector<caf::actor> subscribers{caf::actor_cast<caf::actor>(console)};
  if (config.cluster) {
    node = cluster::cluster_node::spawn(sys, *config.cluster, *control);
    subscribers.push_back(node->subscriber());
  }
  auto tree = ac::supervision_tree::start(sys, config.hub_path, config.root,
                                          {.hub = config.hub, .subscribers = subscribers});
  if (!tree) {
    std::fprintf(stderr, "cellhub: cannot start the cluster: %s\n",
                 sys.render(tree.error()).c_str());
    caf::anon_send_exit(console, caf::exit_reason::user_shutdown);
    return exit_runtime_error;
  }
  caf::anon_send(console, caf::join_atom_v, tree->root(), tree->registry());
  if (node) {
    auto port = node->start(tree->registry());
    if (!port) {
      std::fprintf(stderr, "cellhub: cluster: %s\n", port.error().message().c_str());
      caf::anon_send_exit(console, caf::exit_reason::user_shutdown);
      node->stop();
      tree->stop();
      return exit_runtime_error;
    }
    caf::anon_send(console, caf::join_atom_v, node->actor());
    std::fprintf(
        stderr, "cellhub: cluster node %s listening on %s (%s)\n", config.cluster->node.c_str(),
        cluster::node_address{config.cluster->listen.host, port.value()}.to_string().c_str(),
        control->describe().c_str());
  }

  if (options.listen_port) {
    const auto port =
        publish_control(sys, console, options.listen_address, *options.listen_port, *control);
    if (!port) {
      caf::anon_send_exit(console, caf::exit_reason::user_shutdown);
      if (node)
        node->stop();
      tree->stop();
      return exit_runtime_error;
    }
  }

  // What the stop is doing goes to stderr and under the live table, where a redraw
  // would otherwise wipe it.
  const auto say = [&console](const std::string& text) {
    std::fprintf(stderr, "cellhub: %s\n", text.c_str());
    caf::anon_send(console, caf::update_atom_v, text);
  };
  const auto end = await_run_end(*tree, *signal, signal_fd.fd, wake_fd.fd, options.duration, say);
  if (node)
    node->stop(); // the other nodes see this one down at once
  tree->stop();   // the root is down: this ends the registry and the doorbell watcher
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
  switch (end.kind) {
  case run_end_kind::root_gave_up:
    std::fprintf(stderr, "cellhub: supervision gave up: %s\n", end.detail.c_str());
    break;
  case run_end_kind::failure:
  case run_end_kind::root_ended:
    std::fprintf(stderr, "cellhub: run failed: %s\n", end.detail.c_str());
    break;
  case run_end_kind::signal:
  case run_end_kind::duration:
  case run_end_kind::remote_stop:
    if (end.killed)
      std::fprintf(stderr, "cellhub: every cell was killed on request\n");
    break;
  }
  return end.exit_code();
}

} // namespace cellhub::cli
