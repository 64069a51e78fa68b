// A planned switchover as an operator runs it: `ixctl pair switchover pair-1`, there and back,
// while a client keeps submitting through a proxy (the cluster of tests/proxy/cluster_fixture.h:
// real ixnode pairs on SQLite with lease-timeout 1 s, a real ixproxy). Email is served by pair-1
// alone, so every submit (500/s) goes through the pair being switched. No submit is refused (the
// proxy holds the pair's requests while it hands over), and every acknowledged one is on the
// pair afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>

#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

using proto::ClientType;

class SwitchoverTest : public ClusterFixture {
 protected:
  // Keeps `in_flight` email submits outstanding through proxy-1 and tallies the answers.
  struct Stream {
    explicit Stream(TestLoop& loop, uint16_t port) : client(connect_to(loop.get(), port)) {}
    // The connection outlives this object (until the loop closes it): silence it first.
    ~Stream() {
      client.connection().clear_callbacks();
      client.connection().close("test done");
    }
    void pump() {
      for (; seen < client.received.size(); ++seen) {
        const auto& e = client.received[seen];
        if (!e || e->ref_id == 1 || e->ref_id == 0) continue;  // registration, events
        ++answered;
        if (e->body.AsEventSubmitted()) acknowledged.push_back(e->body.AsEventSubmitted()->interaction_id);
        else if (e->body.AsEventError()) ++errors[e->body.AsEventError()->code];
      }
      // Open loop: one submit every 2 ms (500/s), whatever the answers.
      const uint64_t now = uv_hrtime() / 1'000'000;
      if (next_at == 0) next_at = now;
      for (; sending && next_at <= now; next_at += 2) client.send(wire::encode_frame(next_ref++, 0, chat_submit("email")));
    }
    uint64_t sent() const { return next_ref - 2; }
    FrameClient client;
    size_t seen = 0;
    uint64_t next_ref = 2;
    uint64_t answered = 0;
    bool sending = true;
    uint64_t next_at = 0;  // ms, monotonic
    std::vector<std::string> acknowledged;
    std::map<int, int> errors;  // by code
  };

  // Runs the stream for `ms`.
  void stream_for(Stream& s, uint64_t ms) {
    const uint64_t until = uv_now(loop_.get()) + ms;
    while (uv_now(loop_.get()) < until) {
      s.pump();
      loop_.run_for(2);
    }
  }

  // `ixctl pair switchover pair-1`, with the stream running meanwhile; its exit status.
  int switchover(Stream& s, int n) {
    Process ixctl({IX_IXCTL, "pair", "switchover", "pair-1", "--config", (dir_ / "cluster.toml").string()},
                  (dir_ / ("ixctl-" + std::to_string(n) + ".log")).string());
    EXPECT_TRUE(ixctl.start());
    const uint64_t until = uv_now(loop_.get()) + 20'000;
    while (ixctl.running() && uv_now(loop_.get()) < until) {
      s.pump();
      loop_.run_for(2);
    }
    const int status = ixctl.wait_for_exit(std::chrono::milliseconds(0));
    std::cout << ixctl.log();
    return status;
  }
};

TEST_F(SwitchoverTest, SwitchoverThereAndBackUnderAStreamOfSubmitsThroughAProxy) {
  start_cluster();
  Stream s(loop_, proxy_ports_[0].first);
  ASSERT_TRUE(loop_.run_until([&] { return s.client.opened; }));
  s.client.send(wire::encode_register_client(1, ClientType::MediaServer, "stream", {}));
  stream_for(s, 300);
  ASSERT_GT(s.acknowledged.size(), 0u) << "the stream flows before the switchover";

  EXPECT_EQ(switchover(s, 1), 0) << "to the backup";
  stream_for(s, 300);
  EXPECT_EQ(switchover(s, 2), 0) << "and back";
  stream_for(s, 300);
  s.sending = false;
  ASSERT_TRUE(loop_.run_until([&] {
    s.pump();
    return s.answered == s.sent();
  }, 10'000)) << "every submit is answered";

  int failed = 0;
  for (const auto& [code, n] : s.errors) failed += n;
  std::cout << "submits through the proxy across two switchovers: " << s.sent() << " sent, " << s.acknowledged.size()
            << " acknowledged, " << failed << " refused";
  for (const auto& [code, n] : s.errors) std::cout << " (" << n << " x " << code << ")";
  std::cout << "\n";
  // The old primary says it hands over before it drains; the proxy holds the pair's requests
  // until the backup announces itself and sends them there; what reached the old primary before
  // the proxy heard it is served there. A rolling upgrade costs the clients no refusal.
  EXPECT_EQ(failed, 0) << "a planned switchover refused submits";
  EXPECT_EQ(s.acknowledged.size(), s.sent());

  // Every acknowledged submit is on pair-1, which serves from its preferred primary again.
  auto node = node_client(0, ClientType::MediaServer);
  ASSERT_NE(node, nullptr);
  for (const std::string& id : s.acknowledged) {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id;
    EnvelopePtr reply = node->call(get);
    ASSERT_NE(reply, nullptr);
    ASSERT_NE(reply->body.AsEventProperties(), nullptr) << "acknowledged " << id << " is missing";
  }
}

}  // namespace
}  // namespace ix::test
