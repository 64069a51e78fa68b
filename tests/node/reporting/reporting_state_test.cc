// What a node answers RequestReportingState with: its open interactions meeting the condition
// and of the asked tenants, its agents with what each has in hand per media, and the seq.
#include "node/reporting/reporting_state.h"

#include <gtest/gtest.h>

namespace ix::node {
namespace {

std::unique_ptr<Interaction> interaction(std::string id, std::string tenant, proto::InteractionState state,
                                         std::string agent = "", std::string subtype = "Proactive") {
  auto i = std::make_unique<Interaction>();
  i->interaction_id = std::move(id);
  i->tenant_id = std::move(tenant);
  i->media_type = "chat";
  i->interaction_subtype = std::move(subtype);
  i->state = state;
  i->agent_id = std::move(agent);
  return i;
}

TEST(ReportingState, OpenInteractionsOfTheTenantsThatMeetTheConditionAndAgentsWithWhatTheyHaveInHand) {
  InteractionRegistry interactions;
  interactions.put(interaction("q1", "101", proto::InteractionState::Queued));
  interactions.put(interaction("h1", "101", proto::InteractionState::Handling, "a1"));
  interactions.put(interaction("d1", "101", proto::InteractionState::Delivering, "a1", "Reactive"));
  interactions.put(interaction("w1", "101", proto::InteractionState::InWorkbin));
  interactions.put(interaction("x1", "202", proto::InteractionState::Queued));
  AgentRegistry agents;
  AgentState& a1 = agents.login("101", "a1", "p1", {});
  a1.media["chat"].capacity = 3;
  a1.media["chat"].ready = true;
  agents.login("202", "b1", "p2", {}).media["chat"];

  Result<query::Condition> proactive = query::Condition::parse("interaction_subtype = 'Proactive'");
  ASSERT_TRUE(proactive.ok());
  proto::EventReportingStateT state = reporting_state(interactions, agents, "pair-1", 42, {"101"}, *proactive);
  EXPECT_EQ(state.node_id, "pair-1");
  EXPECT_EQ(state.seq, 42u);
  std::set<std::string> ids;
  for (const auto& i : state.interactions) ids.insert(i->interaction_id);
  EXPECT_EQ(ids, (std::set<std::string>{"q1", "h1"})) << "not the reactive one, the workbin one or tenant 202's";
  ASSERT_EQ(state.agents.size(), 1u) << "only tenant 101's agents";
  const proto::EventAgentStatusT& agent = *state.agents[0];
  EXPECT_EQ(agent.agent_id, "a1");
  ASSERT_EQ(agent.media.size(), 1u);
  EXPECT_EQ(agent.media[0]->capacity, 3);
  EXPECT_TRUE(agent.media[0]->ready);
  EXPECT_EQ(agent.media[0]->interactions, 2) << "h1 and d1 are in a1's hands, whatever their subtype";

  proto::EventReportingStateT every = reporting_state(interactions, agents, "pair-1", 42, {}, query::Condition{});
  EXPECT_EQ(every.interactions.size(), 4u) << "every tenant, no condition: all open ones";
  EXPECT_EQ(every.agents.size(), 2u);
}

}  // namespace
}  // namespace ix::node
