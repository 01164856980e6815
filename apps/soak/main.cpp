// cellhub-soak — runs a supervision tree of demo cells under checked load and random
// chaos and checks the host's invariants continuously and at the end (docs/soak.md).
// Exit codes: 0 every invariant held, 1 runtime error, 2 bad usage, 4 violated.
#include "cellhub/soak/soak_cli.hpp"
#include "cellhub/soak/soak_run.hpp"

#if defined(__SANITIZE_ADDRESS__)
// ASan keeps freed memory in a quarantine (256 MiB by default) before reusing it, so
// the host's RSS would climb for minutes and rss_flat would measure ASan, not cellhub.
// A smaller quarantine still catches a use after free of anything freed recently.
// ASAN_OPTIONS set in the environment override it.
extern "C" const char* __asan_default_options() {
  return "quarantine_size_mb=8";
}
#endif

int main(int argc, char** argv) {
  auto parsed = cellhub::soak::parse_command_line(argc, argv);
  if (!parsed.options)
    return parsed.exit_code;
  return cellhub::soak::run_soak(*parsed.options);
}
