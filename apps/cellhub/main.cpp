// cellhub — runs a supervised cell cluster from a TOML file, shows it live, and
// controls a running one. Exit codes: 0 clean stop, 1 runtime error, 2 bad
// configuration or usage, 3 supervision gave up.
#include "cellhub/cli/chaos_rate.hpp"
#include "cellhub/cli/commands.hpp"

#include <cellhub/apps/duration.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <unistd.h>

namespace {

namespace cli = cellhub::cli;

std::filesystem::path program_dir(const char* argv0) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    self = std::filesystem::absolute(argv0);
  return self.parent_path();
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"cellhub: supervised cell processes over shared memory"};
  app.set_version_flag("--version", std::string{"cellhub "} + CELLHUB_VERSION);
  app.require_subcommand(1);

  cli::run_options run;
  std::string duration_text;
  auto* run_cmd = app.add_subcommand("run", "Run a cluster from CONFIG until Ctrl-C");
  run_cmd->add_option("config", run.config, "Cluster configuration (TOML)")->required();
  run_cmd->add_option("--events", run.events_file, "Write lifecycle events as JSON lines");
  run_cmd->add_option("--duration", duration_text, "Stop cleanly after D (e.g. 10s)");
  std::string chaos_text;
  auto* chaos_opt = run_cmd->add_option("--chaos", chaos_text,
                                        "Kill RATE random cells per second (SIGKILL), 0..1000");
  run_cmd->add_option("--listen", run.listen_port, "Publish the control actor on PORT");
  run_cmd->add_option("--bind", run.listen_address, "Address to listen on (default 127.0.0.1)");
  // Both also secure the links of a [cluster]; run refuses them when nothing listens.
  run_cmd->add_flag("--insecure", run.link.insecure,
                    "Listen and link without TLS (loopback only; anyone who reaches the port "
                    "controls the host)");
  run_cmd->add_option("--tls-dir", run.link.tls_dir,
                      "TLS credentials (default $CELLHUB_TLS_DIR, else ~/.config/cellhub/tls; "
                      "generated on first use)");
  run_cmd->add_flag("--plain", run.plain, "Print plain lines even on a terminal");
  run_cmd->add_flag("--verbose", run.verbose, "Also log routine events (clean exits, ...)");

  std::string check_config;
  auto* check_cmd = app.add_subcommand("check", "Validate CONFIG and print the resolved tree");
  check_cmd->add_option("config", check_config, "Cluster configuration (TOML)")->required();

  cli::remote_options remote;
  std::string timeout_text;
  std::string restart_name;
  auto* status_cmd = app.add_subcommand("status", "Show a running cluster's cells");
  auto* restart_cmd = app.add_subcommand("restart", "Restart one cell of a running cluster");
  auto* stop_cmd = app.add_subcommand("stop", "Stop a running cluster in order");
  auto* call_cmd =
      app.add_subcommand("call", "Call a cell by name (NODE/NAME, or a NAME unique in the "
                                 "cluster) and print its reply");
  restart_cmd->add_option("name", restart_name, "The cell's logical name")->required();
  std::string call_name;
  std::optional<std::string> call_payload;
  call_cmd->add_option("name", call_name, "NODE/NAME, or NAME")->required();
  call_cmd->add_option("payload", call_payload, "The request (default: read from stdin)");
  for (auto* cmd : {status_cmd, restart_cmd, stop_cmd, call_cmd}) {
    cmd->add_option("--connect", remote.endpoint, "HOST:PORT of `cellhub run --listen`")
        ->required();
    cmd->add_flag("--json", remote.json, "Print JSON");
    cmd->add_option("--timeout", timeout_text,
                    "Give up connecting, and then waiting for the answer, after D each "
                    "(default 5s; 30s for the answer to restart)");
    cmd->add_flag("--insecure", remote.link.insecure, "Connect without TLS (loopback only)");
    cmd->add_option("--tls-dir", remote.link.tls_dir,
                    "TLS credentials (default $CELLHUB_TLS_DIR, else ~/.config/cellhub/tls)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help and version to stdout (exit 0) and errors to stderr.
    const int code = app.exit(e);
    return code == 0 ? 0 : cli::exit_bad_usage;
  }

  const auto here = program_dir(argv[0]);
  if (run_cmd->parsed()) {
    if (!duration_text.empty()) {
      run.duration = cellhub::apps::parse_duration(duration_text);
      if (!run.duration) {
        std::fprintf(stderr, "cellhub: --duration: '%s' is not a duration (e.g. 500ms, 10s)\n",
                     duration_text.c_str());
        return cli::exit_bad_usage;
      }
    }
    if (chaos_opt->count() > 0) {
      std::string problem;
      const auto rate = cli::parse_chaos_rate(chaos_text, problem);
      if (!rate) {
        std::fprintf(stderr, "cellhub: --chaos: %s\n", problem.c_str());
        return cli::exit_bad_usage;
      }
      run.chaos_rate = *rate;
    }
    run.program_dir = here;
    return cli::run_cluster(run);
  }
  if (check_cmd->parsed())
    return cli::check_config(check_config, here);
  if (!timeout_text.empty()) {
    remote.timeout = cellhub::apps::parse_duration(timeout_text);
    if (!remote.timeout || remote.timeout->count() <= 0) {
      std::fprintf(stderr, "cellhub: --timeout: '%s' is not a positive duration (e.g. 5s)\n",
                   timeout_text.c_str());
      return cli::exit_bad_usage;
    }
  }
  if (status_cmd->parsed())
    return cli::remote_command(cli::remote_action::status, remote, {});
  if (restart_cmd->parsed())
    return cli::remote_command(cli::remote_action::restart, remote, restart_name);
  if (call_cmd->parsed()) {
    if (!call_payload) {
      // Bounded: a request larger than any cell's slot could not be sent anyway.
      constexpr std::size_t max_request = 16u << 20;
      std::string in;
      char buffer[65536];
      while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
        in.append(buffer, static_cast<std::size_t>(std::cin.gcount()));
        if (in.size() > max_request) {
          std::fprintf(stderr, "cellhub: call: the request on stdin exceeds 16 MiB\n");
          return cli::exit_bad_usage;
        }
      }
      call_payload = std::move(in);
    }
    return cli::remote_command(cli::remote_action::call, remote, call_name, *call_payload);
  }
  return cli::remote_command(cli::remote_action::stop, remote, {});
}
