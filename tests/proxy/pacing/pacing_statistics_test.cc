// The pacing statistics from a scripted reporting stream: which interactions count for a target,
// waiting/accepted/abandoned with their waits, handling times, agents per target (blended agents
// in each target of their media), reactive traffic for the targets whose groups serve its virtual
// queue, windows that forget, and a pair's snapshot replacing what the stream said without
// counting an event twice.
#include "proxy/pacing/pacing_statistics.h"

#include <gtest/gtest.h>

#include "tests/proxy/pacing/reporting_script.h"

namespace ix::pacing {
namespace {

using PacingStatisticsTest = test::ReportingScript;
using test::kSecond;
using test::kStart;

TEST_F(PacingStatisticsTest, TargetsComeFromTheConfiguration) {
  ASSERT_EQ(stats_->target_count(), 2u);
  EXPECT_EQ(chat(kStart).target->name, "VQ Chat - chat");
  EXPECT_EQ(email(kStart).target->optimization_goal, 5.0);
}

TEST_F(PacingStatisticsTest, OnlyProactiveInteractionsOfTheTargetsVirtualQueueAndMediaCount) {
  submit("i1", "VQ Chat", kStart);                                // counts
  submit("i2", "VQ Chat", kStart, "chat", "Reactive");            // fails the proactive filter
  submit("i3", "Other VQ", kStart);                               // no target has this virtual queue
  submit("i4", "VQ Chat", kStart, "email");                       // the VQ's target is for chat
  submit("i5", "VQ Email", kStart, "email");                      // counts for the email target
  EXPECT_EQ(chat(kStart).waiting, 1u);
  EXPECT_EQ(email(kStart).waiting, 1u);
}

TEST_F(PacingStatisticsTest, AcceptedAndAbandonedCarryTheirWaits) {
  submit("i1", "VQ Chat", kStart);
  submit("i2", "VQ Chat", kStart + 2 * kSecond);
  submit("i3", "VQ Chat", kStart + 4 * kSecond);
  party("i1", "a1", kStart + 10 * kSecond, true);  // accepted after 10 s
  stop("i2", kStart + 7 * kSecond);                // abandoned after 5 s
  TargetFigures f = chat(kStart + 20 * kSecond);
  EXPECT_EQ(f.waiting, 1u);
  EXPECT_DOUBLE_EQ(f.waiting_seconds, 16.0) << "i3 has waited 16 s so far (a censored wait)";
  EXPECT_EQ(f.accepted[0].count, 1u);
  EXPECT_DOUBLE_EQ(f.accepted[0].wait_seconds, 10.0);
  EXPECT_EQ(f.abandoned[0].count, 1u);
  EXPECT_DOUBLE_EQ(f.abandoned[0].wait_seconds, 5.0);
  EXPECT_EQ(f.handling, 1u);

  party("i1", "a1", kStart + 70 * kSecond, false);  // handled for 60 s
  f = chat(kStart + 75 * kSecond);
  EXPECT_EQ(f.handling, 0u);
  EXPECT_EQ(f.handled[2].count, 1u);
  EXPECT_DOUBLE_EQ(f.handled[2].wait_seconds, 60.0);
  stop("i1", kStart + 80 * kSecond);
  EXPECT_EQ(chat(kStart + 80 * kSecond).abandoned[2].count, 1u) << "stopping after handling is no abandonment";
}

TEST_F(PacingStatisticsTest, WindowsForgetWhatIsOlderThanThem) {
  submit("i1", "VQ Chat", kStart);
  stop("i1", kStart + kSecond);
  EXPECT_EQ(chat(kStart + 30 * kSecond).abandoned[0].count, 1u);
  EXPECT_EQ(chat(kStart + 2 * 60 * kSecond).abandoned[0].count, 0u) << "gone from the 1-minute window";
  EXPECT_EQ(chat(kStart + 2 * 60 * kSecond).abandoned[1].count, 1u) << "still in the 5-minute window";
  EXPECT_EQ(chat(kStart + 16 * 60 * kSecond).abandoned[2].count, 0u) << "gone from every window";
}

TEST_F(PacingStatisticsTest, BlendedAgentsCountForEveryTargetOfTheirMedia) {
  login("a1", {{"chat", 1}}, kStart);
  login("a2", {{"chat", 2}, {"email", 1}}, kStart);  // in both groups: counted once for chat
  login("a3", {{"email", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  ready("a2", "chat", true, kStart);
  ready("a2", "email", true, kStart);
  TargetFigures c = chat(kStart);
  EXPECT_EQ(c.agents.logged_in, 2u) << "a1 and a2 (a3 cannot take chat)";
  EXPECT_EQ(c.agents.ready, 2u);
  EXPECT_EQ(c.agents.free_capacity, 3u);
  TargetFigures e = email(kStart);
  EXPECT_EQ(e.agents.logged_in, 2u) << "a2 and a3 of the blended group";
  EXPECT_EQ(e.agents.ready, 1u);
  EXPECT_EQ(e.agents.not_ready, 1u);

  submit("i1", "VQ Chat", kStart);
  party("i1", "a2", kStart + kSecond, true);
  c = chat(kStart + kSecond);
  EXPECT_EQ(c.agents.busy, 1u);
  EXPECT_EQ(c.agents.free_capacity, 2u) << "a2 has one of its two chat slots taken";
  EXPECT_EQ(stats_->group_counts("Blended", "chat").busy, 1u);
  EXPECT_EQ(stats_->group_counts("Chat", "chat").ready, 2u);
}

// Reactive traffic takes the same agents' capacity: a non-proactive interaction whose virtual
// queue a target's groups serve (Chat serves VQ Inbound; Blended, in both targets, serves VQ
// Chat and VQ Email) counts for that target of its media as an arrival, and as waiting until an
// agent takes it or it is stopped.
TEST_F(PacingStatisticsTest, ReactiveInteractionsCountForTheTargetsWhoseGroupsServeTheirVirtualQueue) {
  submit("r1", "VQ Inbound", kStart, "chat", "Reactive");   // Chat's inbound queue: the chat target
  submit("r2", "VQ Email", kStart, "chat", "Reactive");     // Blended serves VQ Email: the chat target
  submit("r3", "VQ Email", kStart, "email", "Reactive");    // the email target
  submit("r4", "VQ Inbound", kStart, "email", "Reactive");  // no email target's group serves VQ Inbound
  submit("r5", "Elsewhere", kStart, "chat", "Reactive");    // nobody's
  submit("p1", "VQ Chat", kStart);                           // proactive: waiting, not other waiting
  TargetFigures c = chat(kStart + kSecond);
  EXPECT_EQ(c.waiting, 1u);
  EXPECT_EQ(c.other_waiting, 2u) << "r1 and r2";
  EXPECT_EQ(c.reactive_arrivals[2].count, 2u);
  TargetFigures e = email(kStart + kSecond);
  EXPECT_EQ(e.other_waiting, 1u) << "r3";
  EXPECT_EQ(e.reactive_arrivals[2].count, 1u);

  party("r1", "a1", kStart + 2 * kSecond, true);  // taken by an agent
  stop("r3", kStart + 3 * kSecond);               // stopped while waiting
  c = chat(kStart + 4 * kSecond);
  EXPECT_EQ(c.other_waiting, 1u) << "r2 still waits";
  EXPECT_EQ(c.reactive_arrivals[2].count, 2u) << "arrivals stay in the window";
  EXPECT_EQ(c.accepted[2].count, 0u) << "a reactive interaction taken is no proactive acceptance";
  e = email(kStart + 4 * kSecond);
  EXPECT_EQ(e.other_waiting, 0u);
  EXPECT_EQ(e.abandoned[2].count, 0u) << "nor is one stopped a proactive abandonment";
  EXPECT_EQ(chat(kStart + 2 * 60 * kSecond).reactive_arrivals[0].count, 0u) << "gone from the 1-minute window";
  EXPECT_EQ(chat(kStart + 16 * 60 * kSecond).reactive_arrivals[2].count, 0u) << "gone from every window";
}

// Chat capacity in use: a2 handles two chats at once (one busy agent, two busy slots).
TEST_F(PacingStatisticsTest, BusyCapacityCountsTheSlotsInUse) {
  login("a2", {{"chat", 3}}, kStart);
  ready("a2", "chat", true, kStart);
  submit("i1", "VQ Chat", kStart);
  submit("r1", "VQ Inbound", kStart, "chat", "Reactive");
  party("i1", "a2", kStart + kSecond, true);
  party("r1", "a2", kStart + kSecond, true);
  const TargetFigures c = chat(kStart + 2 * kSecond);
  EXPECT_EQ(c.agents.busy, 1u);
  EXPECT_EQ(c.agents.busy_capacity, 2u);
  EXPECT_EQ(c.agents.free_capacity, 1u);
}

TEST_F(PacingStatisticsTest, AReadyAgentInDoNotDisturbIsNotReady) {
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  proto::EventDoNotDisturbOnT dnd;
  dnd.agent_id = "a1";
  feed(std::move(dnd), kStart);
  EXPECT_EQ(chat(kStart).agents.ready, 0u);
  EXPECT_EQ(chat(kStart).agents.not_ready, 1u);
  proto::EventAgentLogoutT logout;
  logout.agent_id = "a1";
  feed(std::move(logout), kStart);
  EXPECT_EQ(chat(kStart).agents.logged_in, 0u);
}

TEST_F(PacingStatisticsTest, APairsSnapshotReplacesItsInteractionsAndItsOlderEventsAreNotCountedAgain) {
  // The stream so far (pair 0): i1 and i2 waiting, i3 on pair 1 waiting.
  submit("i1", "VQ Chat", kStart);
  submit("i2", "VQ Chat", kStart);
  submit("i3", "VQ Chat", kStart, "chat", "Proactive", 1);
  const uint64_t snapshot_seq = seq_[0] + 1;  // the snapshot also covers the next event (i1 accepted)
  // The pair's current state at snapshot_seq: i1 handled, i2 gone (stopped before), i4 waiting.
  std::vector<proto::InteractionInfoT> open;
  open.push_back(info("i1", "VQ Chat"));
  open.back().state = proto::InteractionState::Handling;
  open.back().submitted_at_us = kStart;
  open.push_back(info("i4", "VQ Chat"));
  open.back().submitted_at_us = kStart + kSecond;
  stats_->seed_pair(0, snapshot_seq, open, kStart + 5 * kSecond);

  party("i1", "a1", kStart + 3 * kSecond, true);  // seq == snapshot_seq: already in the snapshot
  EXPECT_EQ(stats_->events_skipped(), 1u);
  TargetFigures f = chat(kStart + 5 * kSecond);
  EXPECT_EQ(f.waiting, 2u) << "i4 from the snapshot and i3 from the other pair";
  EXPECT_EQ(f.handling, 1u);
  EXPECT_EQ(f.accepted[0].count, 0u) << "an acceptance before the snapshot is not counted again";

  stop("i4", kStart + 6 * kSecond);  // after the snapshot: counted
  f = chat(kStart + 6 * kSecond);
  EXPECT_EQ(f.abandoned[0].count, 1u);
  EXPECT_DOUBLE_EQ(f.abandoned[0].wait_seconds, 5.0);
  EXPECT_EQ(f.waiting, 1u);
}

TEST_F(PacingStatisticsTest, AFailoverMidStreamReseedsThePairAndItsReplayedEventsAreNotCountedTwice) {
  // A recorded stream over two pairs. A second instance follows it until pair 0 fails over; the
  // proxy then rebuilds pair 0 from its current state and the new primary's stream resumes from
  // an older position, so some of pair 0's events arrive a second time. The figures must end up
  // exactly as for the instance that saw the stream once.
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  struct Open {
    size_t pair;
    bool handling;
  };
  std::map<std::string, Open> open;  // the truth, kept beside the stream
  size_t failover_at = 0;
  uint64_t failover_seq = 0;
  std::vector<proto::InteractionInfoT> pair0_state;
  for (int i = 0; i < 60; ++i) {
    const std::string id = "i" + std::to_string(i);
    const size_t pair = static_cast<size_t>(i % 2);
    const int64_t t = kStart + i * 4 * kSecond;
    submit(id, "VQ Chat", t, "chat", "Proactive", pair);
    open[id] = {pair, false};
    if (i % 3 == 0) {  // abandoned
      stop(id, t + 2 * kSecond, pair);
      open.erase(id);
    } else {  // accepted; every second one is handled until the next one ends with it
      party(id, "a1", t + kSecond, true, "chat", pair);
      open[id].handling = true;
      if (i % 3 == 2) {
        const std::string previous = "i" + std::to_string(i - 1);
        party(previous, "a1", t + 3 * kSecond, false, "chat", 1 - pair);
        party(id, "a1", t + 3 * kSecond, false, "chat", pair);
        open.erase(previous);
        open.erase(id);
      }
    }
    if (i == 34) {  // pair 0's state at this point, as its snapshot would show it
      failover_at = recorded_.size();
      failover_seq = seq_[0];
      for (const auto& [oid, o] : open) {
        if (o.pair != 0) continue;
        pair0_state.push_back(info(oid, "VQ Chat"));
        pair0_state.back().submitted_at_us = kStart + std::stoi(oid.substr(1)) * 4 * kSecond;
        if (o.handling) pair0_state.back().state = proto::InteractionState::Handling;
      }
    }
  }
  const int64_t end = kStart + 300 * kSecond;
  const TargetFigures once = chat(end);
  EXPECT_EQ(once.waiting, 0u);
  EXPECT_EQ(once.handling, 0u);
  EXPECT_EQ(once.abandoned[2].count, 20u);
  EXPECT_EQ(once.accepted[2].count, 40u);

  PacingStatistics second(*config_);
  for (size_t k = 0; k < failover_at; ++k) apply(second, recorded_[k]);
  second.seed_pair(0, failover_seq, pair0_state, kStart + 137 * kSecond);
  for (size_t k = failover_at / 2; k < failover_at; ++k) {  // pair 0's stream resumes from older events
    if (recorded_[k].pair == 0) apply(second, recorded_[k]);
  }
  for (size_t k = failover_at; k < recorded_.size(); ++k) apply(second, recorded_[k]);
  EXPECT_GT(second.events_skipped(), 0u);
  const TargetFigures twice = second.figures(0, end);
  EXPECT_EQ(twice.waiting, once.waiting);
  EXPECT_EQ(twice.handling, once.handling);
  for (size_t w = 0; w < kWindowsUs.size(); ++w) {
    EXPECT_EQ(twice.accepted[w].count, once.accepted[w].count) << kWindowNames[w];
    EXPECT_EQ(twice.abandoned[w].count, once.abandoned[w].count) << kWindowNames[w];
    EXPECT_DOUBLE_EQ(twice.abandoned[w].wait_seconds, once.abandoned[w].wait_seconds) << kWindowNames[w];
  }
}

TEST_F(PacingStatisticsTest, APairsStateInTheFeedSeedsItsInteractionsAndAgents) {
  submit("old", "VQ Chat", kStart);  // known from the stream before the state arrives
  proto::EventReportingStateT state;
  state.node_id = "pair-1";
  state.seq = seq_[0] + 2;  // the state already reflects the next two events
  state.interactions.push_back(std::make_unique<proto::InteractionInfoT>(info("w1", "VQ Chat")));
  state.interactions.back()->submitted_at_us = kStart;
  state.interactions.push_back(std::make_unique<proto::InteractionInfoT>(info("r1", "VQ Inbound", "chat", "Reactive")));
  state.interactions.back()->submitted_at_us = kStart;
  state.interactions.push_back(std::make_unique<proto::InteractionInfoT>(info("h1", "VQ Chat")));
  state.interactions.back()->state = proto::InteractionState::Handling;
  state.interactions.back()->submitted_at_us = kStart;
  auto agent = std::make_unique<proto::EventAgentStatusT>();
  agent->tenant_id = "101";
  agent->agent_id = "a1";
  agent->logged_in = true;
  auto media = std::make_unique<proto::MediaStateT>();
  media->media_type = "chat";
  media->capacity = 2;
  media->ready = true;
  media->interactions = 1;
  agent->media.push_back(std::move(media));
  state.agents.push_back(std::move(agent));
  recorded_.push_back({0, wire::encode_frame(0, 0, state)});
  apply(*stats_, recorded_.back());

  stop("old", kStart + kSecond);           // covered by the state: skipped
  party("h1", "a1", kStart + kSecond, true);  // covered by the state: skipped
  submit("w2", "VQ Chat", kStart + 2 * kSecond);  // after the state: counted
  EXPECT_EQ(stats_->events_skipped(), 2u);
  TargetFigures f = chat(kStart + 3 * kSecond);
  EXPECT_EQ(f.waiting, 2u) << "w1 from the state and w2 from the stream; \"old\" is gone with the state";
  EXPECT_EQ(f.handling, 1u);
  EXPECT_EQ(f.abandoned[0].count, 0u);
  EXPECT_EQ(f.other_waiting, 1u) << "r1, a reactive interaction waiting in the state";
  EXPECT_EQ(f.reactive_arrivals[2].count, 0u) << "it arrived before the state: not an arrival now";
  EXPECT_EQ(f.agents.ready, 1u);
  EXPECT_EQ(f.agents.busy, 1u);
  EXPECT_EQ(f.agents.free_capacity, 1u);
}

}  // namespace
}  // namespace ix::pacing
