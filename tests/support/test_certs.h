// Test certificates made by the test itself with BoringSSL: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate and the proxies' link certificates, all signed by
// the CA, plus a second CA that signed nothing we trust. PEM text, ready for net::TlsOptions.
#pragma once

#include <string>
#include <vector>

namespace ix::test {

struct Identity {
  std::string cert_pem;
  std::string key_pem;
};

struct TestCertificates {
  std::string ca_pem;
  Identity server;
  Identity client;  // CN "ixcluster test client": a valid certificate that names no proxy
  std::vector<Identity> proxy_links;  // [i]: CN "proxy-<i+1>", a proxy's link certificate
  Identity stranger;  // signed by an untrusted CA
};

// Generated once per process (key generation takes a few milliseconds).
const TestCertificates& test_certificates();

}  // namespace ix::test
