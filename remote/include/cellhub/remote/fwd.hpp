#pragma once

#include <cstdint>

/// Forward declarations of the remote layer's public types.
namespace cellhub::remote {

enum class errc : std::uint8_t;
struct error;
class tls_credentials;
class link_security;

} // namespace cellhub::remote
