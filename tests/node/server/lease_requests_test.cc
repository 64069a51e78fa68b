// RequestLease on the node, in process: an InteractionService on a MemoryStore and a manual
// clock (tests/node/server/service_fixture.h). Two holders race, the loser is told who won,
// expiry and release hand the lease on with the next fencing number, bad input is refused with
// the field named, and a new primary built from the same store answers the same lease.
#include <gtest/gtest.h>

#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

class LeaseRequestsTest : public ServiceFixture {
 protected:
  static proto::RequestLeaseT lease(proto::LeaseOperation op, const std::string& holder, uint32_t ttl_ms = 10'000,
                                    const std::string& name = "pacing-master") {
    proto::RequestLeaseT r;
    r.name = name;
    r.holder = holder;
    r.operation = op;
    r.ttl_ms = ttl_ms;
    return r;
  }
  // The EventLease answering a request (fails the test when the answer is anything else).
  proto::EventLeaseT ask(RecordingSession& s, const proto::RequestLeaseT& r) {
    EnvelopePtr reply = call(s, r);
    if (!reply || !reply->body.AsEventLease()) {
      ADD_FAILURE() << "no EventLease" << (as_error(reply) ? ": " + as_error(reply)->text : std::string());
      return {};
    }
    return *reply->body.AsEventLease();
  }
};

using Op = proto::LeaseOperation;

TEST_F(LeaseRequestsTest, TheFirstAcquirerWinsAndTheSecondIsToldWhoHoldsIt) {
  // Both requests reach the service before either is decided.
  const uint64_t first = send(proxy_, lease(Op::Acquire, "proxy-a"));
  const uint64_t second = send(router_, lease(Op::Acquire, "proxy-b"));
  EnvelopePtr a, b;
  loop_.run_until([&] { return (a || (a = proxy_.reply(first))) && (b || (b = router_.reply(second))); }, 2000);
  ASSERT_TRUE(a && a->body.AsEventLease());
  ASSERT_TRUE(b && b->body.AsEventLease()) << "losing the race is an answer, not an error";
  const proto::EventLeaseT& won = *a->body.AsEventLease();
  const proto::EventLeaseT& lost = *b->body.AsEventLease();
  EXPECT_TRUE(won.granted);
  EXPECT_EQ(won.holder, "proxy-a");
  EXPECT_EQ(won.fencing, 1u);
  EXPECT_EQ(won.ttl_left_ms, 10'000u);
  EXPECT_FALSE(lost.granted);
  EXPECT_EQ(lost.holder, "proxy-a");
  EXPECT_EQ(lost.fencing, 1u);

  clock_.advance(4'000);
  proto::EventLeaseT renew_by_other = ask(router_, lease(Op::Renew, "proxy-b"));
  EXPECT_FALSE(renew_by_other.granted);
  EXPECT_EQ(renew_by_other.holder, "proxy-a");
  EXPECT_EQ(renew_by_other.ttl_left_ms, 6'000u) << "the time left is the holder's";
}

TEST_F(LeaseRequestsTest, ExpiryAndReleaseHandTheLeaseOnWithTheNextFencingNumber) {
  ASSERT_TRUE(ask(proxy_, lease(Op::Acquire, "proxy-a", 3'000)).granted);
  clock_.advance(2'000);
  proto::EventLeaseT renewed = ask(proxy_, lease(Op::Renew, "proxy-a", 3'000));
  EXPECT_TRUE(renewed.granted);
  EXPECT_EQ(renewed.fencing, 1u);
  EXPECT_EQ(renewed.ttl_left_ms, 3'000u);

  clock_.advance(2'999);
  EXPECT_FALSE(ask(router_, lease(Op::Acquire, "proxy-b", 3'000)).granted) << "still proxy-a's for 1 ms";
  clock_.advance(1);
  proto::EventLeaseT taken = ask(router_, lease(Op::Acquire, "proxy-b", 3'000));
  EXPECT_TRUE(taken.granted) << "proxy-a let it run out";
  EXPECT_EQ(taken.holder, "proxy-b");
  EXPECT_EQ(taken.fencing, 2u);
  proto::EventLeaseT stale = ask(proxy_, lease(Op::Renew, "proxy-a", 3'000));
  EXPECT_FALSE(stale.granted) << "the deposed holder's renewal is refused";
  EXPECT_EQ(stale.holder, "proxy-b");

  proto::EventLeaseT released = ask(router_, lease(Op::Release, "proxy-b", 0));
  EXPECT_FALSE(released.granted);
  EXPECT_EQ(released.holder, "");
  EXPECT_EQ(released.ttl_left_ms, 0u);
  proto::EventLeaseT next = ask(proxy_, lease(Op::Acquire, "proxy-a", 3'000));
  EXPECT_TRUE(next.granted) << "released means free at once, no waiting for expiry";
  EXPECT_EQ(next.fencing, 3u);
}

TEST_F(LeaseRequestsTest, BadInputIsRefusedNamingTheField) {
  struct Case {
    proto::RequestLeaseT request;
    proto::ErrorCode code;
    std::string names;
  };
  std::vector<Case> cases = {
      {lease(Op::Acquire, "proxy-a", 1'000, ""), proto::ErrorCode::MissingAttribute, "RequestLease.name"},
      {lease(Op::Acquire, ""), proto::ErrorCode::MissingAttribute, "RequestLease.holder"},
      {lease(Op::Acquire, "proxy-a", 0), proto::ErrorCode::InvalidAttribute, "RequestLease.ttl_ms 0"},
      {lease(Op::Renew, "proxy-a", 600'001), proto::ErrorCode::InvalidAttribute, "RequestLease.ttl_ms 600001"},
      {lease(static_cast<Op>(7), "proxy-a"), proto::ErrorCode::InvalidAttribute, "RequestLease.operation 7"},
  };
  for (const Case& c : cases) {
    EnvelopePtr reply = call(proxy_, c.request);
    EXPECT_EQ(error_code(reply), c.code) << c.names;
    ASSERT_TRUE(as_error(reply));
    EXPECT_NE(as_error(reply)->text.find(c.names), std::string::npos) << as_error(reply)->text;
  }
  EXPECT_TRUE(ask(proxy_, lease(Op::Acquire, "proxy-a", 600'000)).granted) << "10 minutes is the longest allowed";
  EXPECT_TRUE(ask(proxy_, lease(Op::Release, "proxy-a", 0)).fencing == 1u) << "release needs no ttl";
}

TEST_F(LeaseRequestsTest, ANewPrimaryAnswersTheSameHolderAndFencing) {
  ASSERT_TRUE(ask(proxy_, lease(Op::Acquire, "proxy-a")).granted);
  clock_.advance(1'000);
  ASSERT_TRUE(ask(router_, lease(Op::Acquire, "proxy-b")).holder == "proxy-a");
  start_service();  // the backup takes over from the same database
  proto::EventLeaseT after = ask(router_, lease(Op::Acquire, "proxy-b"));
  EXPECT_FALSE(after.granted);
  EXPECT_EQ(after.holder, "proxy-a");
  EXPECT_EQ(after.fencing, 1u);
  EXPECT_EQ(after.ttl_left_ms, 9'000u);
  EXPECT_TRUE(ask(proxy_, lease(Op::Renew, "proxy-a")).granted) << "the holder renews through the new primary";
}

TEST_F(LeaseRequestsTest, AClientThatLeavesBeforeTheAnswerGetsNoneButTheLeaseStands) {
  const uint64_t ref = send(proxy_, lease(Op::Acquire, "proxy-a"));
  service_->session_closed(proxy_);
  loop_.run_for(20);
  EXPECT_EQ(proxy_.reply(ref), nullptr);
  proto::EventLeaseT seen = ask(router_, lease(Op::Acquire, "proxy-b"));
  EXPECT_FALSE(seen.granted);
  EXPECT_EQ(seen.holder, "proxy-a");
}

}  // namespace
}  // namespace ix::test
