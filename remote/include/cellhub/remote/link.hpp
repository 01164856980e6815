#pragma once

#include "cellhub/remote/error.hpp"
#include "cellhub/remote/fwd.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

namespace cellhub::remote {

/// Publishes `whom` on `address:port` (port 0 picks a free port) through the
/// middleman `security` configured (TLS or plain); returns the bound port. Fails
/// with `insecure_address` for a plain link on a non-loopback address and with
/// `listen_failed` when the port cannot be opened.
/// The interface `whom` publishes is its handle's (`sys.message_types(whom)`): what
/// `connect` checks a client's expectation against.
template <class Handle>
result<std::uint16_t> publish(caf::actor_system& sys, const Handle& whom,
                              const std::string& address, std::uint16_t port,
                              const link_security& security);

/// Publishes `whom` with the interface `interface`; `publish` for any handle.
result<std::uint16_t> publish_actor(caf::actor_system& sys, caf::strong_actor_ptr whom,
                                    std::set<std::string> interface, const std::string& address,
                                    std::uint16_t port, const link_security& security);

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
/// Fails with `connect_failed` too when the published actor's interface is not
/// assignable to `Handle` (a typed handle of another protocol).
template <class Handle = caf::actor>
result<Handle> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port,
                       std::chrono::nanoseconds timeout, const link_security& security);

/// Connects as `connect` does and checks the published interface against `expected`;
/// returns the untyped pointer.
result<caf::strong_actor_ptr> connect_actor(caf::actor_system& sys, const std::string& host,
                                            std::uint16_t port, std::chrono::nanoseconds timeout,
                                            const link_security& security,
                                            const std::set<std::string>& expected);

template <class Handle>
result<std::uint16_t> publish(caf::actor_system& sys, const Handle& whom,
                              const std::string& address, std::uint16_t port,
                              const link_security& security) {
  return publish_actor(sys, caf::actor_cast<caf::strong_actor_ptr>(whom), sys.message_types(whom),
                       address, port, security);
}

template <class Handle>
result<Handle> connect(caf::actor_system& sys, const std::string& host, std::uint16_t port,
                       std::chrono::nanoseconds timeout, const link_security& security) {
  auto found = connect_actor(sys, host, port, timeout, security,
                             sys.message_types(caf::detail::type_list<Handle>{}));
  if (!found)
    return found.error();
  return caf::actor_cast<Handle>(std::move(found).value());
}

} // namespace cellhub::remote
