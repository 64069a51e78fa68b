#include "tools/ixengage/certificates.h"

#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "protocol/net/tls_context.h"

namespace ix::engage {

namespace {

namespace fs = std::filesystem;

Result<bssl::UniquePtr<EVP_PKEY>> make_key() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return Error{0, "EC key generation failed: " + net::last_tls_error()};
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

// A random positive 64-bit serial: two simulators' certificates never share one.
void random_serial(X509* cert) {
  uint8_t bytes[8];
  RAND_bytes(bytes, sizeof bytes);
  bytes[0] &= 0x7f;
  bssl::UniquePtr<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert));
}

Result<bssl::UniquePtr<X509>> make_cert(const char* common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                                        long days, const char* san) {
  bssl::UniquePtr<X509> cert(X509_new());
  X509_set_version(cert.get(), 2);
  random_serial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600L * 24 * days);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ixcluster ixengage"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key);
  X509* signer = issuer ? issuer : cert.get();
  const bool is_ca = issuer == nullptr;
  bool ok = add_extension(cert.get(), signer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  ok = ok && add_extension(cert.get(), signer, NID_key_usage,
                           is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
  if (!is_ca) ok = ok && add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
  if (san != nullptr) ok = ok && add_extension(cert.get(), signer, NID_subject_alt_name, san);
  if (!ok) return Error{0, "cannot build the certificate's extensions: " + net::last_tls_error()};
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256())) {
    return Error{0, "cannot sign the certificate: " + net::last_tls_error()};
  }
  return cert;
}

std::string pem_of(X509* cert) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string pem_of(EVP_PKEY* key) {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  const uint8_t* data;
  size_t len;
  BIO_mem_contents(bio.get(), &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

// Written next to the target and renamed over it: a reader never sees half a file.
Status write_file(const fs::path& path, const std::string& text, bool secret) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{0, "cannot write " + tmp.string()};
    out << text;
    if (!out.flush()) return Error{0, "cannot write " + tmp.string()};
  }
  if (secret) ::chmod(tmp.c_str(), 0600);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Error{0, "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message()};
  return {};
}

Status generate(const CertificatePaths& paths) {
  auto ca_key = make_key();
  if (!ca_key) return ca_key.error();
  auto ca = make_cert("ixengage local CA", ca_key->get(), nullptr, nullptr, 3650, nullptr);
  if (!ca) return ca.error();
  auto server_key = make_key();
  if (!server_key) return server_key.error();
  auto server = make_cert("localhost", server_key->get(), ca->get(), ca_key->get(), 825, "DNS:localhost,IP:127.0.0.1");
  if (!server) return server.error();
  // The key first and the CA last: a directory with ca.pem in it is a complete one.
  if (Status s = write_file(paths.key_file, pem_of(server_key->get()), true); !s) return s;
  if (Status s = write_file(paths.cert_file, pem_of(server->get()), false); !s) return s;
  return write_file(paths.ca_file, pem_of(ca->get()), false);
}

}  // namespace

Result<CertificatePaths> ensure_certificates(const std::string& state_dir) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) return Error{0, "cannot create the state directory " + state_dir + ": " + ec.message()};
  const fs::path dir = fs::absolute(state_dir, ec).lexically_normal();
  CertificatePaths paths{(dir / "ca.pem").string(), (dir / "cert.pem").string(), (dir / "key.pem").string(), false};
  const bool have[] = {fs::exists(paths.ca_file), fs::exists(paths.cert_file), fs::exists(paths.key_file)};
  if (have[0] && have[1] && have[2]) return paths;
  if (have[0] || have[1] || have[2]) {
    return Error{0, "the state directory " + dir.string() +
                        " holds only some of ca.pem, cert.pem and key.pem; remove them to generate a new CA "
                        "(clients must then trust the new ca.pem)"};
  }
  if (Status s = generate(paths); !s) return s.error();
  paths.generated = true;
  return paths;
}

}  // namespace ix::engage
