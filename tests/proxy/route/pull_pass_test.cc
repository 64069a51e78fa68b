// PullPass, the pull's state machine, driven by hand: which pair is asked next, for how many,
// with what hold, and when the pull is over. Time is an argument; no loop.
#include "proxy/route/pull_pass.h"

#include <gtest/gtest.h>

namespace ix::proxy {
namespace {

InteractionList some(size_t n) {
  InteractionList out;
  for (size_t i = 0; i < n; ++i) out.push_back(std::make_unique<proto::InteractionInfoT>());
  return out;
}

TEST(PullPass, StopsAsSoonAsTheCountIsReachedAndAsksEachPairForWhatIsMissing) {
  PullPass pass({2, 0, 1}, 5, 0, 1000, std::chrono::milliseconds(500));
  auto first = pass.next(1000);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->pair, 2u);
  EXPECT_EQ(first->count, 5u);
  EXPECT_EQ(first->hold_ms, 0u);
  pass.pulled(some(3));
  auto second = pass.next(1000);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->pair, 0u);
  EXPECT_EQ(second->count, 2u);
  pass.pulled(some(4));  // a node that hands out more than asked does not underflow the count
  EXPECT_FALSE(pass.next(1000));
  Result<InteractionList> result = pass.result();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->size(), 7u);
}

TEST(PullPass, WaitsOnASecondPassOnlyWhenTheFirstFoundNothingAndTheClientAskedToWait) {
  PullPass pass({0, 1}, 1, 2000, 1000, std::chrono::milliseconds(500));
  for (int i = 0; i < 2; ++i) {
    auto ask = pass.next(1000);
    ASSERT_TRUE(ask);
    EXPECT_EQ(ask->hold_ms, 0u);
    pass.pulled({});
  }
  auto held = pass.next(1100);
  ASSERT_TRUE(held);
  EXPECT_EQ(held->pair, 0u);
  EXPECT_EQ(held->hold_ms, 500u) << "capped by pull-hold-timeout";
  pass.pulled({});
  auto last = pass.next(2800);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->hold_ms, 200u) << "never past the client's hold time";
  pass.pulled({});
  EXPECT_FALSE(pass.next(2800)) << "one waiting pass only";
  ASSERT_TRUE(pass.result());

  PullPass late({0, 1}, 1, 2000, 1000, std::chrono::milliseconds(500));
  late.next(1000);
  late.pulled({});
  late.next(1000);
  late.pulled({});
  late.next(1500);  // the waiting pass starts
  EXPECT_FALSE(late.next(3000)) << "the client's hold time is over";

  PullPass no_wait({0}, 1, 0, 1000, std::chrono::milliseconds(500));
  no_wait.next(1000);
  no_wait.pulled({});
  EXPECT_FALSE(no_wait.next(1000));
}

TEST(PullPass, ARefusalIsTheResultOnlyWhenNothingWasPulledAndEndsTheWait) {
  PullPass refused({0, 1}, 2, 5000, 0, std::chrono::milliseconds(500));
  refused.next(0);
  refused.refused(Error{7, "first"});
  refused.next(0);
  refused.refused(Error{8, "second"});
  EXPECT_FALSE(refused.next(0)) << "no waiting pass after a refusal";
  Result<InteractionList> r = refused.result();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().text, "first");

  PullPass mixed({0, 1}, 2, 0, 0, std::chrono::milliseconds(500));
  mixed.next(0);
  mixed.refused(Error{7, "no"});
  mixed.next(0);
  mixed.pulled(some(1));
  EXPECT_FALSE(mixed.next(0));
  ASSERT_TRUE(mixed.result());
}

}  // namespace
}  // namespace ix::proxy
