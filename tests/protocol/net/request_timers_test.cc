#include "protocol/net/request_timers.h"

#include <gtest/gtest.h>

#include "tests/support/test_loop.h"

namespace ix::net {
namespace {

TEST(RequestTimers, ExpireInDeadlineOrderAndCancelledOnesNever) {
  test::TestLoop loop;
  std::vector<uint64_t> expired;
  std::vector<uint64_t> at_ms;
  const uint64_t start = uv_now(loop.get());
  {
    RequestTimers timers(loop.get(), [&](uint64_t id) {
      expired.push_back(id);
      at_ms.push_back(uv_now(loop.get()) - start);
    });
    timers.start(1, 60);
    timers.start(2, 20);
    timers.start(3, 40);
    timers.start(4, 30);
    EXPECT_TRUE(timers.cancel(3));
    EXPECT_FALSE(timers.cancel(3));
    EXPECT_FALSE(timers.cancel(99));
    timers.start(4, 80);  // restarting moves the deadline
    EXPECT_EQ(timers.size(), 3u);
    ASSERT_TRUE(loop.run_until([&] { return expired.size() == 3; }));
    EXPECT_EQ(expired, (std::vector<uint64_t>{2, 1, 4}));
    EXPECT_GE(at_ms[0], 20u);
    EXPECT_GE(at_ms[1], 60u);
    EXPECT_GE(at_ms[2], 80u);
    EXPECT_EQ(timers.size(), 0u);
  }
}

TEST(RequestTimers, ExpireCallbackMayStartNewDeadlines) {
  test::TestLoop loop;
  std::vector<uint64_t> expired;
  std::unique_ptr<RequestTimers> timers;
  timers = std::make_unique<RequestTimers>(loop.get(), [&](uint64_t id) {
    expired.push_back(id);
    if (id < 3) timers->start(id + 1, 5);
  });
  timers->start(1, 5);
  ASSERT_TRUE(loop.run_until([&] { return expired.size() == 3; }));
  EXPECT_EQ(expired, (std::vector<uint64_t>{1, 2, 3}));
  timers.reset();
}

TEST(RequestTimers, OnlyTheDeadlinesLeftUncancelledExpireAndAnIdleOwnerLetsItsLoopEnd) {
  // A link's pattern: many requests with one timeout, replies mostly in order, one left behind;
  // a shorter deadline (a probe) started after them still expires first.
  test::TestLoop loop;
  std::vector<uint64_t> expired;
  RequestTimers timers(loop.get(), [&](uint64_t id) { expired.push_back(id); });
  for (uint64_t id = 1; id <= 1000; ++id) timers.start(id, 40);
  timers.start(5000, 10);
  for (uint64_t id = 1; id <= 1000; ++id) {
    if (id != 500) {
      EXPECT_TRUE(timers.cancel(id));
    }
  }
  EXPECT_EQ(timers.size(), 2u);
  ASSERT_TRUE(loop.run_until([&] { return expired.size() == 2; }));
  EXPECT_EQ(expired, (std::vector<uint64_t>{5000, 500}));
  EXPECT_EQ(timers.size(), 0u);
  timers.start(1, 60000);
  EXPECT_TRUE(timers.cancel(1));
  // Nothing is pending: the loop must not be kept alive by a forgotten timer.
  EXPECT_FALSE(uv_loop_alive(loop.get()));
  EXPECT_EQ(expired.size(), 2u);
}

}  // namespace
}  // namespace ix::net
