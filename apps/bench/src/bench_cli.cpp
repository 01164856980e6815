#include "cellhub/bench/bench_cli.hpp"

#include "cellhub/bench/benchmark_suite.hpp"
#include "cellhub/bench/payload_sizes.hpp"

#include <cellhub/apps/duration.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace cellhub::bench {
namespace {

std::filesystem::path program_dir(const char* argv0) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec)
    self = std::filesystem::absolute(argv0);
  return self.parent_path();
}

std::string benchmark_list() {
  std::string text = "Benchmarks:\n";
  for (const auto& entry : all_benchmarks())
    text += fmt::format("  {:<11} {}\n", entry.name, entry.summary);
  return text;
}

} // namespace

std::optional<bench_options> parse_bench_command_line(int argc, char** argv, int& exit_code) {
  bench_options opts;
  std::string spin_text = "100us";
  std::string window_text;
  CLI::App app{"cellhub-bench: cellhub's performance, each number beside a baseline measured in "
               "the same run"};
  app.footer(benchmark_list());
  app.add_flag("--quick", opts.quick,
               "Few iterations, pools up to 100 cells (the CTest smoke run; < 60 s)");
  app.add_option("--only", opts.only, "Run only these benchmarks (repeat or comma-separate)")
      ->delimiter(',');
  app.add_option("--json", opts.json_path, "Write every number to FILE as JSON");
  app.add_flag("--markdown", opts.markdown, "Print the table as Markdown");
  const std::map<std::string, pin_mode> pins{
      {"off", pin_mode::off}, {"on", pin_mode::on}, {"both", pin_mode::both}};
  app.add_option("--pin", opts.pin,
                 "rtt/throughput placement: off (scheduler's choice), on (host on CPU 0, cell "
                 "on CPU 1) or both")
      ->transform(CLI::CheckedTransformer(pins, CLI::ignore_case));
  app.add_option("--spin", spin_text, "How long host and cells spin before sleeping (e.g. 100us)");
  auto* kills = app.add_option("--kills", opts.kills,
                               "SIGKILLs for detect and restart (a tenth, at least 3, for cluster)")
                    ->check(CLI::PositiveNumber);
  auto* cells =
      app.add_option("--max-cells", opts.max_cells, "Largest scale pool (10, 100 or 1000)")
          ->check(CLI::PositiveNumber);
  auto* window = app.add_option(
      "--window", window_text,
      "Length of each throughput, pipeline and cluster rate measurement, split into 3 "
      "windows (500ms)");
  std::vector<std::string> size_texts;
  app.add_option("--sizes", size_texts,
                 "Payload sizes for rtt and throughput, up to 1MiB (default 64,4KiB,64KiB,1MiB)")
      ->delimiter(',');
  auto* iterations = app.add_option("--iterations", opts.iterations,
                                    "Multiply the rtt and cluster round trips by this")
                         ->check(CLI::PositiveNumber);
  app.add_option("--cell", opts.cell_binary,
                 "The cellhub-bench-cell program (default: next to cellhub-bench)");
  app.add_option("--hub-dir", opts.hub_dir, "Directory for hub files");
  app.add_flag("--verbose", opts.verbose, "Show the transport's warnings");
  app.add_option("--caf", opts.caf_settings,
                 "CAF setting KEY=VALUE for the bench's actor systems, applied after "
                 "prepare_config (e.g. scheduler.policy=stealing); repeatable");
  // cellhub-bench starts itself as the far node of the node-loss rows (node_helper.hpp).
  app.add_option("--node-helper-join", opts.node_helper_join)->group("");
  app.add_option("--node-helper-hub", opts.node_helper_hub)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e) == 0 ? bench_exit_ok : bench_exit_usage;
    return std::nullopt;
  }
  if (auto unknown = unknown_benchmarks(opts.only); !unknown.empty()) {
    fmt::print(stderr, "cellhub-bench: --only: no benchmark named {}\n{}", fmt::join(unknown, ", "),
               benchmark_list());
    exit_code = bench_exit_usage;
    return std::nullopt;
  }
  const auto spin = apps::parse_duration(spin_text);
  if (!spin && spin_text != "0") {
    fmt::print(stderr, "cellhub-bench: --spin: '{}' is not a duration (e.g. 100us)\n", spin_text);
    exit_code = bench_exit_usage;
    return std::nullopt;
  }
  opts.spin = spin.value_or(std::chrono::nanoseconds{0});
  if (!window_text.empty()) {
    const auto parsed = apps::parse_duration(window_text);
    if (!parsed || *parsed < std::chrono::milliseconds{1}) {
      fmt::print(stderr, "cellhub-bench: --window: '{}' is not a duration of 1ms or more\n",
                 window_text);
      exit_code = bench_exit_usage;
      return std::nullopt;
    }
    opts.window = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
  }
  if (!size_texts.empty()) {
    opts.sizes.clear();
    for (const auto& text : size_texts) {
      const auto size = parse_size(text);
      if (!size || *size == 0 || *size > max_payload_size) {
        fmt::print(stderr, "cellhub-bench: --sizes: '{}' is not a size from 1 to 1MiB\n", text);
        exit_code = bench_exit_usage;
        return std::nullopt;
      }
      opts.sizes.push_back(*size);
    }
  }
  // --quick shrinks whatever was not given explicitly.
  if (opts.quick) {
    if (kills->count() == 0)
      opts.kills = 20;
    if (cells->count() == 0)
      opts.max_cells = 100;
    if (window->count() == 0)
      opts.window = std::chrono::milliseconds{50};
    if (iterations->count() == 0)
      opts.iterations = 0.02;
  }
  if (opts.cell_binary.empty())
    opts.cell_binary = (program_dir(argv[0]) / "cellhub-bench-cell").string();
  return opts;
}

} // namespace cellhub::bench
