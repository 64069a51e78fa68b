#include "tests/support/test_certs.h"

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace ix::test {

namespace {

bssl::UniquePtr<EVP_PKEY> make_key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) throw std::runtime_error("EC key generation failed");
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  EVP_PKEY_assign_EC_KEY(key.get(), ec.release());
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext) throw std::runtime_error("cannot build X.509 extension");
  X509_add_ext(cert, ext.get(), -1);
}

bssl::UniquePtr<X509> make_cert(const char* common_name, EVP_PKEY* key, X509* issuer,
                                EVP_PKEY* issuer_key, long serial, bool is_ca, const char* san) {
  bssl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * 365);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer ? issuer : cert.get();
  add_extension(cert.get(), signer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  if (san) add_extension(cert.get(), signer, NID_subject_alt_name, san);
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256())) {
    throw std::runtime_error("X509_sign failed");
  }
  return cert;
}

std::string pem(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string pem(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

TestCertificates generate() {
  TestCertificates out;
  auto ca_key = make_key();
  auto ca = make_cert("ixcluster test CA", ca_key.get(), nullptr, nullptr, 1, true, nullptr);
  out.ca_pem = pem(ca.get());

  auto server_key = make_key();
  auto server = make_cert("localhost", server_key.get(), ca.get(), ca_key.get(), 2, false,
                          "DNS:localhost,IP:127.0.0.1");
  out.server = {pem(server.get()), pem(server_key.get())};

  auto client_key = make_key();
  auto client = make_cert("ixcluster test client", client_key.get(), ca.get(), ca_key.get(), 3,
                          false, nullptr);
  out.client = {pem(client.get()), pem(client_key.get())};

  auto other_ca_key = make_key();
  auto other_ca = make_cert("untrusted CA", other_ca_key.get(), nullptr, nullptr, 4, true, nullptr);
  auto stranger_key = make_key();
  auto stranger = make_cert("stranger", stranger_key.get(), other_ca.get(), other_ca_key.get(), 5,
                            false, nullptr);
  out.stranger = {pem(stranger.get()), pem(stranger_key.get())};
  return out;
}

}  // namespace

const TestCertificates& test_certificates() {
  static const TestCertificates certificates = generate();
  return certificates;
}

}  // namespace ix::test
