// ProxyAuthenticator on its own: which registrations as a proxy a node accepts (a link
// certificate naming a configured proxy, or the [proxy-auth] secret) and what it says to the
// others. The real binaries are exercised in tests/proxy/proxy_auth_test.cc.
#include "node/server/proxy_auth.h"

#include <gtest/gtest.h>

namespace ix::node {
namespace {

config::ClusterConfig two_proxies() {
  config::ClusterConfig c;
  c.proxies.push_back(config::Proxy{"proxy-1", "desktops", {}, {}, {}, {}});
  c.proxies.push_back(config::Proxy{"proxy-2", "desktops", {}, {}, {}, {}});
  return c;
}

constexpr const char* kSecret = "the-proxy-secret-0123456789";

TEST(ProxyAuth, ALinkCertificateNamingAConfiguredProxyIsAccepted) {
  const ProxyAuthenticator auth{""};  // no secret needed
  ProxyAuthResult result = auth.authenticate(two_proxies(), {true, {"ixproxy host", "proxy-2"}, ""});
  EXPECT_FALSE(result.refused);
  EXPECT_EQ(result.text, "link certificate of proxy proxy-2");
  EXPECT_EQ(result.proxy_id, "proxy-2") << "the proxy the certificate names";
}

TEST(ProxyAuth, ACertificateThatNamesNoProxyIsRefused) {
  const ProxyAuthenticator auth{kSecret};
  ProxyAuthResult result = auth.authenticate(two_proxies(), {true, {"ixcluster test client"}, ""});
  ASSERT_TRUE(result.refused);
  EXPECT_EQ(*result.refused, ProxyRefusal::kNotAProxyCertificate);
  EXPECT_EQ(result.text,
            "the client certificate names \"ixcluster test client\", which is not a proxy of this cluster (proxies: "
            "proxy-1, proxy-2), and no proxy secret was sent");
  // The same certificate with the right secret: the secret authenticates it.
  EXPECT_FALSE(auth.authenticate(two_proxies(), {true, {"ixcluster test client"}, kSecret}).refused);
}

TEST(ProxyAuth, TheSecretMustBeSentAndMatch) {
  const ProxyAuthenticator auth{kSecret};
  ProxyAuthResult right = auth.authenticate(two_proxies(), {false, {}, kSecret});
  EXPECT_FALSE(right.refused);
  EXPECT_EQ(right.text, "proxy secret");
  EXPECT_EQ(right.proxy_id, "") << "the shared secret names no proxy";

  ProxyAuthResult none = auth.authenticate(two_proxies(), {false, {}, ""});
  ASSERT_TRUE(none.refused);
  EXPECT_EQ(*none.refused, ProxyRefusal::kNoSecret);
  EXPECT_EQ(none.text, "a proxy must send the proxy secret ([proxy-auth]) to register over plain TCP; none was sent");

  for (const char* wrong : {"the-proxy-secret-012345678", "the-proxy-secret-0123456789x", "short-wrong"}) {
    ProxyAuthResult refused = auth.authenticate(two_proxies(), {false, {}, wrong});
    ASSERT_TRUE(refused.refused) << wrong;
    EXPECT_EQ(*refused.refused, ProxyRefusal::kWrongSecret);
    EXPECT_EQ(refused.text.find(wrong), std::string::npos) << "a refusal never repeats a secret";
  }
}

TEST(ProxyAuth, OnTlsWithoutCertificateOrSecretTheRefusalSaysBoth) {
  const ProxyAuthenticator auth{kSecret};
  ProxyAuthResult result = auth.authenticate(two_proxies(), {true, {}, ""});
  ASSERT_TRUE(result.refused);
  EXPECT_EQ(*result.refused, ProxyRefusal::kNoCertificate);
  EXPECT_NE(result.text.find("present its link certificate ([proxies.link-tls]"), std::string::npos) << result.text;
  EXPECT_NE(result.text.find("or send the proxy secret ([proxy-auth])"), std::string::npos) << result.text;
}

TEST(ProxyAuth, ANodeWithoutSecretRefusesEverySecret) {
  const ProxyAuthenticator auth{""};
  ProxyAuthResult result = auth.authenticate(two_proxies(), {false, {}, kSecret});
  ASSERT_TRUE(result.refused);
  EXPECT_EQ(*result.refused, ProxyRefusal::kWrongSecret);
  EXPECT_NE(result.text.find("this node has no [proxy-auth] secret"), std::string::npos) << result.text;
}

TEST(ProxyAuth, SecretsCompareWhole) {
  EXPECT_TRUE(secrets_equal(kSecret, kSecret));
  EXPECT_FALSE(secrets_equal(kSecret, "the-proxy-secret-0123456788"));
  EXPECT_FALSE(secrets_equal(kSecret, "the-proxy-secret-"));
  EXPECT_FALSE(secrets_equal("", kSecret));
}

}  // namespace
}  // namespace ix::node
