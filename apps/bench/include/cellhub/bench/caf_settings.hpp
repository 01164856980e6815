#pragma once

// The `--caf KEY=VALUE` settings, applied to every actor system the bench creates.

#include <caf/fwd.hpp>

#include <string>
#include <vector>

namespace cellhub::bench {

/// Applies each `key=value` of `settings` to `cfg`: a whole number, a duration
/// ("50us"), a boolean, or else an atom (a scheduler policy such as `sharing`).
/// Throws `bench_failure` for one it cannot read.
void apply_caf_settings(caf::actor_system_config& cfg, const std::vector<std::string>& settings);

} // namespace cellhub::bench
