// Agents through ixproxy: login fan-out to every pair, revocation when one pair refuses, one
// operation at a time per agent, logout everywhere when the desktop goes, invitations back to
// the right multiplexed agent session, and agents kept logged in across a pair's failover.
#include <gtest/gtest.h>

#include <set>

#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

constexpr int code(proto::ErrorCode c) { return static_cast<int>(c); }

class ProxyAgents : public ClusterFixture {
 protected:
  // What the pair's primary itself says about an agent.
  std::unique_ptr<proto::EventAgentStatusT> status_on(int pair, const std::string& agent) {
    auto direct = node_client(pair, proto::ClientType::AgentApplication);
    if (!direct) return nullptr;
    proto::RequestAgentStatusT r;
    r.tenant_id = "101";
    r.agent_id = agent;
    EnvelopePtr reply = direct->call(r);
    if (!reply || !reply->body.AsEventAgentStatus()) return nullptr;
    return std::make_unique<proto::EventAgentStatusT>(*reply->body.AsEventAgentStatus());
  }
  bool logged_in_on(int pair, const std::string& agent) {
    auto s = status_on(pair, agent);
    return s && s->logged_in;
  }
  bool logged_out_everywhere(const std::string& agent) {
    return loop_.run_until([&] { return !logged_in_on(0, agent) && !logged_in_on(1, agent); }, 5000);
  }
};

TEST_F(ProxyAgents, LoginGoesToEveryPairAndIsRevokedWhenOnePairIsOutOfSeats) {
  seats_ = {10, 1};
  start_cluster();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  EnvelopePtr first = desktop->call(agent_login("a1"), 1);
  ASSERT_TRUE(first && first->body.AsEventAck()) << error_text(first);
  EXPECT_TRUE(logged_in_on(0, "a1"));
  EXPECT_TRUE(logged_in_on(1, "a1"));

  EnvelopePtr second = desktop->call(agent_login("a2"), 2);
  EXPECT_EQ(error_code(second), code(proto::ErrorCode::NoSeatsAvailable)) << error_text(second);
  EXPECT_NE(error_text(second).find("node pair pair-2 refused"), std::string::npos) << error_text(second);
  // pair-1 had accepted a2: the proxy revoked it, so a2 is logged in nowhere.
  EXPECT_TRUE(logged_out_everywhere("a2"));
  EXPECT_TRUE(logged_in_on(0, "a1"));

  // Through the proxy the status is the cluster's: logged in only where every pair agrees.
  proto::RequestAgentStatusT status;
  status.tenant_id = "101";
  status.agent_id = "a1";
  EnvelopePtr merged = desktop->call(status, 1);
  ASSERT_TRUE(merged && merged->body.AsEventAgentStatus()) << error_text(merged);
  EXPECT_TRUE(merged->body.AsEventAgentStatus()->logged_in);
}

TEST_F(ProxyAgents, EachPairGetsTheAgentWithTheMediaItServes) {
  start_cluster();  // pair-1 serves chat and email, pair-2 chat only
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  proto::RequestAgentLoginT both = agent_login("a1", "chat");
  both.media.push_back(std::make_unique<proto::MediaCapacityT>());
  both.media.back()->media_type = "email";
  EnvelopePtr login = desktop->call(both, 1);
  ASSERT_TRUE(login && login->body.AsEventAck()) << error_text(login);
  EXPECT_TRUE(logged_in_on(0, "a1"));
  EXPECT_TRUE(logged_in_on(1, "a1"));
  proto::RequestAgentReadyT email = agent_ready("a1");
  email.media_type = "email";
  EnvelopePtr ready = desktop->call(email, 1);
  EXPECT_TRUE(ready && ready->body.AsEventAck()) << error_text(ready);

  // An e-mail-only agent lives on pair-1 alone; its status and logout leave pair-2 out.
  EnvelopePtr email_only = desktop->call(agent_login("a2", "email"), 2);
  ASSERT_TRUE(email_only && email_only->body.AsEventAck()) << error_text(email_only);
  EXPECT_TRUE(logged_in_on(0, "a2"));
  EXPECT_FALSE(logged_in_on(1, "a2"));
  proto::RequestAgentStatusT status;
  status.tenant_id = "101";
  status.agent_id = "a2";
  EnvelopePtr merged = desktop->call(status, 2);
  ASSERT_TRUE(merged && merged->body.AsEventAgentStatus()) << error_text(merged);
  EXPECT_TRUE(merged->body.AsEventAgentStatus()->logged_in);
  proto::RequestAgentLogoutT logout;
  logout.tenant_id = "101";
  logout.agent_id = "a2";
  EnvelopePtr out = desktop->call(logout, 2);
  EXPECT_TRUE(out && out->body.AsEventAck()) << error_text(out);
  EXPECT_TRUE(logged_out_everywhere("a2"));

  EnvelopePtr sms = desktop->call(agent_login("a3", "sms"), 3);
  EXPECT_EQ(error_code(sms), code(proto::ErrorCode::ClusterNoServerForMedia)) << error_text(sms);
}

TEST_F(ProxyAgents, ASecondOperationOnTheSameAgentWhileOneIsFannedOutGets2004) {
  start_cluster();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  const uint64_t login = desktop->send(agent_login("a1"), 1);
  const uint64_t too_soon = desktop->send(agent_ready("a1"), 1);
  EnvelopePtr busy = desktop->wait_reply(too_soon);
  EXPECT_EQ(error_code(busy), code(proto::ErrorCode::ClusterOperationInProgress)) << error_text(busy);
  EXPECT_NE(error_text(busy).find("a1"), std::string::npos);
  EnvelopePtr done = desktop->wait_reply(login);
  ASSERT_TRUE(done && done->body.AsEventAck()) << error_text(done);
  // Once the login is through, the same request is fine.
  EXPECT_TRUE(desktop->call(agent_ready("a1"), 1)->body.AsEventAck());
}

TEST_F(ProxyAgents, InvitationsReachTheRightAgentSessionAndADisconnectLogsOutEverywhere) {
  start_cluster();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);  // two agents multiplexed
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));
  ASSERT_TRUE(log_in_ready(*desktop, "a2", 2));
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  auto router = proxy_client(0, proto::ClientType::RoutingEngine);
  std::set<std::string> delivered;
  for (int i = 0; i < 2; ++i) {  // one interaction per pair (submits alternate)
    EnvelopePtr submitted = media->call(chat_submit());
    ASSERT_TRUE(submitted && submitted->body.AsEventSubmitted());
    const std::string id = submitted->body.AsEventSubmitted()->interaction_id;
    proto::RequestDeliverT deliver;
    deliver.interaction_id = id;
    deliver.agent_id = "a2";
    deliver.place_id = "place-a2";
    EnvelopePtr ack = router->call(deliver);
    ASSERT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
    delivered.insert(id);
  }
  ASSERT_TRUE(desktop->wait_for_events(2));
  std::set<std::string> invited;
  for (const EnvelopePtr& e : desktop->events) {
    const proto::EventInviteT* invite = e->body.AsEventInvite();
    ASSERT_NE(invite, nullptr);
    EXPECT_EQ(e->client_id, 2u) << "the invitation must reach a2's session, not a1's";
    invited.insert(invite->interaction->interaction_id);
    proto::RequestAcceptT accept;
    accept.interaction_id = invite->interaction->interaction_id;
    accept.agent_id = "a2";
    accept.ticket_id = invite->ticket_id;
    EnvelopePtr accepted = desktop->call(accept, 2);
    EXPECT_TRUE(accepted && accepted->body.AsEventAck()) << error_text(accepted);
  }
  EXPECT_EQ(invited, delivered);

  desktop->close();
  EXPECT_TRUE(logged_out_everywhere("a1"));
  EXPECT_TRUE(logged_out_everywhere("a2"));
}

TEST_F(ProxyAgents, KillingAPrimaryUnderTrafficKeepsAgentsLoggedInAndLosesNoAcknowledgedInteraction) {
  start_cluster();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));

  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::vector<std::string> acknowledged;
  int refused = 0;
  uint64_t slowest_ms = 0;
  const uint64_t started = uv_now(loop_.get());
  bool killed = false;
  while (uv_now(loop_.get()) - started < 4000) {
    if (!killed && uv_now(loop_.get()) - started > 1000) {
      nodes_[0][0]->kill(SIGKILL);  // pair-1's primary, mid-traffic
      killed = true;
    }
    std::vector<std::pair<uint64_t, uint64_t>> in_flight;  // ref, sent at
    for (int i = 0; i < 10; ++i) in_flight.emplace_back(media->send(chat_submit()), uv_now(loop_.get()));
    for (auto [ref, sent] : in_flight) {
      EnvelopePtr reply = media->wait_reply(ref, 10'000);
      ASSERT_NE(reply, nullptr) << "a submit got no answer at all";
      slowest_ms = std::max(slowest_ms, uv_now(loop_.get()) - sent);
      if (reply->body.AsEventSubmitted()) {
        acknowledged.push_back(reply->body.AsEventSubmitted()->interaction_id);
      } else {
        ++refused;
        EXPECT_EQ(error_code(reply), code(proto::ErrorCode::ClusterLostConnection)) << error_text(reply);
      }
    }
  }
  EXPECT_LT(slowest_ms, 3500u) << "every answer within request-timeout (3 s)";
  EXPECT_GT(acknowledged.size(), 100u);

  // The backup took over; the proxy logged a1 in there again, still ready.
  ASSERT_TRUE(loop_.run_until([&] { return logged_in_on(0, "a1"); }, 10'000)) << "a1 is not logged in on pair-1's new primary";
  auto status = status_on(0, "a1");
  ASSERT_TRUE(status && status->media.size() == 1);
  EXPECT_TRUE(status->media[0]->ready);
  EXPECT_TRUE(logged_in_on(1, "a1"));
  // Every acknowledged interaction is there, whichever pair it went to.
  for (const std::string& id : acknowledged) {
    proto::RequestGetPropertiesT props;
    props.interaction_id = id;
    EnvelopePtr reply = media->call(props);
    ASSERT_TRUE(reply && reply->body.AsEventProperties()) << id << ": " << error_text(reply);
  }
  EXPECT_NE(proxy_metrics(0).find("ix_proxy_failovers_total{pair=\"pair-1\"}"), std::string::npos);
  RecordProperty("acknowledged", static_cast<int>(acknowledged.size()));
  RecordProperty("refused", refused);
}

TEST_F(ProxyAgents, AGracefulStopLogsTheProxysAgentsOutEverywhere) {
  start_cluster();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(desktop->call(agent_login("a1"), 1)->body.AsEventAck());
  ASSERT_TRUE(logged_in_on(0, "a1") && logged_in_on(1, "a1"));
  EXPECT_EQ(proxies_[0]->kill(SIGTERM), 0);
  EXPECT_TRUE(logged_out_everywhere("a1"));
  EXPECT_TRUE(loop_.run_until([&] { return desktop->closed(); }, 2000));
}

}  // namespace
}  // namespace ix::test
