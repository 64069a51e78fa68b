// MasterLease on a manual clock against a simulated lease pair: the node's own lease decision
// (node/store/lease_table.h, the one both stores run) behind a network that delivers each
// request and answer after a delay, can lose answers, and a proxy that can be frozen (no calls
// for a while, as under SIGSTOP) or killed (no calls ever again). The property checked at every
// millisecond: never two masters at once, and a master's term is always the pair's current one.
#include "proxy/pacing/master_lease.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "node/store/lease_table.h"

namespace ix::pacing {
namespace {

constexpr int64_t kTtl = 9'000;
constexpr int64_t kOneWay = 5;  // ms each way

// Proxies, their MasterLease, the pair's lease row, and messages in flight, on one clock.
class Cluster {
 public:
  struct Proxy {
    std::unique_ptr<MasterLease> lease;
    bool alive = true;
    int64_t frozen_until = 0;  // no calls before this time
    bool lose_answers = false;  // the pair decides, the answer is lost
    bool partitioned = false;   // neither requests nor answers get through
  };

  Proxy& add(const std::string& id) {
    MasterLeaseOptions options;
    options.holder = id;
    options.ttl_ms = kTtl;
    proxies_.push_back(Proxy{std::make_unique<MasterLease>(options)});
    return proxies_.back();
  }

  // Runs the cluster for `ms`, one millisecond at a time, checking the invariant each time.
  void run(int64_t ms) {
    for (int64_t end = now + ms; now < end;) {
      ++now;
      deliver();
      for (size_t i = 0; i < proxies_.size(); ++i) {
        Proxy& p = proxies_[i];
        if (!p.alive || now < p.frozen_until) continue;
        // The owner ticks every tick_interval() and at next_due() (and right after an answer,
        // in deliver()).
        if ((now - 1) % p.lease->tick_interval() == 0 || now >= p.lease->next_due()) send(i, p.lease->tick(now));
      }
      check();
    }
  }

  // Index of the proxy that is master now (-1: none).
  int master() const {
    for (size_t i = 0; i < proxies_.size(); ++i) {
      const Proxy& p = proxies_[i];
      if (p.alive && now >= p.frozen_until && p.lease->is_master(now)) return static_cast<int>(i);
    }
    return -1;
  }

  void send(size_t proxy, std::optional<MasterLease::Request> request) {
    if (!request) return;
    ++requests_sent;
    node::LeaseCommand c;
    c.op = request->operation == MasterLease::Operation::kAcquire ? node::LeaseOp::kAcquire
           : request->operation == MasterLease::Operation::kRenew ? node::LeaseOp::kRenew
                                                                  : node::LeaseOp::kRelease;
    c.name = request->name;
    c.holder = request->holder;
    c.ttl_ms = request->ttl_ms;
    if (proxies_[proxy].partitioned) return;
    wire_.push_back({now + kOneWay, [this, proxy, c, id = request->id]() mutable {
                       c.now_ms = now;  // the node decides when the request arrives
                       node::LeaseOutcome out = node::decide_lease(row_, c);
                       if (out.changed) row_ = out.record;
                       MasterLease::Reply reply{true, out.record.holder, out.record.fencing,
                                                static_cast<uint32_t>(out.record.holder.empty() ? 0 : out.record.expires_ms - now),
                                                out.granted, ""};
                       if (proxies_[proxy].lose_answers || proxies_[proxy].partitioned) return;
                       wire_.push_back({now + kOneWay, [this, proxy, id, reply] {
                                          Proxy& p = proxies_[proxy];
                                          if (!p.alive || now < p.frozen_until) return;  // a dead or frozen proxy reads nothing
                                          p.lease->on_reply(id, reply, now);
                                          send(proxy, p.lease->tick(now));
                                        }});
                     }});
  }

  std::vector<Proxy>& proxies() { return proxies_; }
  const std::optional<node::LeaseRecord>& row() const { return row_; }

  int64_t now = 0;
  size_t requests_sent = 0;
  std::vector<uint64_t> master_fencings;  // each time a new master appears

 private:
  struct Message {
    int64_t at;
    std::function<void()> run;
  };

  void deliver() {
    for (size_t i = 0; i < wire_.size();) {
      if (wire_[i].at <= now) {
        auto run = std::move(wire_[i].run);
        wire_.erase(wire_.begin() + static_cast<long>(i));
        run();
      } else {
        ++i;
      }
    }
  }

  void check() {
    int masters = 0;
    for (const Proxy& p : proxies_) {
      if (!p.alive || now < p.frozen_until || !p.lease->is_master(now)) continue;
      ++masters;
      // A master's term is the pair's current one and has not run out there.
      ASSERT_TRUE(row_.has_value());
      ASSERT_EQ(row_->holder, p.lease->options().holder) << "at " << now;
      ASSERT_EQ(row_->fencing, p.lease->fencing()) << "at " << now;
      ASSERT_GT(row_->expires_ms, now) << "a master whose lease ran out, at " << now;
    }
    ASSERT_LE(masters, 1) << "two masters at " << now;
    const int m = master();
    if (m >= 0 && m != last_master_) master_fencings.push_back(proxies_[static_cast<size_t>(m)].lease->fencing());
    if (m >= 0) last_master_ = m;
  }

  std::vector<Proxy> proxies_;
  std::deque<Message> wire_;
  std::optional<node::LeaseRecord> row_;
  int last_master_ = -1;
};

TEST(MasterLease, OneProxyBecomesMasterAndRenewsEveryThirdOfTheTtl) {
  Cluster c;
  c.add("proxy-1");
  c.run(20);
  ASSERT_EQ(c.master(), 0) << "master after one round trip";
  EXPECT_EQ(c.proxies()[0].lease->fencing(), 1u);
  EXPECT_EQ(c.proxies()[0].lease->holder(), "proxy-1");
  EXPECT_EQ(c.proxies()[0].lease->master_since(c.now), 1 + 2 * kOneWay);
  c.run(10 * kTtl);
  EXPECT_EQ(c.master(), 0) << "renewals keep it master";
  EXPECT_EQ(c.proxies()[0].lease->fencing(), 1u) << "one term throughout";
  EXPECT_EQ(c.proxies()[0].lease->master_since(c.now), 1 + 2 * kOneWay);
  // One acquire, then a renewal every ttl/3.
  EXPECT_EQ(c.requests_sent, 1u + 10 * 3);
}

TEST(MasterLease, TwoProxiesOneMasterAndTheOtherTakesOverWithinOneTtlOfItsDeath) {
  Cluster c;
  c.add("proxy-1");
  c.add("proxy-2");
  c.run(3 * kTtl);
  const int first = c.master();
  ASSERT_GE(first, 0);
  const int other = 1 - first;
  EXPECT_EQ(c.proxies()[static_cast<size_t>(other)].lease->holder(), first == 0 ? "proxy-1" : "proxy-2")
      << "the other proxy knows who is master";
  EXPECT_FALSE(c.proxies()[static_cast<size_t>(other)].lease->master_since(c.now).has_value());

  // SIGKILL: the master never calls again. Its last renewal was sent at most ttl/3 ago.
  c.proxies()[static_cast<size_t>(first)].alive = false;
  const int64_t died = c.now;
  int64_t took_over = 0;
  while (c.now < died + 2 * kTtl && took_over == 0) {
    c.run(1);
    if (c.master() == other) took_over = c.now;
  }
  ASSERT_GT(took_over, 0) << "nobody took over";
  ::testing::Test::RecordProperty("takeover_after_death_ms", std::to_string(took_over - died));
  // The lease runs out at most ttl after the last renewal reached the pair (which may still be
  // on its way at the death); the other proxy asks right then: one ttl plus the round trips.
  EXPECT_LE(took_over - died, kTtl + 5 * kOneWay) << "takeover within one ttl of the death";
  EXPECT_EQ(c.proxies()[static_cast<size_t>(other)].lease->fencing(), 2u) << "the next term";
  EXPECT_EQ(c.master_fencings, (std::vector<uint64_t>{1, 2}));
}

TEST(MasterLease, AFrozenMasterStopsBeforeItsLeaseCanPassAndIsNotMasterWhenItThaws) {
  Cluster c;
  c.add("proxy-1");
  c.add("proxy-2");
  c.run(kTtl);
  const int first = c.master();
  ASSERT_GE(first, 0);
  Cluster::Proxy& frozen = c.proxies()[static_cast<size_t>(first)];
  // SIGSTOP for two ttls: the other takes over meanwhile (the invariant is checked every ms).
  frozen.frozen_until = c.now + 2 * kTtl;
  c.run(2 * kTtl);
  EXPECT_EQ(c.master(), 1 - first);
  // SIGCONT: before its first tick, the thawed proxy already knows it is not master.
  EXPECT_FALSE(frozen.lease->is_master(c.now));
  c.run(kTtl);
  EXPECT_EQ(c.master(), 1 - first);
  EXPECT_EQ(frozen.lease->holder(), first == 0 ? "proxy-2" : "proxy-1") << "it learns who took over";
  EXPECT_EQ(c.master_fencings, (std::vector<uint64_t>{1, 2}));
}

TEST(MasterLease, AShortStallEndsMastershipUntilAFreshRenewalIsConfirmed) {
  Cluster c;
  c.add("proxy-1");
  c.run(kTtl);
  ASSERT_EQ(c.master(), 0);
  Cluster::Proxy& p = c.proxies()[0];
  // A gap of ttl/3: the lease is still valid at the node, but the module does not know what it
  // prepared before the gap; it must not act as master until a request sent after it succeeds.
  const size_t sent_before = c.requests_sent;
  p.frozen_until = c.now + kTtl / 3;
  c.run(kTtl / 3);
  EXPECT_FALSE(p.lease->is_master(c.now)) << "not master after a stall";
  const int64_t thawed = c.now;
  while (!p.lease->is_master(c.now) && c.now < thawed + kTtl) c.run(1);
  ASSERT_TRUE(p.lease->is_master(c.now)) << "never master again";
  EXPECT_EQ(c.requests_sent, sent_before + 1) << "master again only once a request sent after the gap is confirmed";
  EXPECT_LE(c.now - thawed, p.lease->tick_interval() + 2 * kOneWay) << "the first tick after the gap asks at once";
  EXPECT_EQ(p.lease->fencing(), 1u) << "nobody else held it: the same term";
}

TEST(MasterLease, LostAnswersEndMastershipBeforeTheLeaseRunsOutAtThePair) {
  Cluster c;
  c.add("proxy-1");
  c.add("proxy-2");
  c.run(kTtl);
  const int first = c.master();
  ASSERT_GE(first, 0);
  Cluster::Proxy& cut = c.proxies()[static_cast<size_t>(first)];
  // One lost answer changes nothing: the next renewal confirms.
  cut.lose_answers = true;
  c.run(kTtl / 3 + 10);
  cut.lose_answers = false;
  c.run(kTtl);
  EXPECT_EQ(c.master(), first) << "one lost answer does not cost mastership";

  // A partition: every answer lost. The invariant (checked every ms) proves the master stops
  // before the pair's expiry; then the other proxy takes over.
  cut.partitioned = true;
  int64_t stopped = 0, expiry_then = 0;
  for (int64_t start = c.now; c.now < start + 2 * kTtl;) {
    c.run(1);
    if (stopped == 0 && !cut.lease->is_master(c.now)) {
      stopped = c.now;
      expiry_then = c.row()->expires_ms;
    }
  }
  ASSERT_GT(stopped, 0);
  EXPECT_GE(expiry_then - stopped, kTtl / 5) << "the master stops at least the margin before the pair's expiry";
  ::testing::Test::RecordProperty("stopped_before_pair_expiry_ms", std::to_string(expiry_then - stopped));
  EXPECT_EQ(c.master(), 1 - first);
  EXPECT_EQ(c.proxies()[static_cast<size_t>(1 - first)].lease->fencing(), 2u);
}

TEST(MasterLease, ReleaseHandsOverAtOnceWithTheNextFencingNumber) {
  Cluster c;
  c.add("proxy-1");
  c.add("proxy-2");
  c.run(kTtl);
  const int first = c.master();
  ASSERT_GE(first, 0);
  Cluster::Proxy& leaving = c.proxies()[static_cast<size_t>(first)];
  auto release = leaving.lease->release(c.now);
  ASSERT_TRUE(release.has_value());
  EXPECT_EQ(release->operation, MasterLease::Operation::kRelease);
  EXPECT_FALSE(leaving.lease->is_master(c.now)) << "not master from the moment it releases";
  c.send(static_cast<size_t>(first), release);
  c.run(kTtl / 3 + 4 * kOneWay);
  EXPECT_EQ(c.master(), 1 - first) << "the other proxy took over at its next attempt, without waiting for expiry";
  EXPECT_EQ(c.proxies()[static_cast<size_t>(1 - first)].lease->fencing(), 2u);
  EXPECT_FALSE(leaving.lease->tick(c.now).has_value()) << "a released lease tries no more";
}

TEST(MasterLease, AnErrorAnswerIsRetriedSoonAndALateAnswerIsIgnored) {
  MasterLeaseOptions options;
  options.holder = "proxy-1";
  options.ttl_ms = kTtl;  // period 3000, retry 900, margin 1800, stall after 1800
  MasterLease lease(options);
  auto first = lease.tick(0);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->operation, MasterLease::Operation::kAcquire);
  EXPECT_EQ(first->ttl_ms, static_cast<uint32_t>(kTtl));
  EXPECT_FALSE(lease.tick(100).has_value()) << "one request in flight at a time";
  lease.on_reply(first->id, {false, "", 0, 0, false, "2002 lease pair pair-1 cannot be asked"}, 200);
  EXPECT_FALSE(lease.is_master(200));
  EXPECT_FALSE(lease.tick(800).has_value());
  auto second = lease.tick(1100);
  ASSERT_TRUE(second.has_value()) << "no definite answer: retried after ttl/10";
  // The answer to the second never comes: after ttl/3 it is given up and a third one sent.
  for (int64_t t : {2000, 3000, 4099}) EXPECT_FALSE(lease.tick(t).has_value()) << t;
  auto third = lease.tick(4100);
  ASSERT_TRUE(third.has_value());
  // A late "granted" answer to the request given up does not count...
  lease.on_reply(second->id, {true, "proxy-1", 1, static_cast<uint32_t>(kTtl), true, ""}, 4150);
  EXPECT_FALSE(lease.is_master(4150)) << "a late answer to a request given up is ignored";
  // ...the answer to the one in flight does, from the time it was sent.
  lease.on_reply(third->id, {true, "proxy-1", 1, static_cast<uint32_t>(kTtl), true, ""}, 4160);
  EXPECT_TRUE(lease.is_master(4160));
  EXPECT_EQ(lease.valid_until(), 4100 + kTtl - kTtl / 5);
  EXPECT_EQ(lease.master_since(4160), 4160);
  EXPECT_EQ(lease.fencing(), 1u);
}

TEST(MasterLease, AMasterTakenOverWhileItsAnswersWereLostLearnsItFromTheNextAnswer) {
  MasterLeaseOptions options;
  options.holder = "proxy-1";
  options.ttl_ms = kTtl;
  MasterLease lease(options);
  auto acquire = lease.tick(0);
  lease.on_reply(acquire->id, {true, "proxy-1", 4, static_cast<uint32_t>(kTtl), true, ""}, 10);
  ASSERT_TRUE(lease.is_master(10));
  for (int64_t t : {900, 1800, 2700}) EXPECT_FALSE(lease.tick(t).has_value()) << t;
  auto renew = lease.tick(3000);
  ASSERT_TRUE(renew.has_value());
  EXPECT_EQ(renew->operation, MasterLease::Operation::kRenew);
  lease.on_reply(renew->id, {true, "proxy-2", 5, 7000, false, ""}, 3010);
  EXPECT_FALSE(lease.is_master(3010)) << "a refused renewal ends mastership at once";
  EXPECT_EQ(lease.holder(), "proxy-2");
  EXPECT_EQ(lease.fencing(), 5u);
  // It tries again every ttl/3 (or when proxy-2's lease would run out, if sooner).
  for (int64_t t = 3900; t < 6000; t += 900) EXPECT_FALSE(lease.tick(t).has_value()) << t;
  auto again = lease.tick(6000);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->operation, MasterLease::Operation::kAcquire);
}

}  // namespace
}  // namespace ix::pacing
