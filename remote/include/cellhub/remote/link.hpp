#pragma once

#include "cellhub/remote/error.hpp"
#include "cellhub/remote/fwd.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace cellhub::remote {

/// Publishes `whom` on `address:port` (port 0 picks a free port) through the
/// middleman `security` configured (TLS or plain); returns the bound port. Fails
/// with `insecure_address` for a plain link on a non-loopback address and with
/// `listen_failed` when the port cannot be opened.
result<std::uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                              const std::string& address, std::uint16_t port,
                              const link_security& security);

/// Connects to the actor published at `host:port` through the middleman `security`
/// configured, and waits at most `timeout` for the connection and CAF's handshake
/// (the TLS handshake included). Fails with `timeout`, with `connect_failed` (refused,
/// closed during the handshake — a peer that rejected the certificate, or a plain
/// server met with TLS —, nothing published there) or with `insecure_address`.
///
/// CAF 0.17 resolves the name and opens the TCP connection synchronously inside
/// its middleman actor: an address that drops packets keeps that actor busy until
/// the kernel's connect timeout (about two minutes) although this call returns
/// after `timeout`, and the actor system's destructor waits for it.
result<caf::actor> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port,
                           std::chrono::nanoseconds timeout, const link_security& security);

} // namespace cellhub::remote
