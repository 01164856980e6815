#pragma once

#include <cstdint>

/// Forward declarations of the actor layer's public types.
namespace cellhub::actors {

enum class errc : std::uint8_t;

} // namespace cellhub::actors
