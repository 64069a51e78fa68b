// The simulator's workload: deterministic for a seed, and shaped like its profile.
#include "tools/ixsim/workload.h"

#include <gtest/gtest.h>

namespace ix::sim {
namespace {

WorkloadOptions options(Profile profile, uint64_t seed = 1) {
  WorkloadOptions o;
  o.seed = seed;
  o.profile = profile;
  o.rate = 10;
  o.ramp_s = 600;
  o.flows = {{"chat", "q-chat", "v", 3}, {"email", "q-email", "v", 1}};
  return o;
}

// Arrivals in [from_s, to_s).
int count_between(Profile profile, double from_s, double to_s) {
  Workload w(options(profile));
  int n = 0;
  for (Arrival a = w.next(); a.at_ms < to_s * 1000; a = w.next()) n += a.at_ms >= from_s * 1000;
  return n;
}

TEST(WorkloadTest, ASeedFixesEveryDraw) {
  Workload a(options(Profile::kSteady, 5)), b(options(Profile::kSteady, 5)), c(options(Profile::kSteady, 6));
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    Arrival x = a.next(), y = b.next(), z = c.next();
    ASSERT_EQ(x.at_ms, y.at_ms);
    ASSERT_EQ(x.flow->media, y.flow->media);
    ASSERT_EQ(x.priority, y.priority);
    ASSERT_EQ(x.patience_ms, y.patience_ms);
    ASSERT_EQ(x.handle_ms, y.handle_ms);
    ASSERT_EQ(x.proactive, y.proactive);
    differs = differs || x.at_ms != z.at_ms;
  }
  EXPECT_TRUE(differs);
}

TEST(WorkloadTest, ArrivalsFollowTheProfile) {
  // Steady at 10/s: about 6,000 in ten minutes (Poisson: ± a few percent).
  EXPECT_NEAR(count_between(Profile::kSteady, 0, 600), 6000, 300);
  // Ramp over ten minutes: the first five carry a quarter of the ramp's arrivals (750 of 3,000),
  // and then the rate stays at the top.
  EXPECT_NEAR(count_between(Profile::kRamp, 0, 300), 750, 90);
  EXPECT_NEAR(count_between(Profile::kRamp, 300, 600), 2250, 150);
  EXPECT_NEAR(count_between(Profile::kRamp, 600, 1200), 6000, 300);
  // Burst: the last 10 s of every minute at 5x.
  EXPECT_NEAR(count_between(Profile::kBurst, 50, 60), 500, 80);
  EXPECT_NEAR(count_between(Profile::kBurst, 0, 50), 500, 80);
}

TEST(WorkloadTest, SharesPatienceAndHandlingTimesMatchTheOptions) {
  Workload w(options(Profile::kSteady));
  int chat = 0, proactive = 0;
  double patience = 0, handle = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    Arrival a = w.next();
    chat += a.flow->media == "chat";
    proactive += a.proactive;
    EXPECT_TRUE(!a.proactive || a.flow->media == "chat");
    patience += static_cast<double>(a.patience_ms) / 1000;
    handle += static_cast<double>(a.handle_ms) / 1000;
    EXPECT_GE(a.handle_ms, 10'000u);
    EXPECT_LE(a.handle_ms, 30'000u);
  }
  EXPECT_NEAR(static_cast<double>(chat) / n, 0.75, 0.02);
  EXPECT_NEAR(static_cast<double>(proactive) / chat, 0.2, 0.02);
  EXPECT_NEAR(patience / n, 60, 2);
  EXPECT_NEAR(handle / n, 20, 0.5);
}

}  // namespace
}  // namespace ix::sim
