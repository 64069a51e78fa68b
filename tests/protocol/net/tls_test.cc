#include <gtest/gtest.h>

#include "protocol/net/connection.h"
#include "protocol/net/tls_context.h"
#include "tests/support/frame_peers.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_loop.h"

namespace ix::net {
namespace {

using test::EchoServer;
using test::TestLoop;
using test::test_certificates;

std::shared_ptr<TlsContext> server_context(bool require_client_cert) {
  const auto& certs = test_certificates();
  TlsOptions options;
  options.cert_pem = certs.server.cert_pem;
  options.key_pem = certs.server.key_pem;
  options.ca_pem = certs.ca_pem;
  options.require_client_cert = require_client_cert;
  return TlsContext::create_server(options).value();
}

std::shared_ptr<TlsContext> client_context(const test::Identity* identity,
                                           std::string ca_pem = test_certificates().ca_pem) {
  TlsOptions options;
  options.ca_pem = std::move(ca_pem);
  options.server_name = "localhost";
  if (identity != nullptr) {
    options.cert_pem = identity->cert_pem;
    options.key_pem = identity->key_pem;
  }
  return TlsContext::create_client(options).value();
}

struct TlsEcho {
  TestLoop loop;
  std::unique_ptr<EchoServer> server;
  std::shared_ptr<Connection> client;
  std::string echoed;
  bool opened = false;
  std::string close_reason;

  void start(bool require_client_cert, std::shared_ptr<TlsContext> client_tls) {
    ListenerOptions options;
    options.tls = server_context(require_client_cert);
    server = std::make_unique<EchoServer>(loop.get(), options);
    ASSERT_TRUE(server->start());
    client = test::connect_to(loop.get(), server->port(), std::move(client_tls));
    client->set_on_open([this] { opened = true; });
    client->set_on_data([this](std::span<const uint8_t> d) { echoed.append(d.begin(), d.end()); });
    client->set_on_close([this](const std::string& r) { close_reason = r; });
  }
  void send(const std::string& text) {
    client->write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
  void finish() {
    if (client) client->close();
    server->stop();
    loop.run_until([this] { return server->connections.empty() && !close_reason.empty(); });
  }
};

TEST(Tls, HandshakeAndEcho) {
  TlsEcho t;
  t.start(false, client_context(nullptr));
  std::string big(200'000, 'x');  // spans many TLS records
  t.send("hello over TLS ");  // queued before the handshake completes
  t.send(big);
  ASSERT_TRUE(t.loop.run_until([&] { return t.echoed.size() == 15 + big.size(); })) << t.close_reason;
  EXPECT_TRUE(t.opened);
  EXPECT_TRUE(t.client->is_tls());
  EXPECT_EQ(t.echoed.substr(0, 15), "hello over TLS ");
  EXPECT_EQ(t.server->bytes_received, 15 + big.size()) << "the server sees plaintext";
  t.finish();
}

TEST(Tls, ClientCertificateAcceptedWhereRequired) {
  TlsEcho t;
  t.start(true, client_context(&test_certificates().client));
  t.send("with a certificate");
  ASSERT_TRUE(t.loop.run_until([&] { return t.echoed == "with a certificate"; })) << t.close_reason;
  t.finish();
}

TEST(Tls, ClientWithoutCertificateIsRefusedWhereOneIsRequired) {
  TlsEcho t;
  t.start(true, client_context(nullptr));
  t.send("must never be echoed");
  ASSERT_TRUE(t.loop.run_until([&] { return !t.close_reason.empty(); })) << "the client must be disconnected";
  EXPECT_EQ(t.echoed, "");
  EXPECT_EQ(t.server->bytes_received, 0u);
  ASSERT_TRUE(t.loop.run_until([&] { return !t.server->close_reasons.empty(); }));
  EXPECT_NE(t.server->close_reasons[0].find("TLS handshake failed"), std::string::npos)
      << t.server->close_reasons[0];
  EXPECT_NE(t.server->close_reasons[0].find("CERTIFICATE"), std::string::npos) << t.server->close_reasons[0];
  t.client.reset();
  t.finish();
}

TEST(Tls, ClientCertificateFromAnUntrustedCaIsRefused) {
  TlsEcho t;
  t.start(true, client_context(&test_certificates().stranger));
  t.send("stranger");
  ASSERT_TRUE(t.loop.run_until([&] { return !t.close_reason.empty(); }));
  EXPECT_EQ(t.server->bytes_received, 0u);
  t.client.reset();
  t.finish();
}

TEST(Tls, ClientRefusesAServerItDoesNotTrust) {
  // The client trusts only the stranger's certificate as its CA, so the server's chain fails.
  TlsEcho t;
  t.start(false, client_context(nullptr, test_certificates().stranger.cert_pem));
  t.send("secret");
  ASSERT_TRUE(t.loop.run_until([&] { return !t.close_reason.empty(); }));
  EXPECT_FALSE(t.opened);
  EXPECT_NE(t.close_reason.find("TLS handshake failed"), std::string::npos) << t.close_reason;
  EXPECT_NE(t.close_reason.find("CERTIFICATE_VERIFY_FAILED"), std::string::npos) << t.close_reason;
  t.client.reset();
  t.finish();
}

TEST(Tls, PlainClientCannotTalkToATlsListener) {
  TlsEcho t;
  t.start(false, nullptr);
  t.send("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(t.loop.run_until([&] { return !t.close_reason.empty(); }));
  EXPECT_EQ(t.server->bytes_received, 0u);
  t.client.reset();
  t.finish();
}

TEST(Tls, ContextErrorsSayWhatIsWrong) {
  TlsOptions options;
  auto no_cert = TlsContext::create_server(options);
  ASSERT_FALSE(no_cert.ok());
  EXPECT_NE(no_cert.error().text.find("certificate"), std::string::npos);

  options.cert_file = "/nonexistent/server.pem";
  options.key_file = "/nonexistent/server.key";
  auto missing = TlsContext::create_server(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().text.find("/nonexistent/server.pem"), std::string::npos) << missing.error().text;

  TlsOptions mismatched;
  mismatched.cert_pem = test_certificates().server.cert_pem;
  mismatched.key_pem = test_certificates().client.key_pem;
  auto wrong_key = TlsContext::create_server(mismatched);
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_NE(wrong_key.error().text.find("does not match"), std::string::npos) << wrong_key.error().text;

  TlsOptions require_without_ca;
  require_without_ca.cert_pem = test_certificates().server.cert_pem;
  require_without_ca.key_pem = test_certificates().server.key_pem;
  require_without_ca.require_client_cert = true;
  EXPECT_FALSE(TlsContext::create_server(require_without_ca).ok());

  TlsOptions client_without_ca;
  EXPECT_FALSE(TlsContext::create_client(client_without_ca).ok());
}

}  // namespace
}  // namespace ix::net
