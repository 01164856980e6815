#include "cellhub/actors/child_spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace cellhub::actors {

std::string_view to_string(restart_strategy value) noexcept {
  switch (value) {
  case restart_strategy::one_for_one:
    return "one_for_one";
  case restart_strategy::one_for_all:
    return "one_for_all";
  case restart_strategy::rest_for_one:
    return "rest_for_one";
  case restart_strategy::simple_one_for_one:
    return "simple_one_for_one";
  }
  return "unknown";
}

std::string_view to_string(restart_type value) noexcept {
  switch (value) {
  case restart_type::permanent:
    return "permanent";
  case restart_type::transient:
    return "transient";
  case restart_type::temporary:
    return "temporary";
  }
  return "unknown";
}

std::string_view to_string(intensity_action value) noexcept {
  switch (value) {
  case intensity_action::escalate:
    return "escalate";
  case intensity_action::quarantine:
    return "quarantine";
  }
  return "unknown";
}

std::string_view to_string(restart_delivery value) noexcept {
  switch (value) {
  case restart_delivery::hold:
    return "hold";
  case restart_delivery::fail:
    return "fail";
  }
  return "unknown";
}

std::optional<std::string> cell_spec::validate() const {
  auto bad = [this](std::string what) { return fmt::format("cell '{}': {}", name, what); };
  if (name.empty())
    return std::string{"a cell has an empty name"};
  if (binary.empty())
    return bad("empty binary");
  // The kernel's set*id calls read -1 as "leave it as it is", so it names no one.
  if (user && (user->uid == static_cast<uid_t>(-1) || user->gid == static_cast<gid_t>(-1) ||
               std::find(user->groups.begin(), user->groups.end(), static_cast<gid_t>(-1)) !=
                   user->groups.end()))
    return bad("user and group ids must not be -1 (4294967295)");
  if (start_timeout.count() <= 0)
    return bad("start_timeout must be positive");
  if (shutdown_timeout.count() <= 0)
    return bad("shutdown_timeout must be positive");
  if (hang_timeout.count() < 0)
    return bad("hang_timeout must not be negative");
  if (auto problem = backoff.validate())
    return bad(*problem);
  if (during_restart == restart_delivery::hold && hold_capacity == 0)
    return bad("hold_capacity must be positive when messages are held");
  if (max_pending == 0)
    return bad("max_pending must be positive");
  if (request_timeout.count() <= 0)
    return bad("request_timeout must be positive");
  return std::nullopt;
}

std::optional<std::string> supervisor_spec::validate() const {
  auto bad = [this](std::string what) { return fmt::format("supervisor '{}': {}", name, what); };
  if (name.empty())
    return std::string{"a supervisor has an empty name"};
  if (max_restarts < 0)
    return bad("max_restarts must not be negative");
  if (period.count() <= 0)
    return bad("period must be positive");
  if (strategy == restart_strategy::simple_one_for_one &&
      (children.size() != 1 || children.front().is_supervisor()))
    return bad("a simple_one_for_one pool needs exactly one cell spec, its template");
  std::set<std::string> names;
  for (const auto& child : children) {
    if (!names.insert(child.name()).second)
      return bad(fmt::format("two children are named '{}'", child.name()));
    auto problem = std::visit([](const auto& spec) { return spec.validate(); }, child.what);
    if (problem)
      return problem;
  }
  return std::nullopt;
}

const std::string& child_spec::name() const noexcept {
  return std::visit([](const auto& spec) -> const std::string& { return spec.name; }, what);
}

restart_type child_spec::restart() const noexcept {
  return std::visit([](const auto& spec) { return spec.restart; }, what);
}

} // namespace cellhub::actors
