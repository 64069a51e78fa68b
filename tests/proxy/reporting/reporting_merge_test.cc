// The merged reporting stream's ordering and de-duplication, with scripted and random streams.
#include "proxy/reporting/reporting_merge.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "protocol/wire/messages.h"
#include "proxy/reporting/agent_event_dedupe.h"

namespace ix::proxy {
namespace {

MergedEvent event(size_t node, uint64_t seq, int64_t ts) { return MergedEvent{node, seq, ts, nullptr}; }

TEST(ReportingMerge, RandomPerNodeStreamsComeOutSortedByTimeWithEveryNodesOrderKept) {
  // Property: however the nodes' events interleave on arrival, once every node is past them the
  // merged stream is the sort by (time, node) and each node's seq order is intact.
  std::mt19937 random(7);
  for (int round = 0; round < 300; ++round) {
    const size_t nodes = 1 + random() % 4;
    std::vector<std::vector<MergedEvent>> streams(nodes);
    std::vector<MergedEvent> all;
    for (size_t n = 0; n < nodes; ++n) {
      int64_t ts = static_cast<int64_t>(random() % 5);
      const size_t count = random() % 15;
      for (uint64_t seq = 1; seq <= count; ++seq) {
        ts += static_cast<int64_t>(random() % 3);  // non-decreasing, with ties
        streams[n].push_back(event(n, seq, ts));
        all.push_back(event(n, seq, ts));
      }
    }
    ReportingMerge merge(nodes, 1'000'000);
    std::vector<MergedEvent> out;
    std::vector<size_t> next(nodes, 0);
    for (size_t left = all.size(); left > 0; --left) {
      size_t n;
      do n = random() % nodes; while (next[n] == streams[n].size());
      ASSERT_TRUE(merge.push(streams[n][next[n]++]));
      for (MergedEvent& e : merge.release(0)) out.push_back(std::move(e));
    }
    for (MergedEvent& e : merge.release(INT64_MAX / 2)) out.push_back(std::move(e));  // the end: everything goes
    std::stable_sort(all.begin(), all.end(), [](const MergedEvent& a, const MergedEvent& b) {
      return a.timestamp_us != b.timestamp_us ? a.timestamp_us < b.timestamp_us : a.node < b.node;
    });
    ASSERT_EQ(out.size(), all.size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].node, all[i].node) << "round " << round << " at " << i;
      EXPECT_EQ(out[i].seq, all[i].seq) << "round " << round << " at " << i;
    }
    for (size_t n = 0; n < nodes; ++n) EXPECT_EQ(merge.released_seq(n), streams[n].size());
  }
}

TEST(ReportingMerge, ASilentNodeHoldsTheStreamAtMostMaxDelay) {
  ReportingMerge merge(2, 50'000);
  merge.push(event(0, 1, 1'000'000));
  merge.push(event(0, 2, 1'010'000));
  EXPECT_TRUE(merge.release(1'020'000).empty());  // node 1 might still have something earlier
  auto out = merge.release(1'050'000);             // the first has waited 50 ms
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].seq, 1u);
  // Node 1 speaks, later than everything waiting: node 0's event is safe at once.
  merge.push(event(1, 1, 1'020'000));
  out = merge.release(1'051'000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].node, 0u);
  EXPECT_EQ(merge.waiting(), 1u);
}

TEST(ReportingMerge, ARemovedPairsNodeNoLongerHoldsTheStreamAndAnAddedOneJoins) {
  ReportingMerge merge(2, 1'000'000);
  ASSERT_TRUE(merge.push(event(0, 1, 10)));
  ASSERT_TRUE(merge.push(event(1, 1, 20)));
  EXPECT_EQ(merge.release(30).size(), 1u);  // node 1's event waits for node 0 to pass 20
  // A reload removes node 0's pair and adds a third: node 1's event goes at once, then the new
  // node holds the stream like any silent node until it shows an event.
  merge.resize(3);
  merge.set_retired(0, true);
  ASSERT_TRUE(merge.push(event(1, 2, 40)));
  std::vector<MergedEvent> out = merge.release(45);
  EXPECT_TRUE(out.empty()) << "the added node has shown nothing yet";
  ASSERT_TRUE(merge.push(event(2, 1, 50)));
  out = merge.release(55);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].node, 1u);
  EXPECT_EQ(out[0].seq, 1u);
  EXPECT_EQ(out[1].seq, 2u);
  // A retired node's positions stay for its return.
  EXPECT_EQ(merge.released_seq(0), 1u);
  merge.set_retired(0, false);
  EXPECT_FALSE(merge.push(event(0, 1, 60))) << "what it had sent is not taken twice";
}

TEST(ReportingMerge, DropsWhatANodeAlreadySent) {
  ReportingMerge merge(1, 0);
  EXPECT_TRUE(merge.push(event(0, 5, 1)));
  EXPECT_FALSE(merge.push(event(0, 5, 1)));  // replayed after a reconnect
  EXPECT_FALSE(merge.push(event(0, 4, 1)));
  EXPECT_TRUE(merge.push(event(0, 6, 2)));
  EXPECT_EQ(merge.release(10).size(), 2u);
  EXPECT_EQ(merge.released_seq(0), 6u);
}

proto::EnvelopeT agent_event(proto::Message type, const std::string& agent, const std::string& media) {
  proto::EnvelopeT e;
  auto header = std::make_unique<proto::ReportingHeaderT>();
  header->node_id = "pair-1";
  header->tenant_id = "101";
  if (type == proto::Message::EventAgentReady) {
    proto::EventAgentReadyT ready;
    ready.header = std::move(header);
    ready.agent_id = agent;
    ready.media_type = media;
    e.body.Set(std::move(ready));
  } else {
    proto::EventAgentLoginT login;
    login.header = std::move(header);
    login.agent_id = agent;
    e.body.Set(std::move(login));
  }
  return e;
}

std::optional<std::string> key_of(const proto::EnvelopeT& native) {
  wire::Frame frame = wire::encode_envelope(native);
  std::vector<uint8_t> payload(frame.begin() + wire::kFrameHeaderSize, frame.end());
  return agent_event_key(*proto::GetEnvelope(payload.data()));
}

TEST(AgentEventDedupe, OneLogicalChangeOneEvent) {
  const std::string ready = *key_of(agent_event(proto::Message::EventAgentReady, "a1", "chat"));
  EXPECT_EQ(ready, "EventAgentReady|101|a1|chat");
  EXPECT_NE(ready, *key_of(agent_event(proto::Message::EventAgentReady, "a1", "email")));
  EXPECT_NE(ready, *key_of(agent_event(proto::Message::EventAgentLogin, "a1", "")));
  proto::EnvelopeT not_agent;
  not_agent.body.Set(proto::EventAckT{});
  EXPECT_FALSE(key_of(not_agent));

  AgentEventDedupe dedupe(5'000'000);
  EXPECT_TRUE(dedupe.pass(ready, 0, 3, 0));
  EXPECT_FALSE(dedupe.pass(ready, 2, 3, 10));
  EXPECT_FALSE(dedupe.pass(ready, 1, 3, 20));
  EXPECT_EQ(dedupe.pending(), 0u);  // every pair reported it
  // The agent gets ready again later: a new change.
  EXPECT_TRUE(dedupe.pass(ready, 1, 3, 30));
  // The same node reporting the key again is a new change, not a copy.
  EXPECT_TRUE(dedupe.pass(ready, 1, 3, 40));
  // A pair that never reports: the entry goes after the window, the next change passes.
  EXPECT_FALSE(dedupe.pass(ready, 0, 3, 50));
  EXPECT_TRUE(dedupe.pass(ready, 0, 3, 6'000'000));
  // A tenant served by one pair: nothing to remember.
  AgentEventDedupe single(5'000'000);
  EXPECT_TRUE(single.pass(ready, 0, 1, 0));
  EXPECT_TRUE(single.pass(ready, 0, 1, 1));
  EXPECT_EQ(single.pending(), 0u);
}

}  // namespace
}  // namespace ix::proxy
