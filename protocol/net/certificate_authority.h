// CertificateAuthority: a self-signed CA made with BoringSSL, and the certificates it signs.
// For tools and tests that need their own TLS identity on loopback (ixengage's state directory,
// the test suite's certificates); production deployments bring their own PKI.
//
// Plain objects used on one thread at a time; making a key takes a few milliseconds.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>

#include "protocol/result.h"

namespace ix::net {

// PEM text, ready for TlsOptions or a file.
struct PemIdentity {
  std::string cert_pem;
  std::string key_pem;
};

class CertificateAuthority {
 public:
  // A new P-256 key and a self-signed CA certificate valid for `days`.
  static Result<CertificateAuthority> create(std::string_view common_name, long days);

  // A leaf certificate for a new key, signed by this CA, usable for TLS server and client
  // authentication. subject_alt_names is an X.509v3 list ("DNS:localhost,IP:127.0.0.1") or empty.
  Result<PemIdentity> issue(std::string_view common_name, std::string_view subject_alt_names, long days) const;

  const std::string& pem() const { return pem_; }

 private:
  CertificateAuthority(bssl::UniquePtr<EVP_PKEY> key, bssl::UniquePtr<X509> cert);

  bssl::UniquePtr<EVP_PKEY> key_;
  bssl::UniquePtr<X509> cert_;
  std::string pem_;
};

}  // namespace ix::net
