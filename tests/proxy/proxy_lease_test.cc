// Named leases in a running cluster: pair-1 (a real ixnode primary and backup sharing a SQLite
// database) holds them, two real ixproxy processes route RequestLease to it. Two holders race
// through different proxies and exactly one wins; the holder's expiry lets the other in with the
// next fencing number; SIGKILL of the pair's primary keeps the lease (the backup answers the
// same holder and fencing); release hands the lease over at once. And ProxyServer::lease_call(),
// the pacing module's way in, run in process against the same pair.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "cluster-config/loader.h"
#include "proxy/server/proxy_server.h"
#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

int code(proto::ErrorCode c) { return static_cast<int>(c); }

class ProxyLeaseTest : public ClusterFixture {
 protected:
  // pair-1 and both proxies; pair-2 stays down (it holds no lease).
  void start_lease_cluster() {
    start_pair(0);
    start_proxy(0);
    start_proxy(1);
  }

  static proto::RequestLeaseT lease(proto::LeaseOperation op, const std::string& holder, uint32_t ttl_ms) {
    proto::RequestLeaseT r;
    r.name = "pacing-master";
    r.holder = holder;
    r.operation = op;
    r.ttl_ms = ttl_ms;
    return r;
  }

  // Asks until the pair gives a definite answer (EventLease), while a failover may answer 2002
  // or NotPrimary for a moment; null after the timeout.
  std::unique_ptr<proto::EventLeaseT> definite(ProtocolClient& client, const proto::RequestLeaseT& r, uint64_t timeout_ms = 15'000) {
    const auto deadline = uv_now(loop_.get()) + timeout_ms;
    while (uv_now(loop_.get()) < deadline) {
      EnvelopePtr reply = client.call(r);
      if (reply && reply->body.AsEventLease()) return std::make_unique<proto::EventLeaseT>(*reply->body.AsEventLease());
      last_error_ = error_text(reply);
      loop_.run_for(50);
    }
    return nullptr;
  }

  std::string last_error_;
};

using Op = proto::LeaseOperation;

TEST_F(ProxyLeaseTest, TwoHoldersRaceExpiryFailoverAndRelease) {
  start_lease_cluster();
  auto a = proxy_client(0, proto::ClientType::RoutingEngine);
  auto b = proxy_client(1, proto::ClientType::MediaServer);

  // The race: both ask at once, through different proxies.
  constexpr uint32_t kShortTtl = 1500;
  const uint64_t ref_a = a->send(lease(Op::Acquire, "holder-a", kShortTtl));
  const uint64_t ref_b = b->send(lease(Op::Acquire, "holder-b", kShortTtl));
  EnvelopePtr got_a = a->wait_reply(ref_a);
  EnvelopePtr got_b = b->wait_reply(ref_b);
  ASSERT_TRUE(got_a && got_a->body.AsEventLease()) << error_text(got_a);
  ASSERT_TRUE(got_b && got_b->body.AsEventLease()) << error_text(got_b);
  const proto::EventLeaseT& la = *got_a->body.AsEventLease();
  const proto::EventLeaseT& lb = *got_b->body.AsEventLease();
  ASSERT_NE(la.granted, lb.granted) << "exactly one of the two wins";
  const std::string winner = la.granted ? "holder-a" : "holder-b";
  const std::string loser = la.granted ? "holder-b" : "holder-a";
  ProtocolClient& winner_client = la.granted ? *a : *b;
  ProtocolClient& loser_client = la.granted ? *b : *a;
  EXPECT_EQ(la.holder, winner);
  EXPECT_EQ(lb.holder, winner) << "the loser is told who holds it";
  EXPECT_EQ(la.fencing, 1u);
  EXPECT_EQ(lb.fencing, 1u);
  const uint64_t granted_at = uv_now(loop_.get());

  // The winner does not renew: once its time is up the loser gets the lease, with fencing 2.
  std::unique_ptr<proto::EventLeaseT> takeover;
  while (uv_now(loop_.get()) < granted_at + 10'000) {
    takeover = definite(loser_client, lease(Op::Acquire, loser, 30'000));
    ASSERT_TRUE(takeover) << last_error_;
    if (takeover->granted) break;
    EXPECT_EQ(takeover->holder, winner);
    loop_.run_for(100);
  }
  ASSERT_TRUE(takeover && takeover->granted) << "the expired lease never passed on";
  EXPECT_GE(uv_now(loop_.get()) - granted_at, kShortTtl - 100) << "not before the holder's time was up";
  EXPECT_EQ(takeover->holder, loser);
  EXPECT_EQ(takeover->fencing, 2u);
  RecordProperty("takeover_after_grant_ms", std::to_string(uv_now(loop_.get()) - granted_at));
  std::unique_ptr<proto::EventLeaseT> stale = definite(winner_client, lease(Op::Renew, winner, kShortTtl));
  ASSERT_TRUE(stale);
  EXPECT_FALSE(stale->granted) << "the expired holder cannot renew";
  EXPECT_EQ(stale->holder, loser);

  // SIGKILL of the pair's primary: the backup takes over the database, and the lease with it.
  nodes_[0][0]->kill(SIGKILL);
  const uint64_t killed_at = uv_now(loop_.get());
  std::unique_ptr<proto::EventLeaseT> after = definite(winner_client, lease(Op::Acquire, winner, 30'000));
  ASSERT_TRUE(after) << "no answer after the failover: " << last_error_;
  RecordProperty("answer_after_primary_killed_ms", std::to_string(uv_now(loop_.get()) - killed_at));
  EXPECT_FALSE(after->granted);
  EXPECT_EQ(after->holder, loser) << "the backup answers the same holder";
  EXPECT_EQ(after->fencing, 2u) << "and the same fencing number";
  std::unique_ptr<proto::EventLeaseT> renewed = definite(loser_client, lease(Op::Renew, loser, 30'000));
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(renewed->granted) << "the holder renews through the new primary";
  EXPECT_EQ(renewed->fencing, 2u);

  // Release hands it over at once, with the next fencing number.
  std::unique_ptr<proto::EventLeaseT> released = definite(loser_client, lease(Op::Release, loser, 0));
  ASSERT_TRUE(released);
  EXPECT_EQ(released->holder, "");
  std::unique_ptr<proto::EventLeaseT> next = definite(winner_client, lease(Op::Acquire, winner, 30'000));
  ASSERT_TRUE(next);
  EXPECT_TRUE(next->granted) << "no waiting for the released lease's expiry";
  EXPECT_EQ(next->fencing, 3u);

  // A desktop may not take leases; bad input gets the field named, through the proxy.
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  EXPECT_EQ(error_code(desktop->call(lease(Op::Acquire, "desk", 1000))), code(proto::ErrorCode::RequestNotAllowed));
  EnvelopePtr bad = a->call(lease(Op::Acquire, "holder-a", 0));
  EXPECT_EQ(error_code(bad), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(error_text(bad).find("RequestLease.ttl_ms"), std::string::npos) << error_text(bad);
}

// The pacing module's way in: ProxyServer::lease_call() from a thread that is not a worker, the
// answer on worker 0's thread, the lease the same one the protocol clients see.
TEST_F(ProxyLeaseTest, TheProxyServersLeaseCallAsksThePairThroughWorkerZero) {
  start_lease_cluster();
  config::LoadResult loaded = config::load_config_file((dir_ / "cluster.toml").string());
  ASSERT_TRUE(loaded.ok()) << loaded.error_text();
  // A third proxy in process, as ixproxy runs it, under proxy-2's ID but with its own ports.
  auto config = std::make_shared<config::ClusterConfig>(*loaded.config);
  for (config::Proxy& p : config->proxies) {
    if (p.id == "proxy-2") p.endpoint.port = p.endpoint.admin_port = 0;
  }
  proxy::ProxyServer server(loop_.get(), config, "proxy-2");
  ASSERT_TRUE(server.start().ok());
  proxy::ProxyServer::LeaseCall call = server.lease_call();

  std::mutex mutex;
  std::optional<proxy::LeaseAnswer> answer;
  std::thread::id answered_on;
  auto ask = [&](proxy::LeaseRequest request) {
    {
      std::lock_guard lock(mutex);
      answer.reset();
    }
    // From a thread of its own, as the pacing module's.
    std::thread caller([&] {
      call(request, [&](proxy::LeaseAnswer a) {
        std::lock_guard lock(mutex);
        answered_on = std::this_thread::get_id();
        answer = std::move(a);
      });
    });
    caller.join();
    EXPECT_TRUE(loop_.run_until([&] {
      std::lock_guard lock(mutex);
      return answer.has_value();
    }, 10'000));
    std::lock_guard lock(mutex);
    return answer.value_or(proxy::LeaseAnswer(Error{0, "no answer"}));
  };

  // Worker 0 links to the pair right after start: 2002 until it does.
  proxy::LeaseAnswer got = Error{0, ""};
  for (int attempt = 0; attempt < 100; ++attempt) {
    got = ask({"pacing-master", "proxy-2", proto::LeaseOperation::Acquire, 20'000});
    if (got.ok()) break;
    EXPECT_EQ(got.error().code, code(proto::ErrorCode::ClusterLostConnection)) << got.error().text;
    loop_.run_for(50);
  }
  ASSERT_TRUE(got.ok()) << got.error().text;
  EXPECT_TRUE(got->granted);
  EXPECT_EQ(got->fencing, 1u);
  EXPECT_NE(answered_on, std::this_thread::get_id()) << "the answer comes on worker 0's thread";

  auto other = proxy_client(0, proto::ClientType::RoutingEngine);
  std::unique_ptr<proto::EventLeaseT> seen = definite(*other, lease(Op::Acquire, "proxy-1", 20'000));
  ASSERT_TRUE(seen) << last_error_;
  EXPECT_FALSE(seen->granted);
  EXPECT_EQ(seen->holder, "proxy-2") << "the lease taken in process is the pair's";

  proxy::LeaseAnswer bad = ask({"pacing-master", "", proto::LeaseOperation::Acquire, 20'000});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, code(proto::ErrorCode::MissingAttribute));
  proxy::LeaseAnswer released = ask({"pacing-master", "proxy-2", proto::LeaseOperation::Release, 0});
  ASSERT_TRUE(released.ok()) << released.error().text;
  EXPECT_EQ(released->holder, "");
  server.stop();
}

}  // namespace
}  // namespace ix::test
