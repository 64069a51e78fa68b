// The engagement client against a real HTTPS engagement service on loopback
// (EngagementTestServer, on its own thread): the token, base-URL failover, the deadline, the
// response's validation, the forward proxy, 10,000 targets; and the pure parts (URLs,
// credentials, the documents).
#include "proxy/pacing/engagement/engagement_client.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include "tests/proxy/pacing/engagement_test_server.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_loop.h"

namespace ix::pacing {
namespace {

using test::EngagementTestServer;
using Mode = EngagementTestServer::Mode;
using namespace std::chrono_literals;

// N pacing targets and one decision for each (invitations = i % 7).
struct Targets {
  explicit Targets(size_t n) {
    targets.resize(n);
    decisions.resize(n);
    for (size_t i = 0; i < n; ++i) {
      targets[i].name = "Queue " + std::to_string(i) + " - chat";
      targets[i].virtual_queue = "Queue " + std::to_string(i);
      targets[i].media = "chat";
      decisions[i].target = &targets[i];
      decisions[i].decision.invitations = static_cast<uint32_t>(i % 7);
    }
  }
  std::vector<config::PacingTarget> targets;
  std::vector<TargetDecision> decisions;
};

// A port nothing listens on: bound, then closed.
uint16_t dead_port() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_tcp_t tcp;
  uv_tcp_init(&loop, &tcp);
  sockaddr_in address{};
  uv_ip4_addr("127.0.0.1", 0, &address);
  uv_tcp_bind(&tcp, reinterpret_cast<sockaddr*>(&address), 0);
  sockaddr_storage bound{};
  int length = sizeof bound;
  uv_tcp_getsockname(&tcp, reinterpret_cast<sockaddr*>(&bound), &length);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

class EngagementClientTest : public ::testing::Test {
 protected:
  EngagementOptions options() {
    EngagementOptions o;
    o.base_urls = {server_.base_url()};
    o.auth_url = server_.auth_url();
    o.client_id = "engagement-client";
    o.client_secret = "s3cret";
    o.ca_pem = test::test_certificates().ca_pem;
    o.node_id = "proxy-7";
    o.token_clock = [this] { return Clock::now() + clock_offset_; };
    return o;
  }

  std::unique_ptr<EngagementClient> make(EngagementOptions o) {
    auto client = EngagementClient::create(loop_.get(), std::move(o));
    EXPECT_TRUE(client.ok()) << (client.ok() ? "" : client.error().text);
    return client ? std::move(*client) : nullptr;
  }

  // Posts and runs the loop until the callback; the result and how long it took.
  PostResult post(EngagementClient& client, const Targets& t, std::chrono::milliseconds budget = 5s,
                  uint64_t fencing = 12) {
    std::optional<PostResult> result;
    const auto started = Clock::now();
    client.post_targets(t.decisions, fencing, 5, started + budget, [&](PostResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "called back from inside post_targets()";
    EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }, 30'000));
    took_ = Clock::now() - started;
    return result ? std::move(*result) : PostResult{};
  }

  EngagementTestServer server_;
  test::TestLoop loop_;
  Clock::duration clock_offset_{};
  Clock::duration took_{};
};

TEST_F(EngagementClientTest, PostsEveryTargetAndReadsPendingInvitations) {
  auto client = make(options());
  Targets t(3);
  PostResult r = post(*client, t, 5s, 42);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.attempts, 1);
  ASSERT_EQ(r.pending.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(r.pending[i], i % 7 + 1);
  EXPECT_TRUE(r.errors.empty());
  auto seen = server_.seen();
  EXPECT_EQ(seen.last_targets, 3u);
  EXPECT_EQ(seen.last_fencing, "42");
  EXPECT_EQ(seen.last_node, "proxy-7");
  EXPECT_EQ(seen.last_authorization, "Bearer token-1");
}

TEST_F(EngagementClientTest, TokenIsFetchedOnceAndReused) {
  auto client = make(options());
  Targets t(2);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(post(*client, t).ok());
  EXPECT_EQ(client->token_fetches(), 1u);
  auto seen = server_.seen();
  EXPECT_EQ(seen.token_requests, 1);
  EXPECT_EQ(seen.bulk_requests, 3);
  EXPECT_EQ(seen.rejected_tokens, 0);
}

TEST_F(EngagementClientTest, TokenIsRenewedBeforeItExpires) {
  server_.set_expires_in(100);  // renewed once less than 10 s remain
  auto client = make(options());
  Targets t(2);
  ASSERT_TRUE(post(*client, t).ok());
  clock_offset_ = 85s;  // 15 s left: still good
  ASSERT_TRUE(post(*client, t).ok());
  EXPECT_EQ(server_.seen().token_requests, 1);
  clock_offset_ = 91s;  // 9 s left: renewed before use
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(server_.seen().token_requests, 2);
  EXPECT_EQ(server_.seen().last_authorization, "Bearer token-2");
  EXPECT_EQ(server_.seen().rejected_tokens, 0);
}

TEST_F(EngagementClientTest, LongTokensRenewThirtySecondsBeforeExpiry) {
  server_.set_expires_in(3600);  // 10 % would be 6 minutes; 30 s is smaller
  auto client = make(options());
  Targets t(1);
  ASSERT_TRUE(post(*client, t).ok());
  clock_offset_ = 3565s;
  ASSERT_TRUE(post(*client, t).ok());
  EXPECT_EQ(server_.seen().token_requests, 1);
  clock_offset_ = 3571s;
  ASSERT_TRUE(post(*client, t).ok());
  EXPECT_EQ(server_.seen().token_requests, 2);
}

TEST_F(EngagementClientTest, A401FetchesANewTokenAndRetriesOnce) {
  auto client = make(options());
  Targets t(2);
  ASSERT_TRUE(post(*client, t).ok());
  server_.reject_next_posts(1);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(server_.seen().token_requests, 2);
  EXPECT_EQ(server_.seen().last_authorization, "Bearer token-2");
}

TEST_F(EngagementClientTest, A401AfterTheRetryFails) {
  auto client = make(options());
  Targets t(2);
  server_.reject_next_posts(5);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.http_status, 401);
  EXPECT_NE(r.reason.find("HTTP 401 again"), std::string::npos) << r.reason;
}

TEST_F(EngagementClientTest, BadCredentialsFailWithTheTokenEndpointsAnswer) {
  EngagementOptions o = options();
  o.client_secret = "wrong";
  auto client = make(o);
  Targets t(1);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 0);
  EXPECT_NE(r.reason.find("token request to " + server_.auth_url() + " answered HTTP 401 (invalid_client)"),
            std::string::npos) << r.reason;
  EXPECT_EQ(server_.seen().bulk_requests, 0);
}

TEST_F(EngagementClientTest, AnUntrustedCertificateIsRefused) {
  EngagementOptions o = options();
  o.ca_pem = test::test_certificates().stranger.cert_pem;  // a certificate that signed nothing of the server's
  auto client = make(o);
  Targets t(1);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_NE(r.reason.find("certificate verification failed"), std::string::npos) << r.reason;
  EXPECT_EQ(server_.seen().token_requests, 0);
}

TEST_F(EngagementClientTest, AHostNameIsVerifiedAgainstTheCertificate) {
  EngagementOptions o = options();
  // "localhost" is in the certificate (DNS SAN): sent as SNI and verified.
  o.base_urls = {"https://localhost:" + std::to_string(server_.port()) + "/api"};
  o.auth_url = "https://localhost:" + std::to_string(server_.port()) + "/oauth/token";
  auto client = make(o);
  Targets t(1);
  PostResult r = post(*client, t);
  EXPECT_TRUE(r.ok()) << r.reason;
}

TEST(EngagementAddressTest, ACertificateForAnotherAddressIsRefused) {
  EngagementTestServer server("0.0.0.0");  // reachable as 127.0.0.2; the certificate names 127.0.0.1
  test::TestLoop loop;
  EngagementOptions o;
  o.base_urls = {"https://127.0.0.2:" + std::to_string(server.port()) + "/api/"};
  o.auth_url = "https://127.0.0.2:" + std::to_string(server.port()) + "/oauth/token";
  o.client_id = "engagement-client";
  o.client_secret = "s3cret";
  o.ca_pem = test::test_certificates().ca_pem;
  auto client = EngagementClient::create(loop.get(), o);
  ASSERT_TRUE(client.ok());
  std::optional<PostResult> result;
  Targets t(1);
  (*client)->post_targets(t.decisions, 1, 5, Clock::now() + 5s, [&](PostResult r) { result = std::move(r); });
  ASSERT_TRUE(loop.run_until([&] { return result.has_value(); }));
  EXPECT_EQ(result->outcome, PostResult::Outcome::kFailed);
  EXPECT_NE(result->reason.find("certificate verification failed: IP address mismatch"), std::string::npos) << result->reason;
  EXPECT_EQ(server.seen().token_requests, 0);
  client->reset();
}

TEST(EngagementPlainTest, HttpUrlsWorkOverPlainTcpDirectAndThroughTheProxy) {
  EngagementTestServer server("127.0.0.1", false);
  test::TestLoop loop;
  EngagementOptions o;
  o.base_urls = {server.base_url()};
  o.auth_url = server.auth_url();
  o.client_id = "engagement-client";
  o.client_secret = "s3cret";
  ASSERT_EQ(o.base_urls[0].substr(0, 7), "http://");
  for (bool via_proxy : {false, true}) {
    if (via_proxy) o.forward_proxy = net::Endpoint{"127.0.0.1", server.proxy_port()};
    auto client = EngagementClient::create(loop.get(), o);
    ASSERT_TRUE(client.ok()) << client.error().text;
    std::optional<PostResult> result;
    Targets t(3);
    (*client)->post_targets(t.decisions, 1, 5, Clock::now() + 5s, [&](PostResult r) { result = std::move(r); });
    ASSERT_TRUE(loop.run_until([&] { return result.has_value(); }));
    ASSERT_TRUE(result->ok()) << result->reason;
    EXPECT_EQ(result->pending[2], 3u);
    client->reset();
  }
  EXPECT_EQ(server.seen().connect_lines.size(), 1u);  // the token and the post share a kept-alive tunnel
}

TEST_F(EngagementClientTest, AnUnresolvableFirstUrlFallsThroughToTheNext) {
  EngagementOptions o = options();
  o.base_urls = {"https://no-such-host.invalid/api/", server_.base_url()};
  auto client = make(o);
  Targets t(1);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.attempts, 2);
}

TEST_F(EngagementClientTest, TheNextBaseUrlIsTriedAfterADeadOne) {
  EngagementOptions o = options();
  const std::string dead = "https://127.0.0.1:" + std::to_string(dead_port()) + "/api/";
  o.base_urls = {dead, server_.base_url()};
  auto client = make(o);
  Targets t(2);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.url, server_.base_url() + "v2/journey/actiontargets/bulk");
  EXPECT_EQ(server_.seen().bulk_requests, 1);
}

TEST_F(EngagementClientTest, EveryDeadBaseUrlIsNamedInTheReason) {
  EngagementOptions o = options();
  const std::string a = "https://127.0.0.1:" + std::to_string(dead_port()) + "/a/";
  o.base_urls = {a, server_.base_url()};
  server_.set_mode(Mode::kStatus, 503);
  auto client = make(o);
  Targets t(1);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_NE(r.reason.find(a + "v2/journey/actiontargets/bulk: cannot connect"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("HTTP 503: the test said so"), std::string::npos) << r.reason;
}

TEST_F(EngagementClientTest, A5xxMovesToTheNextBaseUrlButA409DoesNot) {
  EngagementOptions o = options();
  o.base_urls = {server_.base_url(), server_.base_url()};
  auto client = make(o);
  Targets t(1);
  server_.set_mode(Mode::kStatus, 500);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 2);
  server_.set_mode(Mode::kStatus, 409);
  r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.http_status, 409);
}

TEST_F(EngagementClientTest, AStalledServerTimesOutWithinTheDeadline) {
  auto client = make(options());
  Targets t(1);
  ASSERT_TRUE(post(*client, t).ok());  // the token is cached: the stall hits the bulk post
  server_.set_mode(Mode::kStall);
  PostResult r = post(*client, t, 400ms);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_NE(r.reason.find("timed out"), std::string::npos) << r.reason;
  EXPECT_GE(took_, 380ms);
  EXPECT_LT(took_, 800ms) << "the callback came " << std::chrono::duration_cast<std::chrono::milliseconds>(took_).count()
                          << " ms after the post";
}

TEST_F(EngagementClientTest, AStalledTokenEndpointTimesOutWithinTheDeadline) {
  server_.stall_tokens();
  auto client = make(options());
  Targets t(1);
  PostResult r = post(*client, t, 300ms);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 0);
  EXPECT_NE(r.reason.find("token request: " + server_.auth_url() + ": timed out after"), std::string::npos) << r.reason;
  EXPECT_LT(took_, 700ms);
  EXPECT_EQ(server_.seen().bulk_requests, 0);
}

TEST_F(EngagementClientTest, NoRetryRunsPastTheDeadline) {
  EngagementOptions o = options();
  o.base_urls = {server_.base_url(), server_.base_url()};
  auto client = make(o);
  Targets t(1);
  ASSERT_TRUE(post(*client, t).ok());
  server_.set_mode(Mode::kStall);
  PostResult r = post(*client, t, 300ms);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_EQ(r.attempts, 1);  // a timeout leaves no time for the second URL
  EXPECT_GE(took_, 280ms);
  EXPECT_LT(took_, 700ms);
}

TEST_F(EngagementClientTest, InvalidJsonIsAValidationError) {
  auto client = make(options());
  Targets t(2);
  server_.set_mode(Mode::kInvalidJson);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kInvalid);
  EXPECT_NE(r.reason.find("not valid JSON"), std::string::npos) << r.reason;
}

TEST_F(EngagementClientTest, AWrongTypeIsAValidationError) {
  auto client = make(options());
  Targets t(2);
  server_.set_mode(Mode::kWrongType);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kInvalid);
  EXPECT_NE(r.reason.find("targets[0] (\"Queue 0 - chat\"): \"pendingInvitations\" is not an integer"), std::string::npos)
      << r.reason;
}

TEST_F(EngagementClientTest, AnUnknownIdIsAValidationError) {
  auto client = make(options());
  Targets t(2);
  server_.set_mode(Mode::kUnknownId);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kInvalid);
  EXPECT_NE(r.reason.find("unknown target id \"Nobody - chat\""), std::string::npos) << r.reason;
}

TEST_F(EngagementClientTest, PerTargetErrorsAreReportedWithTheRest) {
  auto client = make(options());
  Targets t(3);
  server_.set_mode(Mode::kTargetErrors);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].id, "Queue 0 - chat");
  EXPECT_EQ(r.errors[0].code, "target.unknown");
  EXPECT_EQ(r.errors[0].message, "no such target");
  EXPECT_EQ(r.pending[2], 3u);  // the other targets still count
}

TEST_F(EngagementClientTest, ThePostGoesThroughTheForwardProxy) {
  EngagementOptions o = options();
  o.forward_proxy = net::Endpoint{"127.0.0.1", server_.proxy_port()};
  o.keep_alive = false;
  auto client = make(o);
  Targets t(4);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.pending[3], 4u);
  auto seen = server_.seen();
  const std::string connect = "CONNECT 127.0.0.1:" + std::to_string(server_.port()) + " HTTP/1.1";
  ASSERT_EQ(seen.connect_lines.size(), 2u);  // the token, then the post
  EXPECT_EQ(seen.connect_lines[0], connect);
  EXPECT_EQ(seen.connect_lines[1], connect);
}

TEST_F(EngagementClientTest, KeptAliveConnectionsCarryTheNextCycles) {
  EngagementOptions o = options();
  o.forward_proxy = net::Endpoint{"127.0.0.1", server_.proxy_port()};
  auto client = make(o);
  Targets t(2);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(post(*client, t).ok());
  EXPECT_EQ(server_.seen().connect_lines.size(), 1u);  // one tunnel, one TLS handshake
  EXPECT_EQ(client->reused_connections(), 3u);         // the three posts after the token
  EXPECT_EQ(server_.seen().bulk_requests, 3);
}

TEST_F(EngagementClientTest, AKeptConnectionTheServerClosedIsReplaced) {
  auto client = make(options());
  Targets t(2);
  ASSERT_TRUE(post(*client, t).ok());
  server_.drop_connections();  // the client's loop has not seen the close yet
  ASSERT_EQ(server_.drop_error(), "");
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(server_.seen().bulk_requests, 2);
  ASSERT_TRUE(post(*client, t).ok());
}

TEST_F(EngagementClientTest, AFailedExchangeDoesNotLeaveItsConnectionForTheNext) {
  EngagementOptions o = options();
  o.max_response_bytes = 64 * 1024;
  auto client = make(o);
  Targets t(1);
  ASSERT_TRUE(post(*client, t).ok());
  EXPECT_EQ(client->reused_connections(), 1u);  // the post reused the token's connection
  server_.set_mode(Mode::kHuge);
  server_.set_huge_bytes(1024 * 1024);
  EXPECT_FALSE(post(*client, t).ok());  // stops reading mid-answer
  EXPECT_EQ(client->reused_connections(), 2u);
  server_.set_mode(Mode::kEcho);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(client->reused_connections(), 2u);  // a new connection, not the half-read one
}

TEST_F(EngagementClientTest, ADeadForwardProxyFails) {
  EngagementOptions o = options();
  o.forward_proxy = net::Endpoint{"127.0.0.1", dead_port()};
  auto client = make(o);
  Targets t(1);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_NE(r.reason.find("via forward proxy 127.0.0.1:"), std::string::npos) << r.reason;
}

TEST_F(EngagementClientTest, TenThousandTargetsRoundTrip) {
  auto client = make(options());
  Targets t(10'000);
  PostResult r = post(*client, t);
  ASSERT_TRUE(r.ok()) << r.reason;
  EXPECT_EQ(server_.seen().last_targets, 10'000u);
  ASSERT_EQ(r.pending.size(), 10'000u);
  size_t matching = 0;
  for (size_t i = 0; i < r.pending.size(); ++i) matching += r.pending[i] == i % 7 + 1;
  EXPECT_EQ(matching, 10'000u);
}

TEST_F(EngagementClientTest, AResponseOverTheSizeLimitFailsCleanly) {
  EngagementOptions o = options();
  o.max_response_bytes = 1024 * 1024;
  auto client = make(o);
  Targets t(1);
  ASSERT_TRUE(post(*client, t).ok());
  server_.set_mode(Mode::kHuge);
  server_.set_huge_bytes(2 * 1024 * 1024);
  PostResult r = post(*client, t);
  EXPECT_EQ(r.outcome, PostResult::Outcome::kFailed);
  EXPECT_NE(r.reason.find("exceeds the limit of 1048576 bytes"), std::string::npos) << r.reason;
  server_.set_mode(Mode::kEcho);  // and the next post works
  EXPECT_TRUE(post(*client, t).ok());
}

TEST_F(EngagementClientTest, ASecondPostWhileOneRunsFailsAtOnce) {
  auto client = make(options());
  Targets t(1);
  ASSERT_TRUE(post(*client, t).ok());
  server_.set_mode(Mode::kStall);
  std::optional<PostResult> first, second;
  client->post_targets(t.decisions, 1, 5, Clock::now() + 300ms, [&](PostResult r) { first = std::move(r); });
  client->post_targets(t.decisions, 1, 5, Clock::now() + 300ms, [&](PostResult r) { second = std::move(r); });
  EXPECT_FALSE(second);
  ASSERT_TRUE(loop_.run_until([&] { return first && second; }));
  EXPECT_NE(second->reason.find("has not finished"), std::string::npos);
  EXPECT_EQ(first->outcome, PostResult::Outcome::kFailed);
}

TEST_F(EngagementClientTest, DestroyingTheClientCancelsAPostInFlight) {
  auto client = make(options());
  Targets t(1);
  server_.set_mode(Mode::kStall);
  bool called = false;
  client->post_targets(t.decisions, 1, 5, Clock::now() + 5s, [&](PostResult) { called = true; });
  loop_.run_until([&] { return server_.seen().bulk_requests == 1; });
  client.reset();
  loop_.run_for(50);
  EXPECT_FALSE(called);
}

TEST(EngagementOptionsTest, CreateNamesWhatIsWrong) {
  test::TestLoop loop;
  EngagementOptions o;
  o.auth_url = "https://127.0.0.1:1/oauth/token";
  o.client_id = "a";
  o.client_secret = "b";
  o.ca_pem = test::test_certificates().ca_pem;
  auto r = EngagementClient::create(loop.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text.find("at least one base URL"), std::string::npos);
  o.base_urls = {"ftp://example.com/"};
  r = EngagementClient::create(loop.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text.find("does not start with https:// or http://"), std::string::npos) << r.error().text;
  o.base_urls = {"https://example.com:99999/"};
  r = EngagementClient::create(loop.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text.find("invalid port"), std::string::npos) << r.error().text;
  o.base_urls = {"https://example.com/"};
  o.ca_pem = "not a certificate";
  r = EngagementClient::create(loop.get(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text.find("no CA certificate"), std::string::npos) << r.error().text;
  o.ca_pem.clear();  // the system store
  r = EngagementClient::create(loop.get(), o);
  if (std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt")) {
    EXPECT_TRUE(r.ok()) << r.error().text;
  } else {
    EXPECT_NE(r.error().text.find("no system CA bundle"), std::string::npos) << r.error().text;
  }
}

TEST(HttpUrlTest, ParsesAndJoins) {
  auto u = parse_http_url("https://svc.example.com:8443/api/v2?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "svc.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/api/v2?x=1");
  EXPECT_EQ(u->authority(), "svc.example.com:8443");
  EXPECT_FALSE(u->host_is_ip());
  auto v6 = parse_http_url("http://[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->target, "/");
  EXPECT_TRUE(v6->host_is_ip());
  EXPECT_EQ(v6->authority(), "[::1]:8080");
  EXPECT_EQ(parse_http_url("https://h").value().port, 443);
  EXPECT_FALSE(parse_http_url("https://user:pw@h/").ok());
  EXPECT_FALSE(parse_http_url("https://:443/").ok());
  EXPECT_FALSE(parse_http_url("https://h/a b").ok());
  EXPECT_EQ(join_url("https://h/api/", "v2/x"), "https://h/api/v2/x");
  EXPECT_EQ(join_url("https://h/api", "v2/x"), "https://h/api/v2/x");
  EXPECT_EQ(join_url("https://h/api/", "/v2/x"), "https://h/api/v2/x");
}

TEST(CredentialsTest, FromAFileOrTheEnvironment) {
  auto c = parse_credentials("  id-1:se:cret \n", "test");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_id, "id-1");
  EXPECT_EQ(c->client_secret, "se:cret");
  EXPECT_NE(parse_credentials("nocolon", "the file \"x\"").error().text.find("the file \"x\" does not hold"),
            std::string::npos);
  EXPECT_FALSE(parse_credentials("a:b\nc:d", "x").ok());
  EXPECT_FALSE(parse_credentials(":b", "x").ok());

  const auto file = std::filesystem::temp_directory_path() / ("ix-credentials-" + std::to_string(::getpid()));
  std::ofstream(file) << "client:secret\n";
  auto from_file = load_credentials(file.string(), "");
  std::filesystem::remove(file);
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->client_secret, "secret");
  EXPECT_NE(load_credentials(file.string(), "").error().text.find("cannot read the credentials file"), std::string::npos);

  ::setenv("IX_TEST_ENGAGEMENT_CREDENTIALS", "e:f", 1);
  auto from_env = load_credentials("", "IX_TEST_ENGAGEMENT_CREDENTIALS");
  ::unsetenv("IX_TEST_ENGAGEMENT_CREDENTIALS");
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->client_id, "e");
  EXPECT_NE(load_credentials("", "IX_TEST_ENGAGEMENT_CREDENTIALS").error().text.find("is not set"), std::string::npos);
  EXPECT_FALSE(load_credentials("", "").ok());
}

TEST(BulkTargetsTest, BodyFollowsTheContract) {
  Targets t(2);
  t.decisions[1].decision.invitations = 3;
  auto body = nlohmann::json::parse(build_bulk_targets_body(t.decisions, 12, 0.5));
  EXPECT_EQ(body["fencingToken"], 12);
  EXPECT_EQ(body["intervalSeconds"], 0.5);
  ASSERT_EQ(body["targets"].size(), 2u);
  EXPECT_EQ(body["targets"][1], (nlohmann::json{{"id", "Queue 1 - chat"}, {"virtualQueue", "Queue 1"}, {"mediaType", "chat"},
                                                {"invitationsAllowed", 3}, {"intervalSeconds", 0.5}}));
}

TEST(BulkTargetsTest, ValidationNamesWhatIsWrong) {
  const std::vector<std::string> ids = {"A - chat", "B - chat"};
  auto error = [&](const char* body) {
    auto r = parse_bulk_targets_answer(body, ids);
    return r.ok() ? std::string("valid") : r.error().text;
  };
  EXPECT_EQ(error("[]"), "the response body is not a JSON object");
  EXPECT_EQ(error("{}"), "the response has no \"targets\"");
  EXPECT_EQ(error(R"({"targets": {}})"), "\"targets\" is not an array");
  EXPECT_EQ(error(R"({"targets": [1]})"), "targets[0] is not an object");
  EXPECT_EQ(error(R"({"targets": [{"pendingInvitations": 1}]})"), "targets[0] has no string \"id\"");
  EXPECT_EQ(error(R"({"targets": [{"id": "A - chat", "pendingInvitations": -1}]})"),
            "targets[0] (\"A - chat\"): \"pendingInvitations\" -1 is out of range (0 to 4294967295)");
  EXPECT_EQ(error(R"({"targets": [{"id": "A - chat", "pendingInvitations": 1.5}]})"),
            "targets[0] (\"A - chat\"): \"pendingInvitations\" is not an integer");
  EXPECT_EQ(error(R"({"targets": [], "errors": {}})"), "\"errors\" is not an array");
  EXPECT_EQ(error(R"({"targets": [], "errors": [{"code": "x"}]})"), "errors[0] has no string \"id\"");
  auto ok = parse_bulk_targets_answer(R"({"targets": [{"id": "B - chat", "pendingInvitations": 4}], "errors": []})", ids);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->pending[0].has_value());  // not mentioned: keeps its previous count
  EXPECT_EQ(ok->pending[1], 4u);
}

// The invitation totals (docs/pacing.md): optional, all three or none, accepted within answered.
TEST(BulkTargetsTest, InvitationTotalsAreReadWhenTheServiceSendsThem) {
  const std::vector<std::string> ids = {"A - chat", "B - chat"};
  auto error = [&](const char* body) {
    auto r = parse_bulk_targets_answer(body, ids);
    return r.ok() ? std::string("valid") : r.error().text;
  };
  EXPECT_EQ(error(R"({"targets": [{"id": "A - chat", "pendingInvitations": 1, "invitationsAnswered": 5}]})"),
            "targets[0] (\"A - chat\"): \"invitationsAnswered\", \"invitationsAccepted\" and \"answerDelaySeconds\" go together");
  EXPECT_EQ(error(R"({"targets": [{"id": "A - chat", "pendingInvitations": 1, "invitationsAnswered": 5,
                                  "invitationsAccepted": 6, "answerDelaySeconds": 1}]})"),
            "targets[0] (\"A - chat\"): \"invitationsAccepted\" 6 is out of range (0 to 5)");
  EXPECT_EQ(error(R"({"targets": [{"id": "A - chat", "pendingInvitations": 1, "invitationsAnswered": -5,
                                  "invitationsAccepted": 0, "answerDelaySeconds": 1}]})"),
            "targets[0] (\"A - chat\"): \"invitationsAnswered\" -5 is out of range (0 to 18446744073709551615)");
  EXPECT_EQ(error(R"({"targets": [{"id": "A - chat", "pendingInvitations": 1, "invitationsAnswered": 5,
                                  "invitationsAccepted": 2, "answerDelaySeconds": "soon"}]})"),
            "targets[0] (\"A - chat\"): \"answerDelaySeconds\" is not a number >= 0");

  auto ok = parse_bulk_targets_answer(R"({"targets": [
      {"id": "A - chat", "pendingInvitations": 1, "invitationsAnswered": 5, "invitationsAccepted": 2, "answerDelaySeconds": 12.5},
      {"id": "B - chat", "pendingInvitations": 3}]})", ids);
  ASSERT_TRUE(ok.ok()) << ok.error().text;
  ASSERT_TRUE(ok->invitations[0].has_value());
  EXPECT_EQ(ok->invitations[0]->answered, 5u);
  EXPECT_EQ(ok->invitations[0]->accepted, 2u);
  EXPECT_DOUBLE_EQ(ok->invitations[0]->answer_delay_seconds, 12.5);
  EXPECT_FALSE(ok->invitations[1].has_value()) << "an answer without totals is still accepted";
  EXPECT_EQ(ok->pending[1], 3u);
}

}  // namespace
}  // namespace ix::pacing
