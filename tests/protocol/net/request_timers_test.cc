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

}  // namespace
}  // namespace ix::net
