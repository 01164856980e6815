#pragma once

#include <boost/outcome/result.hpp>

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace cellhub::remote {

/// Lists every way setting up or using a link between actor systems can fail.
enum class errc : std::uint8_t {
  /// Reports a system call that failed; `error::sys_errno` holds the errno.
  io_error,
  /// Reports a TLS directory or file that another user owns, or that group or
  /// others may read (a key, the directory) or write (a certificate).
  unsafe_permissions,
  /// Reports a TLS directory that lacks credentials files (or holds only some).
  missing_credentials,
  /// Reports credentials OpenSSL cannot use: bad PEM, an encrypted key, a key that
  /// does not match its certificate, a certificate the CA did not sign or that expired.
  invalid_credentials,
  /// Reports OpenSSL failing to generate a key or a certificate.
  crypto_failure,
  /// Reports a plain (non-TLS) link asked for on an address that is not loopback.
  insecure_address,
  /// Reports an address and port the node cannot listen on.
  listen_failed,
  /// Reports a connection refused, closed during the handshake, or to a port where
  /// no actor is published.
  connect_failed,
  /// Reports a peer that did not finish the handshake or answer before the deadline.
  timeout,
};

/// Holds every `errc` value once, in declaration order.
inline constexpr std::array all_errcs = {
    errc::io_error,
    errc::unsafe_permissions,
    errc::missing_credentials,
    errc::invalid_credentials,
    errc::crypto_failure,
    errc::insecure_address,
    errc::listen_failed,
    errc::connect_failed,
    errc::timeout,
};

/// Returns the stable snake_case name of `code`.
std::string_view to_string(errc code) noexcept;

/// Writes the name of `code` to `out`.
std::ostream& operator<<(std::ostream& out, errc code);

/// Describes one failure: what kind, a text for a person and the errno if any.
struct error {
  /// Names the kind of failure.
  errc code = errc::io_error;
  /// Explains the failure for a person (the path, the mode, the address, ...).
  std::string detail;
  /// Holds the errno of a failed system call, or 0.
  int sys_errno = 0;

  /// Renders the error as `detail (strerror)`, or the code's name when the detail is empty.
  [[nodiscard]] std::string message() const;
};

/// Builds an error of kind `code` with a detail text.
error make_error(errc code, std::string detail);

/// Builds an `io_error` naming the failed operation, with the errno `err`.
error make_sys_error(std::string what, int err);

namespace outcome = BOOST_OUTCOME_V2_NAMESPACE;

/// Holds either a value of type `T` or a remote-layer `error`; never throws.
template <class T>
using result = outcome::result<T, error, outcome::policy::terminate>;

} // namespace cellhub::remote
