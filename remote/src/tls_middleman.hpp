#pragma once

// cellhub's TLS module for CAF's middleman: what CAF's OpenSSL module does
// (`caf::openssl::manager` and its middleman actor), with one OpenSSL context
// loaded once and every handshake under a `handshake_guard`.

#include "cellhub/remote/handshake_limits.hpp"
#include "cellhub/remote/tls_credentials.hpp"

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

namespace cellhub::remote {

/// Adds the TLS module to `cfg` (after CAF's middleman, which it needs): an
/// actor system built from `cfg` then runs a middleman actor of its own whose
/// doorman and connections speak mutual TLS with `credentials` and enforce
/// `limits` on every handshake.
void load_tls_module(caf::actor_system_config& cfg, const tls_credentials& credentials,
                     const handshake_limits& limits);

/// Returns the TLS module's middleman actor in `sys` (publish and connect go
/// through it, as through CAF's), or an invalid handle when `sys` has no TLS
/// module or is shutting down.
caf::io::middleman_actor tls_middleman(const caf::actor_system& sys);

} // namespace cellhub::remote
