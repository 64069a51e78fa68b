// Find and workbin content through ixproxy: asked of every candidate pair, merged in the order a
// single server would give, the limit applied to the merged result, and an explicit policy when
// a pair cannot be asked.
#include <gtest/gtest.h>

#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

constexpr int code(proto::ErrorCode c) { return static_cast<int>(c); }

class ProxyQueries : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    start_cluster();
  }

  // Submits straight to one pair so that the test decides where each interaction lives.
  std::string submit_on(int pair, int priority, const std::string& media = "chat") {
    auto direct = node_client(pair, proto::ClientType::MediaServer);
    proto::RequestSubmitT r = chat_submit(media);
    r.priority = priority;
    EnvelopePtr reply = direct->call(r);
    return reply && reply->body.AsEventSubmitted() ? reply->body.AsEventSubmitted()->interaction_id : "";
  }

  std::vector<std::string> ids(const std::vector<std::unique_ptr<proto::InteractionInfoT>>& list) {
    std::vector<std::string> out;
    for (const auto& i : list) out.push_back(i->interaction_id);
    return out;
  }
};

TEST_F(ProxyQueries, FindMergesAcrossPairsInTheRequestedOrderAndAppliesTheLimitOnce) {
  // Priorities interleave across the pairs: a node-by-node answer would be out of order.
  std::vector<std::pair<int, std::string>> by_priority;
  for (int p = 0; p < 6; ++p) by_priority.emplace_back(p, submit_on(p % 2, p));
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "queue = 'inbound'";
  find.order = "priority desc";
  find.limit = 4;
  EnvelopePtr reply = desktop->call(find);
  ASSERT_TRUE(reply && reply->body.AsEventFindResult()) << error_text(reply);
  const auto& result = *reply->body.AsEventFindResult();
  EXPECT_EQ(ids(result.interactions),
            (std::vector<std::string>{by_priority[5].second, by_priority[4].second, by_priority[3].second, by_priority[2].second}));
  EXPECT_FALSE(result.partial);

  find.order = "priority asc";
  find.limit = 0;  // the default limit, on the merged result
  reply = desktop->call(find);
  ASSERT_TRUE(reply && reply->body.AsEventFindResult());
  ASSERT_EQ(reply->body.AsEventFindResult()->interactions.size(), 6u);
  for (int p = 0; p < 6; ++p) EXPECT_EQ(reply->body.AsEventFindResult()->interactions[p]->priority, p);

  find.condition = "priority >";
  EnvelopePtr bad = desktop->call(find);
  EXPECT_EQ(error_code(bad), code(proto::ErrorCode::InvalidCondition));
  EXPECT_NE(error_text(bad).find("RequestFind.condition"), std::string::npos) << error_text(bad);
}

TEST_F(ProxyQueries, ALostPairFailsAFindUnlessPartialIsAcceptedAndOnlyPairsThatCanMatchAreAsked) {
  const std::string email = submit_on(0, 1, "email");  // only pair-1 lists email
  submit_on(0, 2);
  submit_on(1, 3);
  nodes_[1][1]->kill(SIGKILL);
  nodes_[1][0]->kill(SIGKILL);
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  proto::RequestFindT find;
  find.tenant_id = "101";
  EnvelopePtr lost = desktop->call(find);
  EXPECT_EQ(error_code(lost), code(proto::ErrorCode::ClusterLostConnection)) << error_text(lost);
  EXPECT_NE(error_text(lost).find("pair-2"), std::string::npos);

  find.accept_partial = true;
  EnvelopePtr partial = desktop->call(find);
  ASSERT_TRUE(partial && partial->body.AsEventFindResult()) << error_text(partial);
  EXPECT_TRUE(partial->body.AsEventFindResult()->partial);
  EXPECT_EQ(partial->body.AsEventFindResult()->missing_nodes, (std::vector<std::string>{"pair-2"}));
  EXPECT_EQ(partial->body.AsEventFindResult()->interactions.size(), 2u);

  // Email can only be on pair-1, so pair-2 being down does not matter: a complete answer.
  find.accept_partial = false;
  find.condition = "media_type = 'email'";
  EnvelopePtr complete = desktop->call(find);
  ASSERT_TRUE(complete && complete->body.AsEventFindResult()) << error_text(complete);
  EXPECT_FALSE(complete->body.AsEventFindResult()->partial);
  EXPECT_EQ(ids(complete->body.AsEventFindResult()->interactions), (std::vector<std::string>{email}));
}

TEST_F(ProxyQueries, WorkbinContentIsMergedInTheOrderItemsWerePlaced) {
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  std::vector<std::string> placed;
  for (int i = 0; i < 4; ++i) {
    const std::string id = submit_on(i % 2, 0);  // alternate pairs
    proto::RequestPlaceInWorkbinT place;
    place.interaction_id = id;
    place.workbin_type = "drafts";
    place.owner_agent_id = "a1";
    EnvelopePtr ack = desktop->call(place);
    ASSERT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
    placed.push_back(id);
    loop_.run_for(5);  // distinct placement times
  }
  proto::RequestWorkbinContentT content;
  content.tenant_id = "101";
  content.workbin_type = "drafts";
  content.owner_agent_id = "a1";
  EnvelopePtr reply = desktop->call(content);
  ASSERT_TRUE(reply && reply->body.AsEventWorkbinContent()) << error_text(reply);
  EXPECT_EQ(ids(reply->body.AsEventWorkbinContent()->interactions), placed);
  EXPECT_EQ(reply->body.AsEventWorkbinContent()->owner_agent_id, "a1");
}

TEST_F(ProxyQueries, AnOrderedViewIsPulledInClusterWideOrder) {
  // A backlog spread over the pairs; a single server would hand it out 9, 8, 7, 5, 2, 1.
  for (auto [pair, priority] : {std::pair{0, 9}, std::pair{0, 5}, std::pair{0, 1}, std::pair{1, 8}, std::pair{1, 7}, std::pair{1, 2}}) {
    ASSERT_FALSE(submit_on(pair, priority).empty());
  }
  auto router = proxy_client(0, proto::ClientType::RoutingEngine);
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.view_id = "ordered";
  std::vector<int> order;
  for (int i = 0; i < 4; ++i) {
    EnvelopePtr reply = router->call(pull);
    ASSERT_TRUE(reply && reply->body.AsEventPulled()) << error_text(reply);
    ASSERT_EQ(reply->body.AsEventPulled()->interactions.size(), 1u);
    order.push_back(reply->body.AsEventPulled()->interactions[0]->priority);
  }
  pull.count = 5;  // the rest at once, still in order
  EnvelopePtr rest = router->call(pull);
  ASSERT_TRUE(rest && rest->body.AsEventPulled()) << error_text(rest);
  for (const auto& info : rest->body.AsEventPulled()->interactions) order.push_back(info->priority);
  EXPECT_EQ(order, (std::vector<int>{9, 8, 7, 5, 2, 1}));
}

}  // namespace
}  // namespace ix::test
