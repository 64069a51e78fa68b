// Agent requests run in-process against scripted node pairs (FakePairCalls): the fan-out to
// every pair serving the tenant, all or nothing for a login, one reply, 2004 for a second
// request while one is in flight, and the agents kept logged in (logout on disconnect, login
// again on a pair's new primary). No sockets, no sleeps.
#include "proxy/requests/agent_requests.h"

#include <gtest/gtest.h>

#include "tests/proxy/support/request_harness.h"

namespace ix::test {
namespace {

using proxy::PairAnswer;
using proxy::PairIndex;

proto::RequestAgentLoginT login(const std::string& agent, const std::vector<std::string>& media) {
  proto::RequestAgentLoginT r;
  r.tenant_id = "101";
  r.agent_id = agent;
  r.place_id = "place-" + agent;
  for (const std::string& m : media) {
    auto capacity = std::make_unique<proto::MediaCapacityT>();
    capacity->media_type = m;
    capacity->capacity = 2;
    r.media.push_back(std::move(capacity));
  }
  return r;
}

struct AgentHarness : RequestHarness {
  proxy::AgentRequests agents{context, metrics};
  template <class NativeMessage>
  void send_agent(uint64_t ref, const NativeMessage& body) {
    send(ref, body, [this](proxy::RequestContext&, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing request) {
      agents.handle(call, e, std::move(request));
    });
  }
  std::vector<FakePairCalls::Sent> sent_of(proto::Message type) {
    std::vector<FakePairCalls::Sent> out;
    for (const auto& s : calls.sent) {
      if (s.type() == type) out.push_back(s);
    }
    return out;
  }
};

TEST(AgentRequests, ALoginGoesToEveryPairWithTheMediaEachServesAndOneAckComesBack) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, proto::EventAckT{}); });
  h.send_agent(1, login("a1", {"chat", "email"}));
  h.calls.run();
  auto logins = h.sent_of(proto::Message::RequestAgentLogin);
  ASSERT_EQ(logins.size(), 3u);
  for (const auto& s : logins) {
    const auto& media = s.request->body.AsRequestAgentLogin()->media;
    // pair-2 serves every medium; pair-1 and pair-3 only chat.
    EXPECT_EQ(media.size(), s.pair == 1 ? 2u : 1u) << "pair " << s.pair;
  }
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventAck()) << h.error_text(1);
  EXPECT_EQ(h.replies.by_ref.size(), 1u);
  EXPECT_EQ(h.agents.logged_in(), 1u);
}

TEST(AgentRequests, ALoginOnePairRefusesIsRevokedWhereItWasAcceptedAndTheClientGetsTheError) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    return pair == 2 ? FakePairCalls::refused(pair, proto::ErrorCode::NoSeatsAvailable, "no seats left")
                     : FakePairCalls::reply(pair, proto::EventAckT{});
  });
  h.send_agent(1, login("a2", {"chat"}));
  h.calls.run();
  EXPECT_NE(h.error_code(1), 0);
  EXPECT_NE(h.error_text(1).find("no seats left"), std::string::npos) << h.error_text(1);
  std::set<PairIndex> revoked;
  for (const auto& s : h.sent_of(proto::Message::RequestAgentLogout)) revoked.insert(s.pair);
  EXPECT_EQ(revoked, (std::set<PairIndex>{0, 1}));
  EXPECT_EQ(h.agents.logged_in(), 0u);
}

TEST(AgentRequests, ASecondRequestForAnAgentWhileOneIsInFlightIs2004) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, proto::EventAckT{}); });
  h.send_agent(1, login("a3", {"chat"}));
  proto::RequestAgentReadyT ready;
  ready.tenant_id = "101";
  ready.agent_id = "a3";
  ready.media_type = "chat";
  h.send_agent(2, ready);  // the login's answers are not in yet
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::ClusterOperationInProgress)) << h.error_text(2);
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventAck());
  h.send_agent(3, ready);  // now it goes through
  h.calls.run();
  ASSERT_TRUE(h.reply(3) && h.reply(3)->body.AsEventAck()) << h.error_text(3);
  // Missing attributes and strangers are named before anything is sent.
  proto::RequestAgentReadyT nobody = ready;
  nobody.agent_id.clear();
  h.send_agent(4, nobody);
  proto::RequestAgentReadyT stranger = ready;
  stranger.tenant_id = "999";
  h.send_agent(5, stranger);
  EXPECT_EQ(h.error_code(4), code(proto::ErrorCode::MissingAttribute));
  EXPECT_EQ(h.error_code(5), code(proto::ErrorCode::InvalidAttribute));
}

TEST(AgentRequests, AgentsAreLoggedOutWhenTheirDesktopGoesAndLoggedInAgainOnANewPrimary) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, proto::EventAckT{}); });
  h.send_agent(1, login("a4", {"chat"}));
  proto::RequestAgentReadyT ready;
  ready.tenant_id = "101";
  ready.agent_id = "a4";
  ready.media_type = "chat";
  h.calls.run();
  h.send_agent(2, ready);
  h.calls.run();
  const size_t before = h.calls.sent.size();
  h.agents.log_in_again(1);  // pair-2 failed over
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), before + 2);
  EXPECT_EQ(h.calls.sent[before].type(), proto::Message::RequestAgentLogin);
  EXPECT_EQ(h.calls.sent[before + 1].type(), proto::Message::RequestAgentReady);
  for (size_t i = before; i < h.calls.sent.size(); ++i) EXPECT_EQ(h.calls.sent[i].pair, 1u);

  h.agents.log_out_agents_of(1);  // the session of every request in this harness
  h.calls.run();
  std::set<PairIndex> logged_out;
  for (const auto& s : h.sent_of(proto::Message::RequestAgentLogout)) logged_out.insert(s.pair);
  EXPECT_EQ(logged_out, (std::set<PairIndex>{0, 1, 2}));
  EXPECT_EQ(h.agents.logged_in(), 0u);
}

// A node holds the agents of a proxy's dropped link for its reconnection (proxy-session-grace):
// a logout the pair missed while it was unreachable is sent first thing when it is back, or the
// agent would stay logged in there with nobody to log it out.
TEST(AgentRequests, ALogoutAnUnreachablePairMissedIsSentWhenItIsBackBeforeTheLoginsAgain) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, proto::EventAckT{}); });
  h.send_agent(1, login("a4", {"chat"}));
  h.calls.run();
  h.send_agent(2, login("a5", {"chat"}));
  h.calls.run();
  ASSERT_EQ(h.agents.logged_in(), 2u);
  h.calls.set_reachable(1, false);
  h.agents.log_out_agents_of(1);  // the desktop goes while pair-2 is away
  h.calls.run();
  h.calls.set_reachable(1, true);
  const size_t before = h.calls.sent.size();
  h.agents.log_in_again(1);
  h.calls.run();
  std::set<std::string> resent;
  for (size_t i = before; i < h.calls.sent.size(); ++i) {
    EXPECT_EQ(h.calls.sent[i].pair, 1u);
    ASSERT_EQ(h.calls.sent[i].type(), proto::Message::RequestAgentLogout) << "nothing but the missed logouts";
    resent.insert(h.calls.sent[i].request->body.AsRequestAgentLogout()->agent_id);
  }
  EXPECT_EQ(resent, (std::set<std::string>{"a4", "a5"}));
  // Told once: the next time the pair comes back there is nothing left to tell it.
  const size_t after = h.calls.sent.size();
  h.agents.log_in_again(1);
  h.calls.run();
  EXPECT_EQ(h.calls.sent.size(), after);
}

TEST(AgentRequests, AStatusIsOneForTheClusterLoggedInOnlyWhereEveryPairSaysSoWithTheInteractionsAddedUp) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    proto::EventAgentStatusT status;
    status.tenant_id = "101";
    status.agent_id = "a1";
    status.logged_in = pair != 2;  // pair-3 lost the login
    auto chat = std::make_unique<proto::MediaStateT>();
    chat->media_type = "chat";
    chat->interactions = static_cast<int>(pair) + 1;
    status.media.push_back(std::move(chat));
    return FakePairCalls::reply(pair, status);
  });
  proto::RequestAgentStatusT status;
  status.tenant_id = "101";
  status.agent_id = "a1";
  h.send_agent(1, status);
  h.calls.run();
  EXPECT_EQ(h.sent_of(proto::Message::RequestAgentStatus).size(), 3u);
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventAgentStatus()) << h.error_text(1);
  const proto::EventAgentStatusT& merged = *h.reply(1)->body.AsEventAgentStatus();
  EXPECT_FALSE(merged.logged_in);
  ASSERT_EQ(merged.media.size(), 1u);
  EXPECT_EQ(merged.media[0]->interactions, 1 + 2 + 3);
}

TEST(AgentRequests, AWorkbinSubscriptionGoesToEveryPairOfTheTenantAndOneRefusalIsTheAnswer) {
  AgentHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, proto::EventAckT{}); });
  auto subscribe = [&](uint64_t ref, const std::string& tenant) {
    proto::RequestWorkbinSubscribeT r;
    r.tenant_id = tenant;
    r.workbin_type = "drafts";
    r.owner_agent_id = "a1";
    r.subscribe = true;
    h.send(ref, r, [&h](proxy::RequestContext&, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing request) {
      h.agents.handle_workbin_subscribe(call, e, request);
    });
  };
  subscribe(1, "202");
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventAck()) << h.error_text(1);
  const auto asked = h.sent_of(proto::Message::RequestWorkbinSubscribe);
  ASSERT_EQ(asked.size(), 1u);  // only pair-2 serves tenant 202
  EXPECT_EQ(asked[0].pair, 1u);

  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    if (pair == 0) return FakePairCalls::refused(pair, proto::ErrorCode::InvalidAttribute, "workbin type drafts is unknown");
    return FakePairCalls::reply(pair, proto::EventAckT{});
  });
  subscribe(2, "101");
  h.calls.run();
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::InvalidAttribute)) << h.error_text(2);
  subscribe(3, "303");
  EXPECT_NE(h.error_code(3), 0) << "a tenant no pair serves is refused without asking";
}

}  // namespace
}  // namespace ix::test
