#include "cellhub/bench/caf_settings.hpp"

#include "cellhub/bench/bench_context.hpp"

#include <cellhub/apps/duration.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/timespan.hpp>

namespace cellhub::bench {
namespace {

// Applies one `key=value`.
void apply_setting(caf::actor_system_config& cfg, const std::string& setting) {
  const auto equals = setting.find('=');
  if (equals == std::string::npos || equals == 0)
    throw bench_failure{"--caf " + setting + ": expected KEY=VALUE"};
  const auto key = setting.substr(0, equals);
  const auto value = setting.substr(equals + 1);
  if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos)
    cfg.set(key, static_cast<std::size_t>(std::stoull(value)));
  else if (auto span = apps::parse_duration(value))
    cfg.set(key, caf::timespan{*span});
  else if (value == "true" || value == "false")
    cfg.set(key, value == "true");
  else if (!value.empty() && value.size() <= 10)
    cfg.set(key, caf::atom_from_string(value));
  else
    throw bench_failure{"--caf " + setting + ": cannot read the value"};
}

} // namespace

void apply_caf_settings(caf::actor_system_config& cfg, const std::vector<std::string>& settings) {
  for (const auto& setting : settings)
    apply_setting(cfg, setting);
}

} // namespace cellhub::bench
