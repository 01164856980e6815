#include "cellhub/actors/embedding.hpp"
#include "cellhub/cli/commands.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>

namespace cellhub::cli {
namespace {

namespace ac = cellhub::actors;
using namespace std::chrono_literals;

bool split_endpoint(const std::string& endpoint, std::string& host, std::uint16_t& port) {
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  host = endpoint.substr(0, colon);
  const auto* first = endpoint.data() + colon + 1;
  const auto* last = endpoint.data() + endpoint.size();
  const auto [end, ec] = std::from_chars(first, last, port);
  return ec == std::errc{} && end == last && port != 0;
}

void print_status(const std::vector<ac::child_info>& cells, bool json) {
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& c : cells)
      out.push_back({{"name", c.name},
                     {"state", c.state},
                     {"peer_id", c.peer_id},
                     {"incarnation", c.incarnation},
                     {"pid", c.pid},
                     {"restarts", c.restarts},
                     {"last_cause", c.last_cause},
                     {"uptime_ms", c.uptime_ms}});
    std::puts(out.dump(2).c_str());
    return;
  }
  std::printf("%-14s %7s %5s %8s %-12s %8s %10s  %s\n", "NAME", "PEER_ID", "INC", "PID", "STATE",
              "RESTARTS", "UPTIME_MS", "LAST CAUSE");
  for (const auto& c : cells)
    std::printf("%-14s %7d %5u %8d %-12s %8u %10lld  %s\n", c.name.c_str(), c.peer_id,
                c.incarnation, c.pid, c.state.c_str(), c.restarts,
                static_cast<long long>(c.uptime_ms), c.last_cause.c_str());
}

} // namespace

int remote_command(remote_action action, const std::string& endpoint, const std::string& name,
                   bool json) {
  std::string host;
  std::uint16_t port = 0;
  if (!split_endpoint(endpoint, host, port)) {
    std::fprintf(stderr, "cellhub: --connect wants HOST:PORT, got '%s'\n", endpoint.c_str());
    return exit_bad_usage;
  }
  caf::actor_system_config cfg;
  ac::prepare_config(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto console = sys.middleman().remote_actor(host, port);
  if (!console) {
    std::fprintf(stderr, "cellhub: cannot connect to %s: %s\n", endpoint.c_str(),
                 sys.render(console.error()).c_str());
    return exit_runtime_error;
  }
  caf::scoped_actor self{sys};
  int code = exit_ok;
  auto fail = [&](const caf::error& err) {
    std::fprintf(stderr, "cellhub: %s\n", sys.render(err).c_str());
    code = exit_runtime_error;
  };
  switch (action) {
  case remote_action::status:
    self->request(*console, 10s, ac::which_atom_v)
        .receive([&](const std::vector<ac::child_info>& cells) { print_status(cells, json); },
                 fail);
    break;
  case remote_action::restart:
    self->request(*console, 30s, ac::restart_atom_v, name)
        .receive(
            [&](caf::ok_atom) {
              if (json)
                std::puts(nlohmann::json{{"restarted", name}}.dump().c_str());
              else
                std::printf("restarted %s\n", name.c_str());
            },
            fail);
    break;
  case remote_action::stop:
    self->request(*console, 10s, ac::stop_atom_v)
        .receive(
            [&](caf::ok_atom) {
              if (json)
                std::puts(R"({"stopping":true})");
              else
                std::puts("stopping");
            },
            fail);
    break;
  }
  return code;
}

} // namespace cellhub::cli
