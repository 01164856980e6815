#include "cellhub/transport/cell_ticket.hpp"

#include "cellhub/transport/quoted.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>

namespace cellhub::transport {
namespace {

struct key {
  std::string_view flag;
  std::string_view env;
};
constexpr key hub_path_key{"hub-path", "CELLHUB_HUB_PATH"};
constexpr key peer_id_key{"peer-id", "CELLHUB_PEER_ID"};
constexpr key incarnation_key{"incarnation", "CELLHUB_INCARNATION"};
constexpr key token_key{"attach-token", "CELLHUB_ATTACH_TOKEN"};
constexpr key doorbell_key{"doorbell-fd", "CELLHUB_DOORBELL_FD"};
constexpr std::array keys{hub_path_key, peer_id_key, incarnation_key, token_key, doorbell_key};

template <class Int>
result<Int> parse_number(std::string_view name, std::string_view text) {
  Int value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end)
    return make_error(errc::bad_ticket,
                      fmt::format("{} {} is not a valid number", name, quoted(text)));
  return value;
}

// Builds a ticket from a lookup that returns each key's text, if present.
template <class Lookup>
result<cell_ticket> build(Lookup lookup, std::string_view source) {
  std::array<std::optional<std::string>, keys.size()> values;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    values[i] = lookup(keys[i]);
    if (!values[i])
      return make_error(errc::bad_ticket,
                        fmt::format("{}: missing {}", source,
                                    source == "arguments" ? "--" + std::string{keys[i].flag}
                                                          : std::string{keys[i].env}));
  }
  cell_ticket ticket;
  ticket.hub_path = *values[0];
  if (ticket.hub_path.empty())
    return make_error(errc::bad_ticket, fmt::format("{}: empty hub path", source));
  BOOST_OUTCOME_TRY(peer_id, parse_number<std::uint16_t>(keys[1].flag, *values[1]));
  BOOST_OUTCOME_TRY(incarnation, parse_number<std::uint32_t>(keys[2].flag, *values[2]));
  BOOST_OUTCOME_TRY(token, parse_number<std::uint64_t>(keys[3].flag, *values[3]));
  BOOST_OUTCOME_TRY(doorbell_fd, parse_number<int>(keys[4].flag, *values[4]));
  ticket.peer_id = peer_id;
  ticket.incarnation = incarnation;
  ticket.attach_token = token;
  ticket.doorbell_fd = doorbell_fd;
  if (ticket.doorbell_fd < 0)
    return make_error(errc::bad_ticket, fmt::format("{}: negative doorbell fd", source));
  return ticket;
}

} // namespace

std::vector<std::string> cell_ticket::to_arguments() const {
  return {
      fmt::format("--{}={}", hub_path_key.flag, hub_path),
      fmt::format("--{}={}", peer_id_key.flag, peer_id),
      fmt::format("--{}={}", incarnation_key.flag, incarnation),
      fmt::format("--{}={}", token_key.flag, attach_token),
      fmt::format("--{}={}", doorbell_key.flag, doorbell_fd),
  };
}

std::vector<std::pair<std::string, std::string>> cell_ticket::to_environment() const {
  return {
      {std::string{hub_path_key.env}, hub_path},
      {std::string{peer_id_key.env}, std::to_string(peer_id)},
      {std::string{incarnation_key.env}, std::to_string(incarnation)},
      {std::string{token_key.env}, std::to_string(attach_token)},
      {std::string{doorbell_key.env}, std::to_string(doorbell_fd)},
  };
}

result<cell_ticket> cell_ticket::from_arguments(int argc, const char* const* argv) {
  auto lookup = [&](const key& k) -> std::optional<std::string> {
    const std::string flag = "--" + std::string{k.flag};
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg{argv[i]};
      if (arg.size() > flag.size() && arg.starts_with(flag) && arg[flag.size()] == '=')
        return std::string{arg.substr(flag.size() + 1)};
      if (arg == flag && i + 1 < argc)
        return std::string{argv[i + 1]};
    }
    return std::nullopt;
  };
  return build(lookup, "arguments");
}

result<cell_ticket> cell_ticket::from_environment() {
  auto lookup = [](const key& k) -> std::optional<std::string> {
    if (const char* value = std::getenv(std::string{k.env}.c_str()))
      return std::string{value};
    return std::nullopt;
  };
  return build(lookup, "environment");
}

result<cell_ticket> cell_ticket::from_arguments_or_environment(int argc, const char* const* argv) {
  const std::string flag = "--" + std::string{hub_path_key.flag};
  for (int i = 1; i < argc; ++i)
    if (std::string_view{argv[i]}.starts_with(flag))
      return from_arguments(argc, argv);
  return from_environment();
}

} // namespace cellhub::transport
