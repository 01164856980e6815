// cellhub-demo-cell — the demo worker cell: attaches to its host's hub, answers
// requests with a demo_reply, and crashes, hangs, exits or misbehaves on cue.
// Run with --help for the flags; demo_cell.hpp holds the behaviour.
#include "cue_signals.hpp"
#include "demo_cell.hpp"

#include "cellhub/transport/cell.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <utility>

namespace demo = cellhub::demo;

int main(int argc, char** argv) {
  auto parsed = demo::parse_command_line(argc, argv);
  if (!parsed.options)
    return parsed.exit_code;
  if (parsed.options->crash_on_start) {
    fmt::print(stderr, "cellhub-demo-cell: --crash-on-start: exiting before attaching\n");
    return demo::exit_code::failure;
  }
  // Before READY: a cue may come the instant the host sees it, and SIGUSR1's default
  // action would end the process.
  if (!demo::install_cue_handlers()) {
    fmt::print(stderr, "cellhub-demo-cell: cannot install the SIGUSR1/SIGUSR2 handlers\n");
    return demo::exit_code::failure;
  }
  auto attached = cellhub::transport::cell::attach(argc, argv);
  if (!attached) {
    fmt::print(stderr, "cellhub-demo-cell: cannot attach: {}\n", attached.error().message());
    return demo::exit_code::usage;
  }
  demo::demo_cell cell{attached.value(), std::move(*parsed.options)};
  return cell.run();
}
