// ProxyAuthenticator: whether a connection that registers as a proxy is one (DESIGN.md §7:
// nodes trust only authenticated proxies). A proxy is trusted with every request of every
// client, so the node accepts the proxy client type only from
//   - a TLS peer whose certificate, verified against the pair's ca-file during the handshake,
//     names a proxy of the configuration (its common name or a DNS subject alternative name is
//     a proxy ID: the proxy's [proxies.link-tls] certificate), or
//   - a registration carrying the cluster's [proxy-auth] secret, compared in constant time.
// Anything else is refused with the reason (no secret, wrong secret, a certificate that is not
// a proxy's); NodeServer answers RequestNotAllowed (107) with it, closes the connection, logs and counts
// it. Other client types never come here.
//
// Owned by NodeServer on its loop thread. The secret is fixed at construction (read at start,
// [proxy-auth] keys need a restart); the proxies are read from the configuration of each call,
// so a reload that adds a proxy lets its certificate in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster-config/model.h"

namespace ix::node {

enum class ProxyRefusal { kNoSecret, kWrongSecret, kNotAProxyCertificate, kNoCertificate };

// The metric label and log word of a refusal: no_secret, wrong_secret, not_a_proxy_certificate,
// no_certificate.
const char* proxy_refusal_name(ProxyRefusal reason);
inline constexpr ProxyRefusal kProxyRefusals[] = {ProxyRefusal::kNoSecret, ProxyRefusal::kWrongSecret,
                                                  ProxyRefusal::kNotAProxyCertificate, ProxyRefusal::kNoCertificate};

// What a registering connection offers.
struct ProxyCredentials {
  bool tls = false;
  std::vector<std::string> certificate_names;  // of the verified peer certificate (Connection)
  std::string_view secret;                     // RequestRegisterClient.proxy_secret
};

struct ProxyAuthResult {
  std::optional<ProxyRefusal> refused;  // nullopt: accepted
  // Accepted: how ("link certificate of proxy-1", "proxy secret"). Refused: what is wrong and
  // what to set, for the peer and the log; never the secret.
  std::string text;
  // Accepted by a link certificate: the proxy it names. Empty for the shared secret, which every
  // proxy holds and so names none of them.
  std::string proxy_id = {};
};

class ProxyAuthenticator {
 public:
  // secret: the [proxy-auth] secret, empty when the configuration has none.
  explicit ProxyAuthenticator(std::string secret) : secret_(std::move(secret)) {}

  ProxyAuthResult authenticate(const config::ClusterConfig& config, const ProxyCredentials& offered) const;

 private:
  std::string secret_;
};

// Constant-time equality of two secrets: both are hashed (SHA-256) and the digests compared
// with CRYPTO_memcmp, so neither the position of the first difference nor the length leaks.
bool secrets_equal(std::string_view expected, std::string_view given);

}  // namespace ix::node
