#pragma once

#include "cellhub/remote/error.hpp"
#include "cellhub/remote/handshake_limits.hpp"
#include "cellhub/remote/tls_credentials.hpp"

#include <caf/fwd.hpp>

#include <optional>
#include <string>

namespace cellhub::remote {

/// Chooses how the links of one actor system are protected: mutual TLS (both ends
/// present a certificate signed by the CA of the credentials, and no byte from a
/// peer reaches CAF's BASP decoder before its certificate is verified), with
/// `handshake_limits` on what unauthenticated peers can hold, or plain BASP, which
/// authenticates nobody and is allowed on loopback addresses only.
class link_security {
public:
  /// Protects links with mutual TLS and `credentials`, and bounds handshakes by `limits`.
  static link_security tls(tls_credentials credentials, handshake_limits limits = {});

  /// Leaves links unprotected (the CLI's `--insecure`): any process that reaches
  /// the port controls the node, and CAF's decoder trusts every length it reads.
  static link_security insecure() noexcept;

  /// Returns whether links use TLS.
  [[nodiscard]] bool uses_tls() const noexcept { return credentials_.has_value(); }

  /// Returns the TLS credentials, or nullptr for insecure links.
  [[nodiscard]] const tls_credentials* credentials() const noexcept {
    return credentials_ ? &*credentials_ : nullptr;
  }

  /// Returns the bounds on TLS handshakes (unused by insecure links).
  [[nodiscard]] const handshake_limits& limits() const noexcept { return limits_; }

  /// Loads CAF's middleman into `cfg` and, for TLS, cellhub's TLS module: CAF's
  /// OpenSSL module made to share one OpenSSL context (`tls_credentials::ssl_context`)
  /// and to enforce `limits()` on every handshake. Call it before the actor system
  /// is built; the system keeps what it needs (this object may go).
  void configure(caf::actor_system_config& cfg) const;

  /// Returns a short description for logs: `mutual TLS (credentials in DIR)` or
  /// `INSECURE: no TLS`.
  [[nodiscard]] std::string describe() const;

private:
  link_security(std::optional<tls_credentials> credentials, handshake_limits limits) noexcept
      : credentials_{std::move(credentials)}
      , limits_{limits} {}

  std::optional<tls_credentials> credentials_;
  handshake_limits limits_;
};

/// Returns whether `host` names loopback only: an IPv4 address in 127.0.0.0/8,
/// `::1`, or a name every address of which is one of those (`localhost`). An
/// empty host (every interface) is not loopback.
bool is_loopback(const std::string& host);

/// Refuses an insecure link to or from `host` unless `host` is loopback (a plain
/// port anywhere else is open to the network); accepts any host for TLS.
result<void> check_link_address(const link_security& security, const std::string& host);

} // namespace cellhub::remote
