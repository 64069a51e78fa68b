// The pacing engine end to end on a scripted stream: statistics become the pacer's input, the
// decisions follow the agents' state, reactive traffic and the engagement service's answers reach
// the pacer's input, stale statistics fall back to progressive pacing, and the status shows every
// target with what its last decision saw.
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

// A reactive chat waiting in the inbound queue the chat agents serve claims the one free slot.
TEST_F(PacingEngineTest, ReactiveTrafficAndCapacityInUseReachThePacerInput) {
  login("a1", {{"chat", 2}}, kStart);
  ready("a1", "chat", true, kStart);
  submit("r1", "VQ Inbound", kStart, "chat", "Reactive");
  party("r1", "a1", kStart + kSecond, true);
  const TargetDecision& first = chat_decision(kStart + 2 * kSecond);
  EXPECT_EQ(first.input.free_capacity, 1u) << "one of two slots free";
  EXPECT_EQ(first.input.busy_capacity, 1u);
  EXPECT_EQ(first.input.reactive_arrivals, 1u);

  submit("r2", "VQ Inbound", kStart + 3 * kSecond, "chat", "Reactive");
  const TargetDecision& d = chat_decision(kStart + 4 * kSecond);
  EXPECT_EQ(d.input.other_waiting, 1u);
  EXPECT_EQ(d.input.reactive_arrivals, 2u);
  EXPECT_EQ(d.input.busy_capacity, 1u);
  EXPECT_EQ(d.decision.free_capacity_share, 0u) << "r2 waits for the free slot";
  nlohmann::json chat = engine_->status(kStart + 4 * kSecond)["targets"][0];
  EXPECT_EQ(chat["other_waiting"], 1);
  EXPECT_EQ(chat["windows"]["15m"]["reactive_arrivals"], 2);
  EXPECT_EQ(chat["agents"]["busy_capacity"], 1);
}

// Two minutes after the statistics started counting, the quarter-hour window holds two minutes:
// the reactive rate is what arrived over those, not over fifteen minutes the proxy never saw
// (which would leave the pacer sending into capacity the reactive traffic takes).
TEST_F(PacingEngineTest, TheReactiveRateIsOverTheTimeCountedNotTheWholeWindow) {
  login("a1", {{"chat", 4}}, kStart);
  ready("a1", "chat", true, kStart);
  for (int i = 0; i < 60; ++i) submit("r" + std::to_string(i), "VQ Inbound", kStart + (i + 1) * kSecond, "chat", "Reactive");
  const TargetStats early = engine_->pacer_input(0, kStart + 120 * kSecond, false);
  EXPECT_DOUBLE_EQ(early.windows[2].length_seconds, 120);
  EXPECT_DOUBLE_EQ(estimate(early, PacingPriors{}).reactive_rate, 0.5) << "60 arrivals in 120 s";
  EXPECT_DOUBLE_EQ(engine_->pacer_input(0, kStart + 10 * kSecond, false).windows[2].length_seconds, 60)
      << "never less than the shortest window: a first arrival is no burst";
  const TargetStats later = engine_->pacer_input(0, kStart + 600 * kSecond, false);
  EXPECT_DOUBLE_EQ(later.windows[2].length_seconds, 600);
  EXPECT_DOUBLE_EQ(later.windows[0].length_seconds, 60);
  EXPECT_DOUBLE_EQ(engine_->pacer_input(0, kStart + 3600 * kSecond, false).windows[2].length_seconds, 900);
}

// After a restart the pairs' state seeds the statistics; its time is the newest change it shows,
// an hour old here. The watch starts when the proxy does (its first decision), not then.
TEST_F(PacingEngineTest, AnOldPairStateDoesNotLengthenTheTimeCounted) {
  proto::InteractionInfoT waiting;
  waiting.interaction_id = "old";
  waiting.submitted_at_us = kStart - 3600 * kSecond;
  engine_->statistics().seed_pair(0, 0, {waiting}, kStart - 3600 * kSecond);
  engine_->decide(kStart, false);
  for (int i = 0; i < 30; ++i) submit("r" + std::to_string(i), "VQ Inbound", kStart + (i + 1) * kSecond, "chat", "Reactive");
  const TargetStats in = engine_->pacer_input(0, kStart + 120 * kSecond, false);
  EXPECT_DOUBLE_EQ(in.windows[2].length_seconds, 120);
  EXPECT_DOUBLE_EQ(estimate(in, PacingPriors{}).reactive_rate, 0.25) << "30 arrivals in the 120 s watched";
}

// The engagement service's running totals: the first report is a baseline, the growth after it
// is what the pacer sees over the longest window; nothing reported means the prior.
TEST_F(PacingEngineTest, AcceptanceReportedByTheEngagementServiceReachesThePacer) {
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  const TargetStats none = engine_->pacer_input(0, kStart + kSecond, false);
  EXPECT_EQ(none.invitations_answered, 0u);
  EXPECT_DOUBLE_EQ(estimate(none, PacingPriors{}).acceptance, PacingPriors{}.acceptance) << "nothing observed: the prior";
  EXPECT_TRUE(engine_->status(kStart + kSecond)["targets"][0]["invitations"]["acceptance_observed"].is_null());

  engine_->report_invitations(0, {1000, 100, 5000}, kStart + 2 * kSecond);  // answered before: a baseline
  EXPECT_EQ(engine_->pacer_input(0, kStart + 3 * kSecond, false).invitations_answered, 0u);
  engine_->report_invitations(0, {1200, 280, 5600}, kStart + 7 * kSecond);
  const TargetStats in = engine_->pacer_input(0, kStart + 8 * kSecond, false);
  EXPECT_EQ(in.invitations_answered, 200u);
  EXPECT_EQ(in.invitations_accepted, 180u);
  EXPECT_DOUBLE_EQ(in.answer_delay_seconds, 600.0);
  const TargetDecision& after = chat_decision(kStart + 8 * kSecond);
  EXPECT_GT(after.decision.estimates.acceptance, 0.6) << "180 of 200 accepted outweigh the prior's 20 %";
  const nlohmann::json invitations = engine_->status(kStart + 8 * kSecond)["targets"][0]["invitations"];
  EXPECT_DOUBLE_EQ(invitations["acceptance_observed"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(invitations["answer_delay_seconds"].get<double>(), 600.0 / 180) << "per acceptance";

  engine_->report_invitations(0, {50, 10, 100}, kStart + 12 * kSecond);  // the service restarted
  EXPECT_EQ(engine_->pacer_input(0, kStart + 13 * kSecond, false).invitations_answered, 250u);
  EXPECT_EQ(engine_->pacer_input(0, kStart + 16 * 60 * kSecond, false).invitations_answered, 0u)
      << "older than the longest window";
}

// [pacing.priors] reach the pacer: with nothing observed it paces on them, and a reload applies
// new ones from the next decision.
TEST_F(PacingEngineTest, PriorsFromTheConfigurationReachThePacerAndAReloadChangesThem) {
  auto with_priors = [](const std::string& priors) {
    config::LoadResult loaded = config::load_config_text(test::pacing_config() + "[pacing.priors]\n" + priors, "pacing.toml", "/tmp");
    EXPECT_TRUE(loaded.ok()) << loaded.error_text();
    return loaded.config;
  };
  std::shared_ptr<const config::ClusterConfig> config = with_priors("acceptance = 0.5\nhandle-time = \"2m\"\npatience = \"45s\"\n");
  engine_ = std::make_unique<PacingEngine>(*config);
  const Estimates& e = chat_decision(kStart + kSecond).decision.estimates;
  EXPECT_DOUBLE_EQ(e.acceptance, 0.5);
  EXPECT_NEAR(e.handle_time_seconds, 120.0, 1e-9);
  EXPECT_NEAR(e.patience_seconds, 45.0, 1e-9);
  EXPECT_DOUBLE_EQ(engine_->status(kStart + kSecond)["priors"]["acceptance"].get<double>(), 0.5);

  std::shared_ptr<const config::ClusterConfig> reloaded = with_priors("acceptance = 0.1\n");
  engine_->reconfigure(*reloaded);
  EXPECT_DOUBLE_EQ(engine_->status(kStart + 2 * kSecond)["priors"]["acceptance"].get<double>(), 0.1);
  EXPECT_LT(chat_decision(kStart + 2 * kSecond).decision.estimates.acceptance, 0.5) << "moving toward the new prior";
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
