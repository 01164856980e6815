// cellhub-bench-cell — the cell cellhub-bench measures: a hub echo or sink, an
// idle attached cell, their Unix-socket twins, and a bare "spawned and up" child.
#include "cellhub/bench/bench_cell.hpp"

#include <cellhub/apps/duration.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  cellhub::bench::bench_cell_settings settings;
  std::string spin_text = "50us";
  CLI::App app{"cellhub-bench-cell: the cell cellhub-bench measures"};
  // The hub ticket (--hub-path=, --peer-id=, ...) travels in the same argv.
  app.allow_extras();
  app.add_option("--mode", settings.mode,
                 "echo | sink | idle | socket-echo | socket-sink | pipe-ready");
  app.add_option("--socket-fd", settings.socket_fd, "Inherited socket of the socket modes");
  app.add_option("--pipe-fd", settings.pipe_fd, "Inherited pipe end of pipe-ready");
  app.add_flag("--stay", settings.stay, "Keep running after the pipe-ready byte");
  app.add_flag("--read-all", settings.read_all, "Sinks read (checksum) every byte received");
  app.add_option("--cpu", settings.cpu, "Pin the cell to this CPU");
  app.add_option("--spin", spin_text, "Spin this long before sleeping (hub modes)");
  CLI11_PARSE(app, argc, argv);
  const auto spin = cellhub::apps::parse_duration(spin_text);
  if (!spin && spin_text != "0") {
    std::fprintf(stderr, "cellhub-bench-cell: --spin: '%s' is not a duration\n", spin_text.c_str());
    return 2;
  }
  settings.spin = spin.value_or(std::chrono::nanoseconds{0});
  return cellhub::bench::run_bench_cell(settings, argc, argv);
}
