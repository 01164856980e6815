#pragma once

#include "cellhub/remote/error.hpp"
#include "cellhub/remote/tls_credentials.hpp"

#include <caf/fwd.hpp>

#include <optional>
#include <string>

namespace cellhub::remote {

/// Chooses how the links of one actor system are protected: mutual TLS through
/// CAF's OpenSSL module (both ends present a certificate signed by the CA of the
/// credentials, and no byte from a peer reaches CAF's BASP decoder before its
/// certificate is verified), or plain BASP, which authenticates nobody and is
/// allowed on loopback addresses only.
class link_security {
public:
  /// Protects links with mutual TLS and `credentials`.
  static link_security tls(tls_credentials credentials);

  /// Leaves links unprotected (the CLI's `--insecure`): any process that reaches
  /// the port controls the node, and CAF's decoder trusts every length it reads.
  static link_security insecure() noexcept;

  /// Returns whether links use TLS.
  [[nodiscard]] bool uses_tls() const noexcept { return credentials_.has_value(); }

  /// Returns the TLS credentials, or nullptr for insecure links.
  [[nodiscard]] const tls_credentials* credentials() const noexcept {
    return credentials_ ? &*credentials_ : nullptr;
  }

  /// Loads CAF's middleman into `cfg` and, for TLS, its OpenSSL module with the
  /// credentials' certificate, key and CA file (all three: with fewer, CAF falls
  /// back to anonymous ciphers that authenticate nobody). Call it before the actor
  /// system is built, and keep this object (or a copy of the credentials) alive as
  /// long as that system runs: CAF reopens the frozen files at every connection.
  void configure(caf::actor_system_config& cfg) const;

  /// Returns a short description for logs: `mutual TLS (credentials in DIR)` or
  /// `INSECURE: no TLS`.
  [[nodiscard]] std::string describe() const;

private:
  explicit link_security(std::optional<tls_credentials> credentials) noexcept
      : credentials_{std::move(credentials)} {}

  std::optional<tls_credentials> credentials_;
};

/// Returns whether `host` names loopback only: an IPv4 address in 127.0.0.0/8,
/// `::1`, or a name every address of which is one of those (`localhost`). An
/// empty host (every interface) is not loopback.
bool is_loopback(const std::string& host);

/// Refuses an insecure link to or from `host` unless `host` is loopback (a plain
/// port anywhere else is open to the network); accepts any host for TLS.
result<void> check_link_address(const link_security& security, const std::string& host);

} // namespace cellhub::remote
