// The pacing statistics from a scripted reporting stream: which interactions count for a target,
// waiting/accepted/abandoned with their waits, handling times, agents per target (blended agents
// in each target of their media), windows that forget, and a pair's snapshot replacing what the
// stream said without counting an event twice.
#include "proxy/pacing/pacing_statistics.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster-config/loader.h"
#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"

namespace ix::pacing {
namespace {

const char* kConfig = R"(
[[tenants]]
id = "101"
[[media-types]]
name = "chat"
[[media-types]]
name = "email"
[[node-pairs]]
id = "pair-1"
tag = "p1"
tenants = ["101"]
[node-pairs.primary]
host = "127.0.0.1"
port = 7101
admin-port = 9101
[node-pairs.backup]
host = "127.0.0.1"
port = 7102
admin-port = 9102
[node-pairs.storage]
sqlite-path = "p1.db"
[[agents]]
id = "a1"
tenant = "101"
[[agents]]
id = "a2"
tenant = "101"
[[agents]]
id = "a3"
tenant = "101"
[[virtual-queues]]
id = "VQ Chat"
tenant = "101"
[virtual-queues.pacing]
media = "chat"
[[virtual-queues]]
id = "VQ Email"
tenant = "101"
[virtual-queues.pacing]
media = "email"
optimizationGoal = 5
[[agent-groups]]
id = "Chat"
tenant = "101"
agents = ["a1", "a2"]
origination-dns = ["VQ Chat"]
[[agent-groups]]
id = "Blended"
tenant = "101"
agents = ["a2", "a3"]
origination-dns = ["VQ Chat", "VQ Email"]
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
[pacing.endpoint]
base-urls = ["https://engage.example/api/"]
)";

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

class PacingStatisticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::LoadResult loaded = config::load_config_text(kConfig, "pacing.toml", "/tmp");
    ASSERT_TRUE(loaded.ok()) << loaded.error_text();
    config_ = loaded.config;
    stats_ = std::make_unique<PacingStatistics>(*config_);
  }

  template <class Event>
  void feed(Event event, int64_t at_us, size_t pair = 0, std::string media = "") {
    event.header = std::make_unique<proto::ReportingHeaderT>();
    event.header->node_id = "pair-" + std::to_string(pair + 1);
    event.header->seq = ++seq_[pair];
    event.header->timestamp_us = at_us;
    event.header->tenant_id = "101";
    event.header->media_type = std::move(media);
    recorded_.push_back({pair, wire::encode_frame(0, 0, event)});
    apply(*stats_, recorded_.back());
  }

  struct Recorded {
    size_t pair;
    wire::Frame frame;
  };
  static void apply(PacingStatistics& stats, const Recorded& r) {
    std::span<const uint8_t> payload(r.frame.data() + wire::kFrameHeaderSize, r.frame.size() - wire::kFrameHeaderSize);
    Result<const proto::Envelope*> envelope = wire::verify_envelope(payload);
    ASSERT_TRUE(envelope.ok());
    stats.on_event(r.pair, **envelope);
  }

  static proto::InteractionInfoT info(const std::string& id, const std::string& vq, const std::string& media = "chat",
                                      const std::string& subtype = "Proactive") {
    proto::InteractionInfoT i;
    i.interaction_id = id;
    i.tenant_id = "101";
    i.media_type = media;
    i.interaction_type = "Inbound";
    i.interaction_subtype = subtype;
    i.queue = "inbound";
    i.state = proto::InteractionState::Queued;
    i.user_data = wire::kv_list({{"VirtualQueue", vq}});
    return i;
  }

  void submit(const std::string& id, const std::string& vq, int64_t at, const std::string& media = "chat",
              const std::string& subtype = "Proactive", size_t pair = 0) {
    proto::EventInteractionSubmittedT e;
    e.interaction = std::make_unique<proto::InteractionInfoT>(info(id, vq, media, subtype));
    e.interaction->submitted_at_us = at;
    feed(std::move(e), at, pair, media);
  }
  void party(const std::string& id, const std::string& agent, int64_t at, bool added, const std::string& media = "chat",
             size_t pair = 0) {
    if (added) {
      proto::EventPartyAddedT e;
      e.interaction_id = id;
      e.agent_id = agent;
      feed(std::move(e), at, pair, media);
    } else {
      proto::EventPartyRemovedT e;
      e.interaction_id = id;
      e.agent_id = agent;
      feed(std::move(e), at, pair, media);
    }
  }
  void stop(const std::string& id, int64_t at, size_t pair = 0) {
    proto::EventProcessingStoppedT e;
    e.interaction_id = id;
    feed(std::move(e), at, pair);
  }
  void login(const std::string& agent, std::vector<std::pair<std::string, int>> media, int64_t at) {
    proto::EventAgentLoginT e;
    e.agent_id = agent;
    for (auto& [name, capacity] : media) {
      auto m = std::make_unique<proto::MediaCapacityT>();
      m->media_type = name;
      m->capacity = capacity;
      e.media.push_back(std::move(m));
    }
    feed(std::move(e), at);
  }
  void ready(const std::string& agent, const std::string& media, bool is_ready, int64_t at) {
    if (is_ready) {
      proto::EventAgentReadyT e;
      e.agent_id = agent;
      e.media_type = media;
      feed(std::move(e), at);
    } else {
      proto::EventAgentNotReadyT e;
      e.agent_id = agent;
      e.media_type = media;
      feed(std::move(e), at);
    }
  }

  TargetFigures chat(int64_t now) { return stats_->figures(0, now); }
  TargetFigures email(int64_t now) { return stats_->figures(1, now); }

  std::shared_ptr<const config::ClusterConfig> config_;
  std::unique_ptr<PacingStatistics> stats_;
  std::map<size_t, uint64_t> seq_;
  std::vector<Recorded> recorded_;
};

TEST_F(PacingStatisticsTest, TargetsComeFromTheConfiguration) {
  ASSERT_EQ(stats_->target_count(), 2u);
  EXPECT_EQ(chat(kStart).name, "VQ Chat - chat");
  EXPECT_EQ(email(kStart).goal_percent, 5.0);
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

}  // namespace
}  // namespace ix::pacing
