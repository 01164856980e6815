// cellhub — command-line front end. For now it reports its version and the
// transport's error vocabulary; `run`, `check` and remote control follow.
#include "cellhub/transport/error.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

int main(int argc, char** argv) {
  CLI::App app{"cellhub: supervised cell processes over shared memory"};
  app.set_version_flag("--version", std::string{"cellhub "} + CELLHUB_VERSION);
  auto* errors = app.add_subcommand("errors", "List the transport's error codes");
  CLI11_PARSE(app, argc, argv);
  if (errors->parsed()) {
    for (auto code : cellhub::transport::all_errcs)
      fmt::print("{}\n", cellhub::transport::to_string(code));
    return 0;
  }
  fmt::print("cellhub {}: the demo cluster (`cellhub run`) is not built yet.\n", CELLHUB_VERSION);
  return 0;
}
