#pragma once

// What the remote layer's OpenSSL code shares (private to remote/src): owning
// pointers to OpenSSL objects, the refusal of passphrase prompts, and OpenSSL's
// error queue as text.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace cellhub::remote {

/// Frees an OpenSSL object with `Free` (its `*_free` function), for `std::unique_ptr`.
template <auto Free>
struct openssl_deleter {
  /// Frees `p`.
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

/// Owns an `SSL_CTX`.
using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, openssl_deleter<SSL_CTX_free>>;
/// Owns a `BIO` chain.
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO_free_all>>;
/// Owns an `EVP_PKEY`.
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY_free>>;
/// Owns an `X509` certificate.
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509_free>>;
/// Owns an `X509_STORE_CTX`.
using store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, openssl_deleter<X509_STORE_CTX_free>>;
/// Owns a `BIGNUM`.
using bn_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BN_free>>;
/// Owns an `X509_EXTENSION`.
using ext_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION_free>>;

/// Refuses every passphrase request (a `pem_password_cb`): cellhub keys are unencrypted
/// (their file mode protects them), so an encrypted key fails to load instead of
/// OpenSSL's default callback prompting on the terminal.
inline int no_passphrase(char*, int, int, void*) {
  return -1;
}

/// Returns the reasons OpenSSL queued on this thread, joined by "; " (empty when there
/// are none), and empties its queue.
inline std::string take_openssl_errors() {
  std::string text;
  while (const auto code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!text.empty())
      text += "; ";
    text += buffer;
  }
  return text;
}

} // namespace cellhub::remote
