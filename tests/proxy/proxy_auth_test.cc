// Only authenticated proxies may register with a node as proxies (DESIGN.md §7; issue 18 item 6),
// against the real binaries: over plain TCP with the [proxy-auth] secret, over TLS with the
// proxy's link certificate. A fake proxy is refused with the reason, a log line and a metric,
// and the node goes on serving the real proxy and every other client type.
#include <gtest/gtest.h>

#include <regex>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/test_certs.h"

namespace ix::test {
namespace {

constexpr int kRequestNotAllowed = static_cast<int>(proto::ErrorCode::RequestNotAllowed);

class ProxyAuth : public ClusterFixture {
 protected:
  // One pair (it serves every media type) and proxy-1: enough for a proxy to be ready.
  void start_pair_and_proxy() {
    start_pair(0);
    start_proxy(0);
  }

  std::unique_ptr<ProtocolClient> connect_to_primary(std::shared_ptr<net::TlsContext> tls = nullptr) {
    return std::make_unique<ProtocolClient>(loop_, node_ports_[0][0].first, tls ? tls : client_tls_context());
  }

  // Registers as a proxy and expects a refusal whose text says `says`, then the connection's end.
  void expect_refused(ProtocolClient& fake, const std::string& secret, const std::string& says) {
    EnvelopePtr reply = fake.register_as(proto::ClientType::Proxy, "impostor", secret);
    ASSERT_EQ(error_code(reply), kRequestNotAllowed) << error_text(reply);
    EXPECT_NE(error_text(reply).find("registration as a proxy refused by node pair pair-1: " + says), std::string::npos)
        << error_text(reply);
    EXPECT_TRUE(loop_.run_until([&] { return fake.closed(); }, 5000)) << "a refused proxy's connection is closed";
  }

  std::string node_metrics() { return http_get(loop_, node_ports_[0][0].second, "/metrics").body(); }

  void expect_submit_through_proxy() {
    auto media = proxy_client(0, proto::ClientType::MediaServer);
    EnvelopePtr submitted = media->call(chat_submit());
    EXPECT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);
  }
};

TEST_F(ProxyAuth, AFakeProxyWithoutOrWithAWrongSecretIsRefusedAndTheRealProxyKeepsWorking) {
  start_pair_and_proxy();  // proxy-1 registered with the secret of proxy.secret

  auto no_secret = connect_to_primary();
  expect_refused(*no_secret, "", "a proxy must send the proxy secret ([proxy-auth]) to register over plain TCP; none was sent");
  auto wrong = connect_to_primary();
  expect_refused(*wrong, "not-the-cluster-secret-0123", "the proxy secret sent does not match this node's [proxy-auth] secret");

  const std::string metrics = node_metrics();
  EXPECT_NE(metrics.find("reason=\"no_secret\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("reason=\"wrong_secret\"} 1"), std::string::npos) << metrics;
  const std::string log = nodes_[0][0]->log();
  EXPECT_NE(log.find("event=proxy_refused reason=no_secret"), std::string::npos) << log;
  EXPECT_NE(log.find("event=proxy_refused reason=wrong_secret"), std::string::npos) << log;
  EXPECT_EQ(log.find("not-the-cluster-secret"), std::string::npos) << "the log never shows a secret";
  // The real proxy's worker, with the instance token its process drew at start.
  EXPECT_TRUE(std::regex_search(log, std::regex(R"re(client_name="ixproxy proxy-1 worker 0" instance="[0-9a-f]+" via="proxy secret")re")))
      << log;

  // The right secret registers; desktops and other client types need none.
  auto right = connect_to_primary();
  EnvelopePtr registered = right->register_as(proto::ClientType::Proxy, "tool", kProxySecret);
  EXPECT_TRUE(registered && registered->body.AsEventClientRegistered()) << error_text(registered);
  auto desktop = connect_to_primary();
  EnvelopePtr desk = desktop->register_as(proto::ClientType::AgentApplication);
  EXPECT_TRUE(desk && desk->body.AsEventClientRegistered()) << error_text(desk);

  expect_submit_through_proxy();
}

// TLS: nodes require client certificates; the proxy serves its own clients over plain TCP and
// has only its link certificate (no secret). Before link certificates the proxy's server
// certificate doubled as its client certificate, so this pair was unreachable from it.
class ProxyAuthTls : public ProxyAuth {
 protected:
  void SetUp() override {
    ProxyAuth::SetUp();
    const TestCertificates& certs = test_certificates();
    std::ofstream(dir_ / "ca.pem") << certs.ca_pem;
    std::ofstream(dir_ / "server.pem") << certs.server.cert_pem;
    std::ofstream(dir_ / "server.key") << certs.server.key_pem;
    std::ofstream(dir_ / "client.pem") << certs.client.cert_pem;
    std::ofstream(dir_ / "client.key") << certs.client.key_pem;
    for (size_t i = 0; i < certs.proxy_links.size(); ++i) {
      const std::string name = "proxy-" + std::to_string(i + 1) + "-link";
      std::ofstream(dir_ / (name + ".pem")) << certs.proxy_links[i].cert_pem;
      std::ofstream(dir_ / (name + ".key")) << certs.proxy_links[i].key_pem;
    }
    tls_ = true;
    proxy_tls_ = false;
    require_client_cert_ = true;
    link_certs_ = true;
    proxy_secret_ = false;
  }

  std::shared_ptr<net::TlsContext> tls_as(const Identity& identity) {
    net::TlsOptions options;
    options.ca_pem = test_certificates().ca_pem;
    options.cert_pem = identity.cert_pem;
    options.key_pem = identity.key_pem;
    auto tls = net::TlsContext::create_client(options);
    EXPECT_TRUE(tls) << tls.error().text;
    return tls ? *tls : nullptr;
  }
};

TEST_F(ProxyAuthTls, APairRequiringClientCertificatesIsReachedWithALinkCertificateAndOnlyAProxysCertificateIsAProxy) {
  start_pair_and_proxy();  // ready and linked: proxy-1 reached the pair with its link certificate
  EXPECT_NE(nodes_[0][0]->log().find("via=\"link certificate of proxy proxy-1\""), std::string::npos) << nodes_[0][0]->log();
  expect_submit_through_proxy();

  // A valid certificate of the cluster CA that names no proxy.
  auto stranger = connect_to_primary(tls_as(test_certificates().client));
  expect_refused(*stranger, "",
                 "the client certificate names \"ixcluster test client\", which is not a proxy of this cluster (proxies: "
                 "proxy-1, proxy-2)");
  EXPECT_NE(node_metrics().find("reason=\"not_a_proxy_certificate\"} 1"), std::string::npos) << node_metrics();

  // proxy-2's link certificate is a proxy's, whoever holds it.
  auto linked = connect_to_primary(tls_as(test_certificates().proxy_links[1]));
  EnvelopePtr registered = linked->register_as(proto::ClientType::Proxy, "proxy-2 tool");
  EXPECT_TRUE(registered && registered->body.AsEventClientRegistered()) << error_text(registered);

  // The same stranger's certificate is fine for a desktop.
  auto desktop = connect_to_primary(tls_as(test_certificates().client));
  EnvelopePtr desk = desktop->register_as(proto::ClientType::AgentApplication);
  EXPECT_TRUE(desk && desk->body.AsEventClientRegistered()) << error_text(desk);
}

}  // namespace
}  // namespace ix::test
