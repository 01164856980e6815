#include "cellhub/cli/byte_size.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <system_error>

namespace cellhub::cli {
namespace {

struct unit {
  std::string_view name;
  std::uint64_t size;
};

// Largest first, so that formatting picks the largest exact unit.
constexpr std::array<unit, 4> units{{{"GiB", std::uint64_t{1} << 30},
                                     {"MiB", std::uint64_t{1} << 20},
                                     {"KiB", std::uint64_t{1} << 10},
                                     {"B", 1}}};

} // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t value = 0;
  const auto* first = text.data();
  const auto* last = text.data() + text.size();
  // from_chars takes no sign and no spaces, which is what a strict size wants.
  const auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end == first)
    return std::nullopt;
  const std::string_view suffix{end, static_cast<std::size_t>(last - end)};
  for (const auto& u : units) {
    if (suffix != u.name)
      continue;
    if (value > std::numeric_limits<std::uint64_t>::max() / u.size)
      return std::nullopt;
    return value * u.size;
  }
  return std::nullopt;
}

std::string format_byte_size(std::uint64_t bytes) {
  for (const auto& u : units)
    if (bytes != 0 && bytes % u.size == 0)
      return std::to_string(bytes / u.size) + std::string{u.name};
  return std::to_string(bytes) + "B";
}

} // namespace cellhub::cli
