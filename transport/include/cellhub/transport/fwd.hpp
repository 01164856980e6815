#pragma once

#include <cstdint>

/// Forward declarations of the transport layer's public types.
namespace cellhub::transport {

enum class errc : std::uint8_t;
struct error;

} // namespace cellhub::transport
