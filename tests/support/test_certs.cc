#include "tests/support/test_certs.h"

#include <stdexcept>

#include "protocol/net/certificate_authority.h"

namespace ix::test {

namespace {

template <class T>
T value_or_throw(Result<T> result) {
  if (!result) throw std::runtime_error("test certificates: " + result.error().text);
  return std::move(result.value());
}

Identity identity(const net::PemIdentity& pem) { return {pem.cert_pem, pem.key_pem}; }

TestCertificates generate() {
  constexpr long kDays = 365;
  auto ca = value_or_throw(net::CertificateAuthority::create("ixcluster test CA", kDays));
  auto untrusted = value_or_throw(net::CertificateAuthority::create("untrusted CA", kDays));
  TestCertificates out;
  out.ca_pem = ca.pem();
  out.server = identity(value_or_throw(ca.issue("localhost", "DNS:localhost,IP:127.0.0.1", kDays)));
  out.client = identity(value_or_throw(ca.issue("ixcluster test client", "", kDays)));
  for (int i = 1; i <= 3; ++i) {
    out.proxy_links.push_back(identity(value_or_throw(ca.issue("proxy-" + std::to_string(i), "", kDays))));
  }
  out.stranger = identity(value_or_throw(untrusted.issue("stranger", "", kDays)));
  return out;
}

}  // namespace

const TestCertificates& test_certificates() {
  static const TestCertificates certificates = generate();
  return certificates;
}

}  // namespace ix::test
