// The pacing engine end to end on a scripted stream: statistics become the pacer's input, the
// decisions follow the agents' state, stale statistics fall back to progressive pacing, and the
// status shows every target with its last decision.
#include "proxy/pacing/pacing_engine.h"

#include <gtest/gtest.h>

#include "tests/proxy/pacing/reporting_script.h"

namespace ix::pacing {
namespace {

using test::kSecond;
using test::kStart;

class PacingEngineTest : public test::ReportingScript {
 protected:
  void SetUp() override {
    ReportingScript::SetUp();
    engine_ = std::make_unique<PacingEngine>(*config_);
  }
  PacingStatistics& sink() override { return engine_->statistics(); }
  const TargetDecision& chat_decision(int64_t now, bool stale = false) { return engine_->decide(now, stale)[0]; }

  std::unique_ptr<PacingEngine> engine_;
};

TEST_F(PacingEngineTest, NoReadyAgentsAndAQueueMeansNoInvitations) {
  login("a1", {{"chat", 1}}, kStart);
  submit("i1", "VQ Chat", kStart);
  const TargetDecision& d = chat_decision(kStart + kSecond);
  EXPECT_EQ(d.input.agents_ready, 0u);
  EXPECT_EQ(d.input.waiting, 1u);
  EXPECT_EQ(d.decision.invitations, 0u);
}

TEST_F(PacingEngineTest, IdleReadyAgentsGetAtLeastOneInvitationEachAndBusyOnesFewer) {
  login("a1", {{"chat", 1}}, kStart);
  login("a2", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  ready("a2", "chat", true, kStart);
  const uint32_t idle = chat_decision(kStart + kSecond).decision.invitations;
  EXPECT_GE(idle, 2u) << "two free slots";

  submit("i1", "VQ Chat", kStart + kSecond);
  party("i1", "a1", kStart + 2 * kSecond, true);
  submit("i2", "VQ Chat", kStart + 2 * kSecond);
  party("i2", "a2", kStart + 3 * kSecond, true);
  const TargetDecision& busy = chat_decision(kStart + 4 * kSecond);
  EXPECT_EQ(busy.input.agents_busy, 2u);
  EXPECT_EQ(busy.input.free_capacity, 0u);
  EXPECT_LT(busy.decision.invitations, idle);
}

TEST_F(PacingEngineTest, PendingInvitationsAreCounted) {
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  const uint32_t none_pending = chat_decision(kStart + kSecond).decision.invitations;
  engine_->set_pending(0, 5);
  const TargetDecision& d = chat_decision(kStart + kSecond);
  EXPECT_EQ(d.input.pending_invitations, 5u);
  EXPECT_LT(d.decision.invitations, none_pending);
}

TEST_F(PacingEngineTest, StaleStatisticsFallBackToProgressivePacing) {
  for (const char* agent : {"a1", "a2"}) {
    login(agent, {{"chat", 3}}, kStart);
    ready(agent, "chat", true, kStart);
  }
  const TargetDecision& d = chat_decision(kStart + kSecond, true);
  EXPECT_EQ(d.decision.mode, PacingMode::kProgressive);
  EXPECT_LE(d.decision.invitations, 2u) << "never more invitations than ready agents";
}

TEST_F(PacingEngineTest, StatusShowsEveryTargetWithItsLastDecision) {
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  submit("i1", "VQ Chat", kStart);
  stop("i1", kStart + 3 * kSecond);
  engine_->decide(kStart + 5 * kSecond, false);
  nlohmann::json status = engine_->status(kStart + 5 * kSecond);
  ASSERT_EQ(status["targets"].size(), 2u);
  const nlohmann::json& chat = status["targets"][0];
  EXPECT_EQ(chat["target"], "VQ Chat - chat");
  EXPECT_EQ(chat["agents"]["ready"], 1);
  EXPECT_EQ(chat["windows"]["1m"]["abandoned"], 1);
  EXPECT_DOUBLE_EQ(chat["windows"]["1m"]["abandoned_wait_seconds"].get<double>(), 3.0);
  EXPECT_EQ(chat["decision"]["mode"], "model");
  EXPECT_TRUE(chat["decision"]["invitations"].is_number());
  EXPECT_TRUE(chat["estimates"]["patience_seconds"].get<double>() > 0);
}

// A reload removes the email target and adds "VQ Sales": chat keeps its counts, windows and
// pending invitations; Sales starts from nothing and counts from the next event on; events of
// the removed target count nowhere.
TEST_F(PacingEngineTest, AReloadAddsAndRemovesTargetsAndKeepsWhatStays) {
  login("a1", {{"chat", 1}, {"email", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  submit("c1", "VQ Chat", kStart);
  submit("e1", "VQ Email", kStart, "email");
  stop("c1", kStart + 2 * kSecond);
  submit("c2", "VQ Chat", kStart + 3 * kSecond);
  engine_->set_pending(0, 4);
  engine_->set_pending(1, 7);
  engine_->decide(kStart + 4 * kSecond, false);

  auto reloaded = std::make_shared<config::ClusterConfig>(*config_);
  reloaded->pacing_targets.erase(reloaded->pacing_targets.begin() + 1);  // VQ Email
  reloaded->pacing_targets.push_back({"VQ Sales - chat", "VQ Sales", "101", "chat", 2.0, {"Chat"}});
  engine_->reconfigure(*reloaded);
  ASSERT_EQ(engine_->target_count(), 2u);
  submit("s1", "VQ Sales", kStart + 5 * kSecond);
  submit("e2", "VQ Email", kStart + 5 * kSecond, "email");
  stop("e1", kStart + 6 * kSecond);  // the removed target's: nothing to count

  const std::vector<TargetDecision>& d = engine_->decide(kStart + 7 * kSecond, false);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].target->name, "VQ Chat - chat");
  EXPECT_EQ(d[0].input.waiting, 1u) << "c2, from before the reload";
  EXPECT_EQ(d[0].input.windows[0].abandoned, 1u) << "c1, from before the reload";
  EXPECT_EQ(d[0].input.pending_invitations, 4u);
  EXPECT_EQ(d[1].target->name, "VQ Sales - chat");
  EXPECT_DOUBLE_EQ(d[1].input.goal, 0.02);
  EXPECT_EQ(d[1].input.waiting, 1u);
  EXPECT_EQ(d[1].input.pending_invitations, 0u) << "a new target starts with none pending";
  EXPECT_EQ(d[1].input.agents_ready, 1u) << "a1 of group Chat, ready for chat";
  nlohmann::json status = engine_->status(kStart + 7 * kSecond);
  ASSERT_EQ(status["targets"].size(), 2u);
  EXPECT_EQ(status["targets"][1]["target"], "VQ Sales - chat");
}

}  // namespace
}  // namespace ix::pacing
