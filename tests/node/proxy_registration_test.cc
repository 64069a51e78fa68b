// A node accepts the proxy client type only from an authenticated proxy (issue 18 item 6), on
// the real ixnode over plain TCP: a fake proxy without or with a wrong [proxy-auth] secret is
// refused with the reason, the connection closed, a log line and a metric; the right secret
// registers, and other client types need none. tests/proxy/proxy_auth_test.cc adds the real
// proxy and TLS with link certificates.
#include <gtest/gtest.h>

#include "tests/node/node_fixture.h"
#include "tests/support/http_exchange.h"

namespace ix::test {
namespace {

using proto::ClientType;

class ProxyRegistration : public NodePairFixture {
 protected:
  std::unique_ptr<ProtocolClient> connect() { return std::make_unique<ProtocolClient>(loop_, primary_port_); }

  void expect_refused(const std::string& secret, const std::string& says) {
    auto fake = connect();
    EnvelopePtr reply = fake->register_as(ClientType::Proxy, "impostor", secret);
    const proto::EventErrorT* error = reply ? reply->body.AsEventError() : nullptr;
    ASSERT_NE(error, nullptr) << "a fake proxy registered";
    EXPECT_EQ(error->code, static_cast<int>(proto::ErrorCode::RequestNotAllowed));
    EXPECT_NE(error->text.find("registration as a proxy refused by node pair pair-1: " + says), std::string::npos) << error->text;
    EXPECT_TRUE(loop_.run_until([&] { return fake->closed(); }, 5000)) << "a refused proxy's connection is closed";
  }
};

TEST_F(ProxyRegistration, OnlyTheProxySecretRegistersAProxy) {
  primary_ = start_node("primary");
  auto media = primary_client();  // waits until the node serves
  ASSERT_NE(media, nullptr);

  expect_refused("", "a proxy must send the proxy secret ([proxy-auth]) to register over plain TCP; none was sent");
  expect_refused("not-the-cluster-secret-0123", "the proxy secret sent does not match this node's [proxy-auth] secret");

  auto proxy = connect();
  EnvelopePtr registered = proxy->register_as(ClientType::Proxy, "real", kProxySecret);
  ASSERT_TRUE(registered && registered->body.AsEventClientRegistered());
  EnvelopePtr submitted = proxy->call(submit_request());
  EXPECT_TRUE(submitted && submitted->body.AsEventSubmitted()) << "the authenticated proxy is served";
  for (ClientType type : {ClientType::AgentApplication, ClientType::RoutingEngine, ClientType::ReportingEngine}) {
    auto other = connect();
    EnvelopePtr reply = other->register_as(type);
    EXPECT_TRUE(reply && reply->body.AsEventClientRegistered()) << proto::EnumNameClientType(type) << " needs no secret";
  }

  const std::string metrics = http_get(loop_, primary_admin_, "/metrics").body();
  EXPECT_NE(metrics.find("reason=\"no_secret\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("reason=\"wrong_secret\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("reason=\"not_a_proxy_certificate\"} 0"), std::string::npos) << metrics;
  const std::string log = primary_->log();
  EXPECT_NE(log.find("event=proxy_refused reason=no_secret"), std::string::npos) << log;
  EXPECT_NE(log.find("event=proxy_refused reason=wrong_secret"), std::string::npos) << log;
  EXPECT_NE(log.find("client_name=\"real\" instance=\"\" via=\"proxy secret\""), std::string::npos) << log;
  EXPECT_EQ(log.find("not-the-cluster-secret"), std::string::npos) << "the log never shows a secret";
}

// The node reads the secret at start: without it, it does not start, and says why.
TEST_F(ProxyRegistration, ANodeWhoseSecretFileIsMissingDoesNotStart) {
  std::filesystem::remove(dir_ / "proxy.secret");
  primary_ = start_node("primary");
  EXPECT_NE(primary_->wait_for_exit(std::chrono::seconds(10)), 0);
  const std::string log = primary_->log();
  EXPECT_NE(log.find("event=start_failed"), std::string::npos) << log;
  EXPECT_NE(log.find("cannot read [proxy-auth] secret-file"), std::string::npos) << log;
  EXPECT_NE(log.find((dir_ / "proxy.secret").string()), std::string::npos) << log;
}

}  // namespace
}  // namespace ix::test
