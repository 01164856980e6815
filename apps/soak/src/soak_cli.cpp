#include "cellhub/soak/soak_cli.hpp"

#include "cellhub/apps/duration.hpp"
#include "cellhub/cli/byte_size.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <random>
#include <string>

namespace cellhub::soak {
namespace {

using std::chrono::milliseconds;

// Bounds a chaos rate: beyond it the soak measures how fast cells spawn, not how the
// host holds up, and restart intensity would be reached by design.
constexpr double max_chaos_rate = 100;
// Bounds the load: beyond it one actor cannot even send the requests.
constexpr double max_load = 100'000;
// Bounds the cells: the hub holds two peer entries per cell (a life ending while the
// next starts) and at most 4096 entries.
constexpr std::size_t max_cells = 1000;
// Bounds one payload: the largest default slot class.
constexpr std::size_t max_payload = std::size_t{1} << 20;

// Adds a duration flag: validated with parse_duration, stored in milliseconds.
CLI::Option* add_duration(CLI::App& app, const std::string& name, milliseconds& target,
                          const std::string& description, bool allow_zero = false) {
  return app
      .add_option_function<std::string>(
          name,
          [&target, name, allow_zero](const std::string& text) {
            const auto parsed = apps::parse_duration(text);
            if (!parsed)
              throw CLI::ValidationError(name,
                                         "'" + text + "' is not a duration (write e.g. 300ms, 2s)");
            const auto ms = std::chrono::duration_cast<milliseconds>(*parsed);
            if (ms.count() <= 0 && !(allow_zero && parsed->count() == 0))
              throw CLI::ValidationError(name, "'" + text + "' is shorter than 1ms");
            target = ms;
          },
          description + " (default " + apps::format_duration(target) + ")")
      ->type_name("D");
}

// Adds a rate flag: a finite number within [0, limit].
CLI::Option* add_rate(CLI::App& app, const std::string& name, double& target, double limit,
                      const std::string& description) {
  return app
      .add_option_function<double>(
          name,
          [&target, name, limit](double value) {
            if (!std::isfinite(value) || value < 0 || value > limit)
              throw CLI::ValidationError(name, "must be a number from 0 to " +
                                                   std::to_string(static_cast<long>(limit)));
            target = value;
          },
          description + " (default " + CLI::detail::to_string(target) + ")")
      ->type_name("RATE");
}

std::optional<std::size_t> parse_payload(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 9)
      return std::nullopt;
    return static_cast<std::size_t>(std::stoull(text));
  }
  const auto bytes = cli::parse_byte_size(text);
  if (!bytes || *bytes > max_payload)
    return std::nullopt;
  return static_cast<std::size_t>(*bytes);
}

} // namespace

parsed_command_line parse_command_line(int argc, const char* const* argv) {
  CLI::App app{"cellhub-soak: runs a supervision tree of demo cells under checked request load\n"
               "and random chaos (SIGKILL, SIGSTOP/SIGCONT, garbage, goodbye-then-linger), and\n"
               "checks the host's invariants continuously and at the end (docs/soak.md)."};
  app.footer("Exit codes: 0 every invariant held, 1 runtime error, 2 bad usage,\n"
             "4 an invariant was violated (named in the summary).");
  soak_options o;
  std::optional<std::uint64_t> seed;
  std::string payload_text;

  add_duration(app, "--duration", o.duration, "Runs load and chaos this long");
  app.add_option_function<std::size_t>(
         "--cells",
         [&o](std::size_t n) {
           if (n < 2 || n > max_cells)
             throw CLI::ValidationError("--cells",
                                        "must be from 2 to " + std::to_string(max_cells));
           o.cells = n;
         },
         "Permanent demo cells: half in a one_for_one group, half in a simple_one_for_one "
         "pool (default 8)")
      ->type_name("N");
  add_rate(app, "--kill-rate", o.rates[index_of(chaos_kind::kill)], max_chaos_rate,
           "SIGKILLs per second over the tree");
  add_rate(app, "--stop-rate", o.rates[index_of(chaos_kind::stop)], max_chaos_rate,
           "SIGSTOPs per second (SIGCONT follows after --stop-min..--stop-max)");
  add_rate(app, "--garbage-rate", o.rates[index_of(chaos_kind::garbage)], max_chaos_rate,
           "SIGUSR1s per second: the cell writes garbage into its ring");
  add_rate(app, "--linger-rate", o.rates[index_of(chaos_kind::linger)], max_chaos_rate,
           "SIGUSR2s per second: the cell says goodbye and keeps running");
  add_rate(app, "--load", o.load, max_load, "Checked requests per second, by name");
  app.add_option("--payload", payload_text,
                 "Largest request payload: each carries 1..SIZE bytes of text, e.g. 1024 or "
                 "4KiB, at most 1MiB (default 1024)")
      ->type_name("SIZE");
  app.add_option("--seed", seed, "Seeds every random choice (default: a random seed, printed)")
      ->type_name("N");
  app.add_option("--json", o.json_path, "Writes the summary as JSON to FILE")->type_name("FILE");
  app.add_option("--hub-path", o.hub_path,
                 "Creates the hub here (default /dev/shm/cellhub-soak-PID)")
      ->type_name("PATH");
  app.add_option("--cell-binary", o.cell_binary,
                 "Runs this cell program (default: cellhub-demo-cell next to cellhub-soak)")
      ->type_name("PATH");
  app.add_option("--cell-arg", o.cell_args,
                 "Passes ARG to every cell; repeatable (write --cell-arg=--work=1ms)")
      ->type_name("ARG")
      ->allow_extra_args(false);
  app.add_flag("--quiet", o.quiet, "Prints only the final summary");
  app.add_flag("--verbose", o.verbose, "Lets the transport's and supervisors' logs through");
  app.add_flag("--fail-fast", o.fail_fast, "Ends the loaded phase at the first violation");
  add_duration(app, "--deadline", o.deadline, "Gives each request this long");
  add_duration(app, "--grace", o.grace, "Tolerates this much lateness past a deadline", true);
  add_duration(app, "--warmup", o.warmup,
               "Takes the RSS baseline this far into the run (0: a sixth of it, at most 10s)",
               true);
  add_duration(app, "--settle", o.settle,
               "Bounds the wait for every cell to be READY once chaos stops");
  add_duration(app, "--hang-timeout", o.hang_timeout, "Sets the cells' hang timeout");
  add_duration(app, "--shutdown-timeout", o.shutdown_timeout, "Sets the cells' shutdown timeout");
  add_duration(app, "--stop-min", o.stop_min, "Shortest SIGSTOP");
  add_duration(app, "--stop-max", o.stop_max, "Longest SIGSTOP");
  app.add_option("--rss-growth", o.rss_growth_kib,
                 "Bounds RSS growth from the end of warm-up to the end of the load, KiB "
                 "(default 8192)")
      ->type_name("KIB");
  app.add_option("--fd-growth", o.fd_growth,
                 "Bounds fd growth between the two moments at rest (default 0)")
      ->type_name("N");
  add_duration(app, "--sample-every", o.sample_every, "Samples RSS and fds this often");
  add_duration(app, "--progress-every", o.progress_every, "Prints a progress line this often");

  try {
    app.parse(argc, argv);
    if (!payload_text.empty()) {
      const auto payload = parse_payload(payload_text);
      if (!payload || *payload == 0 || *payload > max_payload)
        throw CLI::ValidationError("--payload",
                                   "'" + payload_text + "' is not a size from 1 byte to 1MiB");
      o.payload = *payload;
    }
    if (o.stop_min > o.stop_max)
      throw CLI::ValidationError("--stop-min", "is longer than --stop-max");
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return {std::nullopt, code == 0 ? exit_code::held : exit_code::usage};
  }
  if (seed) {
    o.seed = *seed;
  } else {
    std::random_device entropy;
    o.seed = (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy();
  }
  return {std::move(o), exit_code::held};
}

} // namespace cellhub::soak
