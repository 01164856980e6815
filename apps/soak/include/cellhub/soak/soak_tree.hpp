#pragma once

// The supervision tree a soak runs: a one_for_one group and a simple_one_for_one
// pool of permanent demo cells under a one_for_one root, and a hub sized for it.

#include "cellhub/actors/child_spec.hpp"
#include "cellhub/soak/soak_options.hpp"
#include "cellhub/transport/hub_config.hpp"

#include <string>
#include <vector>

namespace cellhub::soak {

/// Describes what a soak starts.
struct soak_tree {
  /// Holds the root supervisor "soak" with its two children, "group" and "pool".
  actors::supervisor_spec root;
  /// Sizes the hub: two entries per cell plus a margin, and the slot classes the
  /// payload needs.
  transport::hub_config hub;
  /// Lists every cell's logical name: g-1.. in the group, p-1.. in the pool.
  std::vector<std::string> cell_names;
};

/// Builds the tree for `options`, running `cell_binary` in every cell. Restart
/// intensity is set far above what the chaos rates cause: the soak tests the
/// host's handling of deaths, not escalation.
soak_tree make_soak_tree(const soak_options& options, const std::string& cell_binary);

} // namespace cellhub::soak
