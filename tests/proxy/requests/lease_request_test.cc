// RequestLease through the proxy, in process against scripted node pairs (FakePairCalls): bad
// input refused before anything is sent, the lease pair chosen by [pacing] lease-pair (else the
// first pair), the node's EventLease back under the client's ref_id, 2002 when there is no
// definite answer; and ask_lease(), the proxy's own request (the pacing module's).
#include <gtest/gtest.h>

#include "proxy/requests/lease_request.h"
#include "tests/proxy/support/request_harness.h"

namespace ix::test {
namespace {

using proxy::PairAnswer;
using proxy::PairIndex;

proto::RequestLeaseT lease(const std::string& holder, uint32_t ttl_ms = 10'000, const std::string& name = "pacing-master") {
  proto::RequestLeaseT r;
  r.name = name;
  r.holder = holder;
  r.operation = proto::LeaseOperation::Acquire;
  r.ttl_ms = ttl_ms;
  return r;
}

// A node that grants the lease to whoever asks first and names that holder to everyone after.
FakePairCalls::Script first_asker_wins() {
  auto holder = std::make_shared<std::string>();
  return [holder](PairIndex pair, const proto::EnvelopeT& request) {
    const proto::RequestLeaseT* r = request.body.AsRequestLease();
    if (holder->empty()) *holder = r->holder;
    proto::EventLeaseT answer;
    answer.name = r->name;
    answer.holder = *holder;
    answer.fencing = 1;
    answer.ttl_left_ms = r->ttl_ms;
    answer.granted = *holder == r->holder;
    return FakePairCalls::reply(pair, answer);
  };
}

const std::string kLeaseOnPair2 = R"(
[pacing]
tenant = "101"
credentials-env = "IX_TEST_ENGAGEMENT"
auth-url = "https://127.0.0.1:9/oauth/token"
lease-pair = "pair-2"
[pacing.endpoint]
base-urls = ["https://127.0.0.1:9/api/"]
)";

TEST(LeaseRequest, BadInputIsRefusedBeforeAnythingIsSent) {
  RequestHarness h;
  h.send(1, lease(""), proxy::handle_lease);
  h.send(2, lease("proxy-1", 0), proxy::handle_lease);
  h.send(3, lease("proxy-1", 600'001), proxy::handle_lease);
  h.send(4, lease("proxy-1", 10'000, ""), proxy::handle_lease);
  h.calls.run();
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::MissingAttribute));
  EXPECT_NE(h.error_text(1).find("RequestLease.holder"), std::string::npos) << h.error_text(1);
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(h.error_text(2).find("RequestLease.ttl_ms 0"), std::string::npos) << h.error_text(2);
  EXPECT_EQ(h.error_code(3), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_EQ(h.error_code(4), code(proto::ErrorCode::MissingAttribute));
  EXPECT_NE(h.error_text(4).find("RequestLease.name"), std::string::npos) << h.error_text(4);
  EXPECT_TRUE(h.calls.sent.empty());
}

TEST(LeaseRequest, GoesToTheFirstPairByDefaultAndTheLoserIsToldTheHolder) {
  RequestHarness h;
  h.calls.script(first_asker_wins());
  h.send(1, lease("proxy-1"), proxy::handle_lease);
  h.send(2, lease("proxy-2"), proxy::handle_lease);
  EXPECT_TRUE(h.replies.by_ref.empty()) << "no reply from inside the request";
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 2u);
  for (const auto& s : h.calls.sent) {
    EXPECT_EQ(s.pair, 0u) << "pair-1 is the first pair";
    EXPECT_EQ(s.type(), proto::Message::RequestLease);
  }
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventLease());
  ASSERT_TRUE(h.reply(2) && h.reply(2)->body.AsEventLease());
  EXPECT_TRUE(h.reply(1)->body.AsEventLease()->granted);
  EXPECT_FALSE(h.reply(2)->body.AsEventLease()->granted);
  EXPECT_EQ(h.reply(2)->body.AsEventLease()->holder, "proxy-1");
}

TEST(LeaseRequest, GoesToTheConfiguredLeasePair) {
  RequestHarness h(kLeaseOnPair2);
  h.calls.script(first_asker_wins());
  h.send(1, lease("proxy-1"), proxy::handle_lease);
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 1u);
  EXPECT_EQ(h.calls.sent[0].pair, 1u) << "[pacing] lease-pair = pair-2";
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventLease());
}

TEST(LeaseRequest, NoDefiniteAnswerIs2002NamingThePair) {
  // The pair has no primary: nothing is sent.
  RequestHarness down;
  down.calls.set_reachable(0, false);
  down.send(1, lease("proxy-1"), proxy::handle_lease);
  down.calls.run();
  EXPECT_EQ(down.error_code(1), code(proto::ErrorCode::ClusterLostConnection));
  EXPECT_NE(down.error_text(1).find("lease pair pair-1"), std::string::npos) << down.error_text(1);
  EXPECT_TRUE(down.calls.sent.empty());
  // Sent, and the connection dropped before the answer.
  RequestHarness lost;
  lost.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return PairAnswer::unreachable(pair, "connection to node-a lost"); });
  lost.send(2, lease("proxy-1"), proxy::handle_lease);
  lost.calls.run();
  EXPECT_EQ(lost.error_code(2), code(proto::ErrorCode::ClusterLostConnection));
  // The node's own refusal (a backup that has not taken over yet) goes back as it is.
  RequestHarness refused;
  refused.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    return FakePairCalls::refused(pair, proto::ErrorCode::NotPrimary, "this node is the backup");
  });
  refused.send(3, lease("proxy-1"), proxy::handle_lease);
  refused.calls.run();
  EXPECT_EQ(refused.error_code(3), code(proto::ErrorCode::NotPrimary));
}

TEST(LeaseRequest, TheProxysOwnRequestGetsTheLeaseOrTheError) {
  RequestHarness h(kLeaseOnPair2);
  h.calls.script(first_asker_wins());
  std::vector<proxy::LeaseAnswer> answers;
  proxy::ask_lease(h.context, {"pacing-master", "proxy-1", proto::LeaseOperation::Acquire, 9'000},
                   [&](proxy::LeaseAnswer a) { answers.push_back(std::move(a)); });
  proxy::ask_lease(h.context, {"pacing-master", "proxy-2", proto::LeaseOperation::Acquire, 9'000},
                   [&](proxy::LeaseAnswer a) { answers.push_back(std::move(a)); });
  proxy::ask_lease(h.context, {"pacing-master", "proxy-3", proto::LeaseOperation::Acquire, 0},
                   [&](proxy::LeaseAnswer a) { answers.push_back(std::move(a)); });
  EXPECT_TRUE(answers.empty()) << "never answered from inside the call";
  h.calls.run();
  ASSERT_EQ(answers.size(), 3u);
  ASSERT_EQ(h.calls.sent.size(), 2u) << "the bad one is not sent";
  EXPECT_EQ(h.calls.sent[0].pair, 1u);
  ASSERT_TRUE(answers[0].ok());
  EXPECT_TRUE(answers[0]->granted);
  EXPECT_EQ(answers[0]->ttl_left_ms, 9'000u);
  ASSERT_TRUE(answers[1].ok());
  EXPECT_FALSE(answers[1]->granted);
  EXPECT_EQ(answers[1]->holder, "proxy-1");
  ASSERT_FALSE(answers[2].ok());
  EXPECT_EQ(answers[2].error().code, code(proto::ErrorCode::InvalidAttribute));

  RequestHarness down;
  down.calls.set_reachable(0, false);
  std::optional<proxy::LeaseAnswer> lost;
  proxy::ask_lease(down.context, {"pacing-master", "proxy-1", proto::LeaseOperation::Renew, 9'000},
                   [&](proxy::LeaseAnswer a) { lost = std::move(a); });
  down.calls.run();
  ASSERT_TRUE(lost.has_value());
  ASSERT_FALSE(lost->ok());
  EXPECT_EQ(lost->error().code, code(proto::ErrorCode::ClusterLostConnection));
}

}  // namespace
}  // namespace ix::test
