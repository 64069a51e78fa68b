// TLS end to end: desktops to the proxy and the proxy to the nodes, with certificates from one
// CA (DESIGN.md §3: TCP, optionally TLS). A client that does not trust the CA gets nowhere.
#include <gtest/gtest.h>

#include <set>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/test_certs.h"

namespace ix::test {
namespace {

class ProxyTls : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    const TestCertificates& certs = test_certificates();
    std::ofstream(dir_ / "ca.pem") << certs.ca_pem;
    std::ofstream(dir_ / "server.pem") << certs.server.cert_pem;
    std::ofstream(dir_ / "server.key") << certs.server.key_pem;
    tls_ = true;
  }

  std::shared_ptr<net::TlsContext> client_tls(const std::string& ca_pem) {
    net::TlsOptions options;
    options.ca_pem = ca_pem;
    auto tls = net::TlsContext::create_client(options);
    EXPECT_TRUE(tls) << tls.error().text;
    return tls ? *tls : nullptr;
  }
};

TEST_F(ProxyTls, ClientsAndNodesTalkTlsThroughTheProxy) {
  start_cluster();
  auto media = proxy_client(0, proto::ClientType::MediaServer);  // TLS with the test CA
  std::set<std::string> tags;
  for (int i = 0; i < 4; ++i) {
    EnvelopePtr submitted = media->call(chat_submit());
    ASSERT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);
    tags.insert(submitted->body.AsEventSubmitted()->interaction_id.substr(0, 2));
  }
  EXPECT_EQ(tags, (std::set<std::string>{"p1", "p2"}));  // both pairs reached over TLS

  // A client that trusts another CA never gets a session; a plain-TCP client gets no answer.
  ProtocolClient stranger(loop_, proxy_ports_[0].first, client_tls(test_certificates().stranger.cert_pem));
  EXPECT_TRUE(stranger.closed());
  ProtocolClient plain(loop_, proxy_ports_[0].first);
  EXPECT_EQ(plain.register_as(proto::ClientType::MediaServer, "plain"), nullptr);
}

}  // namespace
}  // namespace ix::test
