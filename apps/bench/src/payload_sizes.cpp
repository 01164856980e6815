#include "cellhub/bench/payload_sizes.hpp"

#include <fmt/format.h>

namespace cellhub::bench {

std::string size_label(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
    return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= 1024 && bytes % 1024 == 0)
    return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} B", bytes);
}

std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0 || digits > 9)
    return std::nullopt;
  std::size_t value = 0;
  for (std::size_t i = 0; i < digits; ++i)
    value = value * 10 + static_cast<std::size_t>(text[i] - '0');
  const auto unit = text.substr(digits);
  if (unit.empty() || unit == "B")
    return value;
  if (unit == "k" || unit == "K" || unit == "KiB")
    return value << 10;
  if (unit == "m" || unit == "M" || unit == "MiB")
    return value << 20;
  return std::nullopt;
}

transport::hub_config data_hub_config() {
  // The transport's default large class (4 x 1 MiB). More slots no longer cost
  // throughput (slot_pool reuses the slot returned last, so the working set stays
  // warm), but they add nothing once the pipeline is full.
  return transport::hub_config{
      .max_peers = 4,
      .ring_capacity = 1024,
      .slot_classes = {{1024, 1024}, {4096, 512}, {65536, 16}, {1u << 20, 4}},
  };
}

} // namespace cellhub::bench
