#include "protocol/net/turn_clock.h"

#include <gtest/gtest.h>

#include <vector>

#include "protocol/net/timer.h"
#include "tests/support/test_loop.h"

namespace ix::net {
namespace {

using test::TestLoop;

TEST(TurnClock, OneReadingPerPhaseAndAFreshOneAfterEachPoll) {
  TestLoop loop;
  std::vector<uint64_t> first_timer, second_timer;
  {
    TurnClock clock(loop.get());
    Timer a(loop.get()), b(loop.get());
    // Two callbacks of one phase share a reading, even with work between them.
    a.start(1, [&] {
      first_timer.push_back(clock.now_ns());
      const uint64_t until = uv_hrtime() + 2'000'000;
      while (uv_hrtime() < until) {
      }
      first_timer.push_back(clock.now_ns());
      // A later turn, after the loop polled for 30 ms: a new reading.
      b.start(30, [&] {
        second_timer.push_back(clock.now_ns());
        second_timer.push_back(uv_hrtime());
      });
    });
    ASSERT_TRUE(loop.run_until([&] { return second_timer.size() == 2; }));
  }
  ASSERT_EQ(first_timer.size(), 2u);
  EXPECT_EQ(first_timer[0], first_timer[1]) << "one reading for the phase";
  // libuv counts the 30 ms from the start of the turn in whole milliseconds: at least 27 ms later.
  EXPECT_GE(second_timer[0] - first_timer[0], 25'000'000u) << "the wait in poll is seen";
  EXPECT_LE(second_timer[0], second_timer[1]) << "never ahead of the clock";
  EXPECT_LT(second_timer[1] - second_timer[0], 5'000'000u) << "and not stale by a poll's wait";
  loop.close();  // the clock's handles are closed with it
}

}  // namespace
}  // namespace ix::net
