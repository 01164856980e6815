#pragma once

// Sizes as people write them in configuration files: "512B", "4KiB", "1MiB", "2GiB".
// Units are binary and the number is a whole one; a TOML integer counts bytes.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cellhub::cli {

/// Parses `text` ("512B", "4KiB", "1MiB", "2GiB"); nothing for a missing or unknown unit, a
/// fraction, a sign, spaces or a value above 2^64 - 1.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

/// Writes `bytes` the way `parse_byte_size` reads it, in the largest exact unit ("16KiB").
std::string format_byte_size(std::uint64_t bytes);

} // namespace cellhub::cli
