#include "cellhub/soak/soak_tree.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cellhub::soak {
namespace {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;

// Counts the restarts a supervisor may see within its period before giving up:
// ten times what the chaos is expected to cause in the whole tree, plus a margin.
int intensity(const soak_options& options, std::chrono::milliseconds period) {
  const double per_second = std::accumulate(options.rates.begin(), options.rates.end(), 0.0);
  const double expected = per_second * std::chrono::duration<double>(period).count();
  return static_cast<int>(std::min(1e6, std::ceil(expected * 10) + 100));
}

ac::cell_spec demo_cell(const soak_options& options, const std::string& binary) {
  ac::cell_spec cell;
  cell.binary = binary;
  cell.args = options.cell_args;
  cell.restart = ac::restart_type::permanent;
  // A sanitized cell on a loaded two-core machine can take a second to start; a
  // failed start would read as an unprovoked death.
  cell.start_timeout = 10s;
  cell.shutdown_timeout = options.shutdown_timeout;
  cell.hang_timeout = options.hang_timeout;
  // The host's own bound on a call: the soak checks that it holds, within the grace.
  cell.request_timeout = options.deadline;
  // Restart at once, and never back off long: a slow restart would only make
  // requests wait in the hold buffer, which is not what the soak measures.
  cell.backoff = {.min_delay = 0ms, .max_delay = 100ms, .jitter = 0.2, .reset_after = 1s};
  cell.during_restart = ac::restart_delivery::hold;
  return cell;
}

std::vector<transport::slot_class> slot_classes_for(std::size_t payload) {
  // Every default class up to the first that holds the largest payload: the hub file
  // is reserved in full, so classes nobody uses would only cost memory.
  std::vector<transport::slot_class> out;
  for (const auto& c : transport::default_slot_classes()) {
    out.push_back(c);
    if (c.slot_size >= payload)
      break;
  }
  return out;
}

} // namespace

soak_tree make_soak_tree(const soak_options& options, const std::string& cell_binary) {
  soak_tree out;
  const auto period = std::chrono::milliseconds{10s};
  const auto group_size = (options.cells + 1) / 2;
  const auto pool_size = options.cells - group_size;

  ac::supervisor_spec group;
  group.name = "group";
  group.strategy = ac::restart_strategy::one_for_one;
  group.max_restarts = intensity(options, period);
  group.period = period;
  for (std::size_t i = 1; i <= group_size; ++i) {
    auto cell = demo_cell(options, cell_binary);
    cell.name = "g-" + std::to_string(i);
    out.cell_names.push_back(cell.name);
    group.children.emplace_back(std::move(cell));
  }

  ac::supervisor_spec pool;
  pool.name = "pool";
  pool.strategy = ac::restart_strategy::simple_one_for_one;
  pool.max_restarts = intensity(options, period);
  pool.period = period;
  pool.replicas = pool_size;
  auto templ = demo_cell(options, cell_binary);
  templ.name = "p";
  pool.children.emplace_back(std::move(templ));
  // The pool names its replicas <template>-1, <template>-2, ...
  for (std::size_t i = 1; i <= pool_size; ++i)
    out.cell_names.push_back("p-" + std::to_string(i));

  out.root.name = "soak";
  out.root.strategy = ac::restart_strategy::one_for_one;
  out.root.max_restarts = intensity(options, period);
  out.root.period = period;
  out.root.children.emplace_back(std::move(group));
  out.root.children.emplace_back(std::move(pool));

  out.hub.max_peers =
      static_cast<std::uint16_t>(std::min<std::size_t>(4096, options.cells * 2 + 8));
  out.hub.slot_classes = slot_classes_for(options.payload);
  std::sort(out.cell_names.begin(), out.cell_names.end());
  return out;
}

} // namespace cellhub::soak
