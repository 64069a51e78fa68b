// The proxy's merged reporting stream: every pair's events in one stream, each agent action
// once, no gap or duplicate across a pair's failover, a slow client cut off while the others
// carry on.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "protocol/wire/kv.h"
#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

class ProxyReporting : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    start_cluster();
  }

  std::unique_ptr<ProtocolClient> reporting_client() {
    auto c = proxy_client(0, proto::ClientType::ReportingEngine);
    EnvelopePtr ack = c->call(proto::RequestStartReportingT{});
    EXPECT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
    return c;
  }

  static const proto::ReportingHeaderT* header(const EnvelopePtr& e) {
    switch (e->body.type) {
#define IX_HEADER(Name) \
  case proto::Message::Name: return e->body.As##Name()->header.get();
      IX_HEADER(EventInteractionSubmitted)
      IX_HEADER(EventPlacedInQueue)
      IX_HEADER(EventAgentLogin)
      IX_HEADER(EventAgentLogout)
      IX_HEADER(EventAgentReady)
#undef IX_HEADER
      default: return nullptr;
    }
  }

  static std::map<proto::Message, int> count_by_type(const std::vector<EnvelopePtr>& events) {
    std::map<proto::Message, int> out;
    for (const EnvelopePtr& e : events) ++out[e->body.type];
    return out;
  }
};

TEST_F(ProxyReporting, EveryPairsEventsInOneStreamAndEachAgentActionOnce) {
  auto stats = reporting_client();
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::set<std::string> submitted;
  for (int i = 0; i < 4; ++i) submitted.insert(media->call(chat_submit())->body.AsEventSubmitted()->interaction_id);

  // 1 login + 1 ready (each reported by both pairs) + 4 × (submitted + placed in queue).
  ASSERT_TRUE(stats->wait_for_events(10));
  loop_.run_for(300);  // anything extra would show up now
  stats->wait_for_events(0);
  auto counts = count_by_type(stats->events);
  EXPECT_EQ(counts[proto::Message::EventAgentLogin], 1);
  EXPECT_EQ(counts[proto::Message::EventAgentReady], 1);
  EXPECT_EQ(counts[proto::Message::EventInteractionSubmitted], 4);
  EXPECT_EQ(counts[proto::Message::EventPlacedInQueue], 4);
  EXPECT_EQ(stats->events.size(), 10u);
  std::set<std::string> reported, nodes;
  std::map<std::string, uint64_t> last_seq;
  for (const EnvelopePtr& e : stats->events) {
    const proto::ReportingHeaderT* h = header(e);
    ASSERT_NE(h, nullptr) << proto::EnumNameMessage(e->body.type);
    EXPECT_GT(h->seq, last_seq[h->node_id]) << "per-node order kept";
    last_seq[h->node_id] = h->seq;
    nodes.insert(h->node_id);
    if (auto* s = e->body.AsEventInteractionSubmitted()) reported.insert(s->interaction->interaction_id);
  }
  EXPECT_EQ(reported, submitted);
  EXPECT_EQ(nodes, (std::set<std::string>{"pair-1", "pair-2"}));
}

TEST_F(ProxyReporting, OneSubscriptionPerProxyFeedsTheClientsOfEveryWorker) {
  // proxy-1 runs two workers; the kernel spreads connections over them. Open clients until
  // both workers have one.
  std::vector<std::unique_ptr<ProtocolClient>> clients;
  auto workers_with_sessions = [&] {
    const nlohmann::json status = nlohmann::json::parse(proxy_status(0));
    int n = 0;
    for (const auto& w : status["workers"]) n += w.value("sessions", 0) > 0;
    return n;
  };
  while (clients.size() < 40 && (clients.size() < 2 || workers_with_sessions() < 2)) clients.push_back(reporting_client());
  ASSERT_EQ(workers_with_sessions(), 2) << "every connection went to one worker";

  // Every node streams to proxy-1 once, not once per worker.
  for (int pair = 0; pair < kPairs; ++pair) {
    const std::string metrics = http_get(loop_, node_ports_[pair][0].second, "/metrics").body();
    const std::string line = "\nix_node_reporting_subscribers{pair=\"pair-" + std::to_string(pair + 1) + "\",node=\"primary\"} 1\n";
    EXPECT_NE(metrics.find(line), std::string::npos) << "pair-" << pair + 1 << ":\n" << metrics;
  }
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  const std::string id = media->call(chat_submit())->body.AsEventSubmitted()->interaction_id;
  for (auto& c : clients) {
    ASSERT_TRUE(c->wait_for_events(2));
    loop_.run_for(50);
    ASSERT_EQ(c->events.size(), 2u);
    EXPECT_EQ(c->events[0]->body.AsEventInteractionSubmitted()->interaction->interaction_id, id);
    EXPECT_EQ(c->events[1]->body.AsEventPlacedInQueue()->interaction_id, id);
  }
}

TEST_F(ProxyReporting, APairsFailoverLeavesNoGapAndNoDuplicateInTheStream) {
  auto stats = reporting_client();
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::set<std::string> acknowledged;
  const uint64_t started = uv_now(loop_.get());
  bool killed = false;
  while (uv_now(loop_.get()) - started < 3000) {
    if (!killed && uv_now(loop_.get()) - started > 800) {
      nodes_[0][0]->kill(SIGKILL);
      killed = true;
    }
    std::vector<uint64_t> refs;
    for (int i = 0; i < 10; ++i) refs.push_back(media->send(chat_submit()));
    for (uint64_t ref : refs) {
      EnvelopePtr reply = media->wait_reply(ref, 10'000);
      ASSERT_NE(reply, nullptr);
      if (reply->body.AsEventSubmitted()) acknowledged.insert(reply->body.AsEventSubmitted()->interaction_id);
    }
    loop_.run_for(20);  // steady traffic, a few hundred submits a second
  }
  // Every acknowledged submit is reported exactly once; each pair's seqs are contiguous.
  std::map<std::string, int> submitted_events;
  size_t counted = 0;
  ASSERT_TRUE(loop_.run_until([&] {
    stats->wait_for_events(0, 10);
    for (; counted < stats->events.size(); ++counted) {
      if (auto* s = stats->events[counted]->body.AsEventInteractionSubmitted()) ++submitted_events[s->interaction->interaction_id];
    }
    return submitted_events.size() >= acknowledged.size();
  }, 15'000)) << submitted_events.size() << " of " << acknowledged.size() << " submits reported";
  for (const std::string& id : acknowledged) EXPECT_EQ(submitted_events[id], 1) << id;
  std::map<std::string, std::vector<uint64_t>> seqs;
  for (const EnvelopePtr& e : stats->events) seqs[header(e)->node_id].push_back(header(e)->seq);
  for (const auto& [node, list] : seqs) {
    for (size_t i = 1; i < list.size(); ++i) ASSERT_EQ(list[i], list[i - 1] + 1) << node << " at " << i;
  }
  EXPECT_GT(seqs["pair-1"].size(), 20u);
}

TEST_F(ProxyReporting, AClientThatReconnectsToAnotherProxyWithItsPositionGetsExactlyWhatItMissed) {
  start_proxy(1);
  auto reference = reporting_client();  // connected all along
  auto client = reporting_client();
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  auto submit_some = [&](int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(media->call(chat_submit())->body.AsEventSubmitted());
  };
  auto collected = [](ProtocolClient& c, size_t n) { return c.wait_for_events(n, 10'000); };

  submit_some(6);  // 12 events over both pairs
  ASSERT_TRUE(collected(*client, 12));
  std::map<std::string, uint64_t> position;
  std::vector<std::pair<std::string, uint64_t>> seen;
  for (const EnvelopePtr& e : client->events) {
    position[header(e)->node_id] = header(e)->seq;
    seen.emplace_back(header(e)->node_id, header(e)->seq);
  }
  client->close();

  submit_some(5);  // missed while away
  auto again = proxy_client(1, proto::ClientType::ReportingEngine);
  proto::RequestStartReportingT resume;
  for (const auto& [node, seq] : position) {
    auto p = std::make_unique<proto::ResumePositionT>();
    p->node_id = node;
    p->seq = seq;
    resume.resume.push_back(std::move(p));
  }
  EnvelopePtr ack = again->call(resume);
  ASSERT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
  submit_some(4);  // and live again

  ASSERT_TRUE(collected(*reference, 30));
  ASSERT_TRUE(collected(*again, 18));
  loop_.run_for(200);
  again->wait_for_events(0);
  for (const EnvelopePtr& e : again->events) seen.emplace_back(header(e)->node_id, header(e)->seq);
  std::vector<std::pair<std::string, uint64_t>> expected;
  for (const EnvelopePtr& e : reference->events) expected.emplace_back(header(e)->node_id, header(e)->seq);
  auto by_node = [](std::vector<std::pair<std::string, uint64_t>> v) {
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return v;
  };
  EXPECT_EQ(by_node(seen), by_node(expected)) << "every event once, nothing missing, per pair in order";

  // A position ahead of a pair's log is refused with the node's reason.
  auto bogus = proxy_client(1, proto::ClientType::ReportingEngine);
  proto::RequestStartReportingT ahead;
  auto p = std::make_unique<proto::ResumePositionT>();
  p->node_id = "pair-1";
  p->seq = 1'000'000;
  ahead.resume.push_back(std::move(p));
  EnvelopePtr refused = bogus->call(ahead);
  EXPECT_EQ(error_code(refused), static_cast<int>(proto::ErrorCode::InvalidAttribute)) << error_text(refused);
  EXPECT_NE(error_text(refused).find("ahead of the event log"), std::string::npos) << error_text(refused);
}

TEST_F(ProxyReporting, ASlowClientIsCutOffWithAReasonWhileOthersCarryOn) {
  auto fast = reporting_client();
  FrameClient slow(connect_to(loop_.get(), proxy_ports_[0].first));
  slow.send(wire::encode_register_client(1, proto::ClientType::ReportingEngine, "slow", {}));
  slow.send(wire::encode_frame(2, 0, proto::RequestStartReportingT{}));
  ASSERT_TRUE(loop_.run_until([&] { return slow.received.size() >= 2; }, 5000));
  slow.connection().pause_reading();

  // Big events fill the socket buffers, then the proxy's bound (100 events' worth).
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  proto::RequestSubmitT big = chat_submit();
  big.user_data = wire::kv_list({{"Transcript", std::string(16 * 1024, 'x')}});
  int sent = 0;
  while (proxy_metrics(0).find("ix_proxy_reporting_clients_dropped_total 1") == std::string::npos) {
    ASSERT_EQ(proxy_metrics(0).find("ix_proxy_reporting_clients_dropped_total 2"), std::string::npos) << "the fast client was cut off";
    ASSERT_LT(sent, 3000) << "the slow client was never cut off";
    std::vector<uint64_t> refs;
    for (int i = 0; i < 50; ++i, ++sent) refs.push_back(media->send(big));
    for (uint64_t ref : refs) ASSERT_TRUE(media->wait_reply(ref));
  }
  // The slow client, reading again, finds the reason at the end of what was queued for it.
  slow.connection().resume_reading();
  ASSERT_TRUE(loop_.run_until([&] { return slow.closed; }, 10'000));
  bool told = false;
  for (const auto& e : slow.received) {
    if (e && e->body.AsEventError() && e->body.AsEventError()->text.find("too slow") != std::string::npos) told = true;
  }
  EXPECT_TRUE(told) << "no 'too slow' error before the close";
  // The fast client got every submit.
  int reported = 0;
  size_t counted = 0;
  EXPECT_TRUE(loop_.run_until([&] {
    fast->wait_for_events(0, 10);
    for (; counted < fast->events.size(); ++counted) reported += fast->events[counted]->body.AsEventInteractionSubmitted() != nullptr;
    return reported == sent;
  }, 20'000)) << reported << " of " << sent;
}

}  // namespace
}  // namespace ix::test
