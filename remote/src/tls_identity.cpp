#include "cellhub/remote/tls_identity.hpp"

#include "openssl_support.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace cellhub::remote {
namespace {

// Names what failed with OpenSSL's queued reasons, and empties the queue.
error crypto_error(const std::string& what) {
  const auto reasons = take_openssl_errors();
  return make_error(errc::crypto_failure, reasons.empty() ? what : what + ": " + reasons);
}

pkey_ptr generate_key() {
  // P-256: every TLS stack accepts it and a key takes well under a millisecond.
  return pkey_ptr{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
}

std::string to_pem(const EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string{data, static_cast<std::size_t>(size)} : std::string{};
}

std::string to_pem(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return size > 0 ? std::string{data, static_cast<std::size_t>(size)} : std::string{};
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, &ctx, nid, value)};
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// Builds an unsigned certificate for `key` named `common_name`, with a random
// serial number and the validity window; the caller adds extensions and signs.
x509_ptr make_certificate(EVP_PKEY* key, const std::string& common_name,
                          std::chrono::days validity) {
  x509_ptr cert{X509_new()};
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
    return nullptr;
  // 159 random bits: positive, unique without a serial file (RFC 5280 allows 20 bytes).
  bn_ptr serial{BN_new()};
  if (!serial || BN_rand(serial.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr)
    return nullptr;
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(validity.count()), 0,
                       nullptr) == nullptr)
    return nullptr;
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  const auto* org = reinterpret_cast<const unsigned char*>("cellhub");
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, org, -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, 0) != 1)
    return nullptr;
  if (X509_set_pubkey(cert.get(), key) != 1)
    return nullptr;
  return cert;
}

} // namespace

result<tls_identity> tls_identity::make_ca(const std::string& common_name,
                                           std::chrono::days validity) {
  ERR_clear_error();
  auto key = generate_key();
  if (!key)
    return crypto_error("cannot generate the CA's EC key");
  auto cert = make_certificate(key.get(), common_name, validity);
  if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1)
    return crypto_error("cannot build the CA certificate");
  // pathlen 0: this CA signs node certificates only, never another CA.
  if (!add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"))
    return crypto_error("cannot add the CA certificate's extensions");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
    return crypto_error("cannot sign the CA certificate");
  tls_identity ca{to_pem(key.get()), to_pem(cert.get())};
  if (ca.key_pem.empty() || ca.certificate_pem.empty())
    return crypto_error("cannot encode the CA as PEM");
  return ca;
}

result<tls_identity> tls_identity::issue(const std::string& common_name,
                                         std::chrono::days validity) const {
  ERR_clear_error();
  bio_ptr key_bio{BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()))};
  bio_ptr cert_bio{
      BIO_new_mem_buf(certificate_pem.data(), static_cast<int>(certificate_pem.size()))};
  pkey_ptr ca_key{key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr)
                          : nullptr};
  x509_ptr ca_cert{cert_bio ? PEM_read_bio_X509(cert_bio.get(), nullptr, no_passphrase, nullptr)
                            : nullptr};
  if (!ca_key || !ca_cert)
    return make_error(errc::invalid_credentials,
                      crypto_error("cannot read the CA key and certificate").detail);
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1 || X509_check_ca(ca_cert.get()) == 0)
    return make_error(errc::invalid_credentials,
                      crypto_error("the CA key and certificate do not form a CA").detail);
  auto key = generate_key();
  if (!key)
    return crypto_error("cannot generate an EC key");
  auto cert = make_certificate(key.get(), common_name, validity);
  if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1)
    return crypto_error("cannot build the certificate");
  if (!add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth") ||
      !add_extension(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash") ||
      !add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"))
    return crypto_error("cannot add the certificate's extensions");
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0)
    return crypto_error("cannot sign the certificate");
  tls_identity node{to_pem(key.get()), to_pem(cert.get())};
  if (node.key_pem.empty() || node.certificate_pem.empty())
    return crypto_error("cannot encode the certificate as PEM");
  return node;
}

} // namespace cellhub::remote
