#pragma once

#include "cellhub/remote/error.hpp"

#include <chrono>
#include <string>

namespace cellhub::remote {

/// Holds one private key and its certificate, both PEM-encoded, as OpenSSL reads
/// them: an unencrypted PKCS#8 EC P-256 key and an X.509 v3 certificate signed
/// with SHA-256.
struct tls_identity {
  /// Holds the private key (`-----BEGIN PRIVATE KEY-----`).
  std::string key_pem;
  /// Holds the certificate (`-----BEGIN CERTIFICATE-----`).
  std::string certificate_pem;

  /// Generates a self-signed certificate authority named `common_name`, valid from
  /// an hour ago (clock skew between hosts) for `validity`.
  static result<tls_identity> make_ca(const std::string& common_name, std::chrono::days validity);

  /// Generates a new key and a certificate for `common_name` signed by this CA,
  /// valid for `validity`; the certificate serves both ends of a link (TLS server
  /// and client). Fails with `invalid_credentials` when this is not a usable CA.
  [[nodiscard]] result<tls_identity> issue(const std::string& common_name,
                                           std::chrono::days validity) const;
};

} // namespace cellhub::remote
