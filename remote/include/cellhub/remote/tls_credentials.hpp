#pragma once

#include "cellhub/remote/error.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

// OpenSSL's context type (<openssl/ssl.h> names it SSL_CTX).
struct ssl_ctx_st;

namespace cellhub::remote {

/// Chooses what `tls_credentials::load` does with a directory that holds no credentials.
enum class on_missing : std::uint8_t {
  /// Generates a new CA and a certificate signed by it (first use on this host).
  generate,
  /// Fails with `missing_credentials`.
  fail,
};

/// Holds one node's TLS credentials — its certificate and key, and the CA that must
/// have signed every peer it talks to — checked, then frozen in memory and loaded
/// once into the OpenSSL context that every link uses.
///
/// A TLS directory holds `ca.pem` (the CA certificate), `cert.pem` and `key.pem`
/// (this node's certificate, signed by that CA, and its unencrypted key) and, on
/// the host that generated the CA, `ca-key.pem` (the CA's key, for issuing more
/// certificates; never needed to run). The directory must belong to the user and
/// be private to it (no group or other bits), keys must be private too, and
/// certificates must not be writable by group or others: anything else is refused,
/// never repaired. Copies are cheap and share the frozen files.
class tls_credentials {
public:
  /// Names the CA certificate's file in a TLS directory.
  static constexpr std::string_view ca_certificate_name = "ca.pem";
  /// Names the CA key's file (present only where certificates are issued).
  static constexpr std::string_view ca_key_name = "ca-key.pem";
  /// Names this node's certificate file.
  static constexpr std::string_view certificate_name = "cert.pem";
  /// Names this node's key file.
  static constexpr std::string_view key_name = "key.pem";

  /// Returns the default TLS directory: `$XDG_CONFIG_HOME/cellhub/tls`, else
  /// `$HOME/.config/cellhub/tls`, else the same under the user's passwd home.
  static result<std::filesystem::path> default_dir();

  /// Reads, checks and freezes the credentials in `dir`. With `on_missing::generate`
  /// a directory without any credentials file (or no directory at all: it is created
  /// 0700, with missing parents) first gets a new CA (`ca.pem`, `ca-key.pem`) and a
  /// certificate and key for this node signed by it, every file 0600; an exclusive
  /// lock on the directory makes two processes starting at once agree on one CA.
  /// Fails with `unsafe_permissions`, `missing_credentials` (also for a directory that
  /// holds only some files: nothing is ever overwritten), `invalid_credentials`
  /// (loaded as every link uses them, plus the certificate's chain to the CA for both
  /// TLS roles), `crypto_failure` or `io_error`.
  static result<tls_credentials> load(const std::filesystem::path& dir, on_missing missing);

  /// Returns the directory the credentials were read from.
  [[nodiscard]] const std::filesystem::path& dir() const noexcept;

  /// Returns whether `load` generated the credentials (they did not exist before).
  [[nodiscard]] bool generated() const noexcept;

  /// Returns the path OpenSSL read the CA certificate from: a sealed in-memory copy
  /// (`/proc/self/fd/N`) of what `load` checked, so that files changed or removed
  /// later cannot change what `ssl_context` holds.
  [[nodiscard]] const std::string& ca_file() const noexcept;

  /// Returns the path OpenSSL read this node's certificate from (a frozen copy).
  [[nodiscard]] const std::string& certificate_file() const noexcept;

  /// Returns the path OpenSSL read this node's key from (a frozen copy).
  [[nodiscard]] const std::string& key_file() const noexcept;

  /// Returns this node's certificate subject, e.g. `O = cellhub, CN = cellhub alice@box`.
  [[nodiscard]] const std::string& subject() const noexcept;

  /// Returns the OpenSSL context loaded once from these credentials and set up for
  /// mutual TLS: TLS 1.2 or later, a peer certificate required on both ends and
  /// verified against the CA. Every link shares it (`SSL_new`), so a connection
  /// opens no file; nobody may change it. It lives as long as any copy of `*this`.
  [[nodiscard]] ssl_ctx_st* ssl_context() const noexcept;

private:
  struct state;

  explicit tls_credentials(std::shared_ptr<const state> st) noexcept
      : state_{std::move(st)} {}

  std::shared_ptr<const state> state_;
};

} // namespace cellhub::remote
