#include "cellhub/cli/cluster_config.hpp"

#include "cellhub/apps/duration.hpp"
#include "cellhub/cli/byte_size.hpp"
#include "cellhub/cli/identity_lookup.hpp"

#include <fmt/format.h>

#include <iterator>
#include <string_view>

namespace cellhub::cli {
namespace ac = cellhub::actors;

namespace {

template <class Rep, class Period>
std::string show(std::chrono::duration<Rep, Period> d) {
  return apps::format_duration(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

// Quotes what a shell would split or mangle, so that the line reads back as the argv.
std::string shell_word(std::string_view word) {
  const bool plain = !word.empty() && word.find_first_of(" \t\n\"'\\$`") == std::string_view::npos;
  if (plain)
    return std::string{word};
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

class renderer {
public:
  explicit renderer(std::string& out)
      : out_{out} {}

  template <class... Args>
  void line(int depth, fmt::format_string<Args...> format, Args&&... args) {
    out_.append(static_cast<std::size_t>(depth) * 2, ' ');
    fmt::format_to(std::back_inserter(out_), format, std::forward<Args>(args)...);
    out_ += '\n';
  }

  void supervisor(const ac::supervisor_spec& spec, int depth, bool is_root) {
    std::string head = std::string{ac::to_string(spec.strategy)};
    const bool pool = spec.strategy == ac::restart_strategy::simple_one_for_one;
    if (pool)
      head += fmt::format(" x{}", spec.replicas);
    head += fmt::format(", at most {} restarts in {}", spec.max_restarts, show(spec.period));
    if (!is_root)
      head += fmt::format(", restart {}", ac::to_string(spec.restart));
    line(depth, "supervisor {}: {}", spec.name, head);
    for (const auto& child : spec.children) {
      if (const auto* cell_spec = std::get_if<ac::cell_spec>(&child.what))
        cell(*cell_spec, depth + 1, pool ? spec.replicas : 0, pool);
      else
        supervisor(std::get<ac::supervisor_spec>(child.what), depth + 1, false);
    }
  }

  void cell(const ac::cell_spec& spec, int depth, std::size_t replicas, bool is_template) {
    std::string role;
    if (is_template)
      role = replicas == 0
                 ? " (replica template, no replicas yet)"
                 : fmt::format(" (replica template: {0}-1..{0}-{1})", spec.name, replicas);
    line(depth, "cell {}{}: restart {}", spec.name, role, ac::to_string(spec.restart));
    const int inner = depth + 2;
    line(inner, "binary   {}", spec.binary);
    if (spec.user) {
      std::string groups;
      for (const auto gid : spec.user->groups)
        if (gid != spec.user->gid)
          groups += (groups.empty() ? ", also in " : ", ") + describe_group(gid);
      line(inner, "user     {}, group {}{}", describe_user(spec.user->uid),
           describe_group(spec.user->gid), groups);
    }
    if (!spec.sealed_image)
      line(inner, "image    the binary itself (sealed_image = false: dumpable until attached)");
    if (!spec.args.empty()) {
      std::string args;
      for (const auto& arg : spec.args)
        args += (args.empty() ? "" : " ") + shell_word(arg);
      line(inner, "args     {}", args);
    }
    if (!spec.env.empty()) {
      std::string env;
      for (const auto& [key, value] : spec.env)
        env += (env.empty() ? "" : " ") + key + "=" + shell_word(value);
      line(inner, "env      {}", env);
    }
    line(inner, "timeouts start {}, shutdown {}, hang {}", show(spec.start_timeout),
         show(spec.shutdown_timeout),
         spec.hang_timeout.count() == 0 ? std::string{"never"} : show(spec.hang_timeout));
    const auto& b = spec.backoff;
    if (b.min_delay.count() == 0)
      line(inner, "backoff  none");
    else
      line(inner, "backoff  {}..{}, jitter {}, reset after {}", show(b.min_delay),
           show(b.max_delay), b.jitter, show(b.reset_after));
    const auto held = spec.during_restart == ac::restart_delivery::hold
                          ? fmt::format(" (up to {} messages)", spec.hold_capacity)
                          : std::string{};
    line(inner, "on intensity {}, during restart {}{}", ac::to_string(spec.on_intensity),
         ac::to_string(spec.during_restart), held);
    line(inner, "requests up to {} waiting, each answered within {}", spec.max_pending,
         show(spec.request_timeout));
  }

private:
  std::string& out_;
};

} // namespace

std::string describe(const cluster_config& config) {
  std::string out;
  renderer render{out};
  render.line(0, "config {}", config.source.string());
  std::string slots;
  for (const auto& cls : config.hub.slot_classes)
    slots += fmt::format("{}{}x{}", slots.empty() ? "" : " ", cls.slot_count,
                         format_byte_size(cls.slot_size));
  render.line(0, "hub {}: {} peers, rings of {}, slots {}", config.hub_path, config.hub.max_peers,
              config.hub.ring_capacity, slots);
  render.supervisor(config.root, 0, true);
  const auto& load = config.load;
  if (load.rate == 0) {
    render.line(0, "load none");
  } else {
    std::string targets = "every cell";
    if (!load.targets.empty()) {
      targets.clear();
      for (const auto& name : load.targets)
        targets += (targets.empty() ? "" : ", ") + name;
    }
    render.line(0, "load {} requests/s of {} to {}, timeout {}", load.rate,
                format_byte_size(load.payload_bytes), targets, show(load.timeout));
  }
  if (const auto& cluster = config.cluster) {
    render.line(0, "cluster node {}", cluster->node);
    render.line(2, "listen   {}", cluster->listen.to_string());
    std::string join = "none";
    if (!cluster->join.empty()) {
      join.clear();
      for (const auto& address : cluster->join)
        join += (join.empty() ? "" : ", ") + address.to_string();
    }
    render.line(2, "join     {}", join);
    render.line(2, "heartbeat every {}, timeout {}", show(cluster->heartbeat_interval),
                show(cluster->heartbeat_timeout));
    render.line(2, "join retry every {}", show(cluster->join_retry));
  }
  return out;
}

} // namespace cellhub::cli
