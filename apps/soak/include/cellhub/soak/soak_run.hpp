#pragma once

#include "cellhub/soak/soak_options.hpp"

namespace cellhub::soak {

/// Runs one soak: starts the tree in an actor system of its own, drives it (load,
/// chaos, continuous checks), stops it, checks what is left, prints the summary
/// (and the JSON), and returns the exit code (soak_cli.hpp).
int run_soak(const soak_options& options);

} // namespace cellhub::soak
