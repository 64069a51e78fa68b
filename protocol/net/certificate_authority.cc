#include "protocol/net/certificate_authority.h"

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "protocol/net/tls_context.h"

namespace ix::net {

namespace {

Result<bssl::UniquePtr<EVP_PKEY>> make_key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return Error{0, "EC key generation failed: " + last_tls_error()};
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  EVP_PKEY_assign_EC_KEY(key.get(), ec.release());
  return key;
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A random positive 64-bit serial: two CAs' certificates never share one.
void random_serial(X509* cert) {
  uint8_t bytes[8];
  RAND_bytes(bytes, sizeof bytes);
  bytes[0] &= 0x7f;
  bssl::UniquePtr<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert));
}

// Signed by issuer/issuer_key, or self-signed (a CA) when issuer is null.
Result<bssl::UniquePtr<X509>> make_cert(std::string_view common_name, EVP_PKEY* key, X509* issuer,
                                        EVP_PKEY* issuer_key, long days, std::string_view san) {
  bssl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  random_serial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * days);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.data()),
                             static_cast<int>(common_name.size()), -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer ? issuer : cert.get();
  const bool is_ca = issuer == nullptr;
  bool ok = add_extension(cert.get(), signer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  ok = ok && add_extension(cert.get(), signer, NID_key_usage,
                           is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  if (!is_ca) ok = ok && add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  if (!san.empty()) ok = ok && add_extension(cert.get(), signer, NID_subject_alt_name, std::string(san).c_str());
  if (!ok) return Error{0, "cannot build the certificate's extensions: " + last_tls_error()};
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256())) {
    return Error{0, "cannot sign the certificate: " + last_tls_error()};
  }
  return cert;
}

std::string bio_text(BIO* bio) {
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string pem_of(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_text(bio.get());
}

std::string pem_of(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio.get());
}

}  // namespace

CertificateAuthority::CertificateAuthority(bssl::UniquePtr<EVP_PKEY> key, bssl::UniquePtr<X509> cert)
    : key_(std::move(key)), cert_(std::move(cert)), pem_(pem_of(cert_.get())) {}

Result<CertificateAuthority> CertificateAuthority::create(std::string_view common_name, long days) {
  auto key = make_key();
  if (!key) return key.error();
  auto cert = make_cert(common_name, key->get(), nullptr, nullptr, days, {});
  if (!cert) return cert.error();
  return CertificateAuthority(std::move(key.value()), std::move(cert.value()));
}

Result<PemIdentity> CertificateAuthority::issue(std::string_view common_name, std::string_view subject_alt_names,
                                                long days) const {
  auto key = make_key();
  if (!key) return key.error();
  auto cert = make_cert(common_name, key->get(), cert_.get(), key_.get(), days, subject_alt_names);
  if (!cert) return cert.error();
  return PemIdentity{pem_of(cert->get()), pem_of(key->get())};
}

}  // namespace ix::net
