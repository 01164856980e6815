#pragma once

// The payload sizes rtt and throughput measure, and the hub they use.

#include "cellhub/transport/hub_config.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace cellhub::bench {

/// Lists the payload sizes measured by default: 64 B, 4 KiB, 64 KiB and 1 MiB.
inline constexpr std::array<std::size_t, 4> payload_sizes = {64, 4096, 65536, 1u << 20};

/// Bounds a payload size: the largest slot class of `data_hub_config`.
inline constexpr std::size_t max_payload_size = 1u << 20;

/// Reads a size such as "64", "4KiB", "4k", "1MiB" or "1m"; nothing when malformed.
std::optional<std::size_t> parse_size(std::string_view text);

/// Returns "64 B", "4 KiB", "1 MiB", ...
std::string size_label(std::size_t bytes);

/// Returns the hub layout rtt and throughput use: one size class per measured size,
/// with enough slots to keep a pipeline full (the file is sparse; unused slots cost
/// no memory).
transport::hub_config data_hub_config();

} // namespace cellhub::bench
