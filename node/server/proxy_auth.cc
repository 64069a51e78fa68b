#include "node/server/proxy_auth.h"

#include <openssl/mem.h>
#include <openssl/sha.h>

namespace ix::node {

const char* proxy_refusal_name(ProxyRefusal reason) {
  switch (reason) {
    case ProxyRefusal::kNoSecret: return "no_secret";
    case ProxyRefusal::kWrongSecret: return "wrong_secret";
    case ProxyRefusal::kNotAProxyCertificate: return "not_a_proxy_certificate";
    case ProxyRefusal::kNoCertificate: return "no_certificate";
  }
  return "unknown";
}

bool secrets_equal(std::string_view expected, std::string_view given) {
  uint8_t a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(expected.data()), expected.size(), a);
  SHA256(reinterpret_cast<const uint8_t*>(given.data()), given.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

ProxyAuthResult ProxyAuthenticator::authenticate(const config::ClusterConfig& config, const ProxyCredentials& offered) const {
  for (const std::string& name : offered.certificate_names) {
    if (config.proxy(name) != nullptr) return {std::nullopt, "link certificate of proxy " + name, name};
  }
  if (!offered.secret.empty()) {
    if (secret_.empty()) {
      return {ProxyRefusal::kWrongSecret,
              "a proxy secret was sent, but this node has no [proxy-auth] secret to check it against; give nodes and "
              "proxies the same [proxy-auth] and restart them"};
    }
    if (secrets_equal(secret_, offered.secret)) return {std::nullopt, "proxy secret"};
    return {ProxyRefusal::kWrongSecret,
            "the proxy secret sent does not match this node's [proxy-auth] secret; nodes and proxies must read the same "
            "secret (secret-file or secret-env)"};
  }
  if (!offered.certificate_names.empty()) {
    std::string names, proxies;
    for (const std::string& name : offered.certificate_names) names += (names.empty() ? "\"" : ", \"") + name + "\"";
    for (const config::Proxy& p : config.proxies) proxies += (proxies.empty() ? "" : ", ") + p.id;
    return {ProxyRefusal::kNotAProxyCertificate,
            "the client certificate names " + names + ", which is not a proxy of this cluster (proxies: " +
                (proxies.empty() ? "none" : proxies) + "), and no proxy secret was sent"};
  }
  if (offered.tls) {
    return {ProxyRefusal::kNoCertificate,
            "a proxy must present its link certificate ([proxies.link-tls], signed by the pair's tls ca-file and naming "
            "the proxy's id) or send the proxy secret ([proxy-auth]); it did neither"};
  }
  return {ProxyRefusal::kNoSecret,
          std::string("a proxy must send the proxy secret ([proxy-auth]) to register over plain TCP; none was sent") +
              (secret_.empty() ? ", and this node has no [proxy-auth] secret either" : "")};
}

}  // namespace ix::node
