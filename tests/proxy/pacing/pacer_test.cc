// The Pacer (proxy/pacing/pacer.h) on hand-made states: what an operator would notice — nothing
// sent into a queue with no agent free, many into a large idle group, pending invitations
// counted, free slots a reactive customer may take first, the progressive fallback on stale
// statistics, no swing on a handful of observations, the integral trim — plus its two building blocks against independent computations.
#include "proxy/pacing/pacer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace ix::pacing {
namespace {

// A group of `ready` + `busy` single-slot agents with a quiet, healthy history: 15 minutes of
// accepted interactions with short waits and no abandonment, acceptance and handle time at the
// default priors (0.2, 180 s), answers after 10 s.
TargetStats group(uint32_t ready, uint32_t busy) {
  TargetStats s;
  s.goal = 0.03;
  s.refresh_interval_seconds = 5;
  s.agents_ready = ready;
  s.agents_busy = busy;
  s.free_capacity = ready;
  const uint32_t n = ready + busy;
  const double lengths[3] = {60, 300, 900};
  for (int w = 0; w < 3; ++w) {
    s.windows[w].length_seconds = lengths[w];
    s.windows[w].accepted = static_cast<uint32_t>(n * lengths[w] / 180);
    s.windows[w].accepted_wait_seconds = 2.0 * s.windows[w].accepted;
  }
  s.invitations_answered = 5 * n * 5;
  s.invitations_accepted = n * 5;
  s.answer_delay_seconds = 10.0 * s.invitations_accepted;
  s.handled = 5 * n;
  s.handle_time_seconds = 180.0 * s.handled;
  return s;
}

uint32_t decide(const TargetStats& s) {
  PacerState state;
  return Pacer().decide(s, state).invitations;
}

TEST(Pacer, NothingIntoAQueueWithNoAgentFree) {
  TargetStats s = group(0, 10);
  s.waiting = 3;
  EXPECT_EQ(decide(s), 0u);
  s.waiting = 0;
  s.other_waiting = 2;  // reactive interactions waiting for the same agents count too
  EXPECT_EQ(decide(s), 0u);
}

TEST(Pacer, ManyIntoALargeIdleGroup) {
  const TargetStats s = group(100, 0);
  const uint32_t sent = decide(s);
  // Every free agent gets at least one invitation, and with one in five accepted, well more.
  EXPECT_GE(sent, 300u);
  // ...but a bounded burst: all of them are out at once and none can be recalled (the search
  // itself would allow up to 4·(n + 1)/p ≈ 2000).
  EXPECT_LE(sent, 1000u);
}

TEST(Pacer, PendingInvitationsCount) {
  TargetStats s = group(20, 30);
  const uint32_t none_pending = decide(s);
  s.pending_invitations = 40;
  const uint32_t some_pending = decide(s);
  s.pending_invitations = 400;
  const uint32_t many_pending = decide(s);
  EXPECT_GT(none_pending, 0u);
  EXPECT_LT(some_pending, none_pending);
  EXPECT_GE(none_pending - some_pending, 30u);  // about one for one: they are still out there
  EXPECT_EQ(many_pending, 0u);
}

TEST(Pacer, FreeCapacityFirst) {
  // One agent, free, nothing pending, a strict window goal: exactly one invitation (progressive).
  TargetStats s = group(1, 0);
  EXPECT_EQ(decide(s), 1u);
  s.pending_invitations = 1;
  EXPECT_EQ(decide(s), 0u);
}

TEST(Pacer, FreeSlotsAReactiveCustomerCanTakeFirstAreChecked) {
  // One agent sharing its queue with reactive customers (3 in the last 15 minutes): one may take
  // the free slot while the invitation is answered, and the accepted customer would then wait a
  // whole handling time — a window's worth of abandonment in a group this small. Nothing is sent.
  TargetStats s = group(1, 0);
  s.reactive_arrivals = 3;
  PacerState state;
  PacingDecision d = Pacer().decide(s, state);
  EXPECT_EQ(d.invitations, 0u);
  EXPECT_EQ(d.free_capacity_share, 0u);
  // Twenty agents free of fifty, the same trickle of reactive customers: the free slots are
  // still filled, and more.
  s = group(20, 30);
  s.reactive_arrivals = 3;
  state = {};
  d = Pacer().decide(s, state);
  EXPECT_GT(d.invitations, 20u);
  EXPECT_EQ(d.free_capacity_share, 20u);
}

TEST(Pacer, StaleStatisticsFallBackToProgressive) {
  TargetStats s = group(5, 15);
  s.stale = true;
  s.waiting = 1;
  s.pending_invitations = 1;
  PacerState state;
  PacingDecision d = Pacer().decide(s, state);
  EXPECT_EQ(d.mode, PacingMode::kProgressive);
  EXPECT_EQ(d.invitations, 3u);  // 5 free − 1 waiting − 1 pending
  // Chat slots: 12 free slots on 3 ready agents — never more than the ready agents.
  s.free_capacity = 12;
  s.waiting = 0;
  s.pending_invitations = 0;
  s.agents_ready = 3;
  d = Pacer().decide(s, state);
  EXPECT_EQ(d.invitations, 3u);
  EXPECT_EQ(to_string(d.mode), "progressive");
  // The same state, fresh: the model is used and sends more.
  s.stale = false;
  d = Pacer().decide(s, state);
  EXPECT_EQ(d.mode, PacingMode::kModel);
  EXPECT_GT(d.invitations, 3u);
}

TEST(Pacer, AHandfulOfObservationsCannotSwingIt) {
  TargetStats s = group(20, 30);
  s.invitations_answered = 3;
  s.invitations_accepted = 3;  // three of three accepted
  s.answer_delay_seconds = 30;
  const uint32_t lucky = decide(s);
  s.invitations_accepted = 0;  // none of three
  const uint32_t unlucky = decide(s);
  // Taken at face value, 3/3 against 0/3 is a factor of a hundred (1.0 against the 1 % floor).
  EXPECT_LE(std::abs(static_cast<double>(lucky) - unlucky), 0.35 * std::max(lucky, unlucky));
  const Estimates e = estimate(s, PacingPriors{});
  EXPECT_GT(e.acceptance, 0.17);
  // Plenty of evidence does move it.
  s.invitations_answered = 3000;
  s.invitations_accepted = 1500;
  EXPECT_NEAR(estimate(s, PacingPriors{}).acceptance, 0.5, 0.01);
}

TEST(Pacer, PatienceEstimateCountsWaitsInProgress) {
  TargetStats s = group(0, 10);
  s.windows[2].abandoned = 30;
  s.windows[2].abandoned_wait_seconds = 30 * 20.0;
  s.windows[2].accepted = 70;
  s.windows[2].accepted_wait_seconds = 70 * 10.0;
  const double without = estimate(s, PacingPriors{}).patience_seconds;
  s.waiting_in_progress = 5;
  s.waiting_in_progress_seconds = 5 * 100.0;  // censored: they have not abandoned yet
  const double with = estimate(s, PacingPriors{}).patience_seconds;
  EXPECT_GT(with, without);
  // (30 + 3 prior) abandonments over (1300 + 180) s of waiting.
  EXPECT_NEAR(without, (1300.0 + 3 * 60) / 33, 1e-9);
}

TEST(Pacer, ObservedAbandonmentTrimsItDown) {
  TargetStats s = group(10, 40);
  PacerState calm, hurt;
  const Pacer pacer;
  uint32_t calm_sent = 0, hurt_sent = 0;
  TargetStats bad = s;
  for (WaitWindow& w : bad.windows) w.abandoned = w.accepted / 5;  // 20 % abandoned
  for (int tick = 0; tick < 720; ++tick) {  // an hour of 5-second ticks
    calm_sent = pacer.decide(s, calm).invitations;
    hurt_sent = pacer.decide(bad, hurt).invitations;
  }
  EXPECT_LT(hurt.trim, 0.5);
  EXPECT_GE(hurt.trim, pacer.config().trim_min);  // bounded
  EXPECT_LT(hurt_sent, calm_sent);
  EXPECT_GE(hurt_sent, 10u);  // free capacity is still served
}

TEST(Pacer, WindowSafeGoalLowersTheGoalForSmallGroups) {
  EXPECT_LT(window_safe_goal(0.03, 20, 0.01), 0.002);  // one agent: one abandonment is too many
  EXPECT_LT(window_safe_goal(0.03, 200, 0.01), 0.025);
  EXPECT_DOUBLE_EQ(window_safe_goal(0.03, 20000, 0.01), 0.03);
  // The definition: at that rate, P(more than 1.5·goal·A abandonments in an hour) <= 1 %.
  const double a = 400, goal = window_safe_goal(0.03, a, 0.01);
  const double mean = goal * a;
  double cdf = 0, term = std::exp(-mean);
  for (int k = 0; k <= static_cast<int>(std::floor(1.5 * 0.03 * a)); ++k) {
    cdf += term;
    term *= mean / (k + 1);
  }
  EXPECT_NEAR(1 - cdf, 0.01, 1e-6);
  // Its core, the largest Poisson mean with P(X > limit) <= confidence: P(X > 0) = 1 − e^{−m}.
  EXPECT_NEAR(largest_safe_poisson_mean(0, 0.01), -std::log(0.99), 1e-12);
}

TEST(Pacer, CopiesShareTheirTablesAndDecideAlike) {
  // The memoized tables are pure functions of their inputs: a Pacer, its copy and a fresh one
  // decide the same on every state, whichever asked first.
  const Pacer first;
  const Pacer copy = first;
  for (uint32_t ready : {0u, 1u, 3u, 20u}) {
    for (uint32_t busy : {1u, 9u, 80u}) {
      TargetStats s = group(ready, busy);
      s.pending_invitations = busy / 3;
      PacerState a, b, c;
      const uint32_t x = first.decide(s, a).invitations;
      EXPECT_EQ(copy.decide(s, b).invitations, x);
      EXPECT_EQ(Pacer().decide(s, c).invitations, x);
    }
  }
}

TEST(Pacer, ExpectedAbandonmentsMatchEnumeration) {
  // Enumerate Binomial(m, p) outcomes directly: the j-th acceptance stands at j − (free −
  // waiting) in line and abandons with probability 1 − r^position.
  for (uint32_t m : {1u, 5u, 30u, 55u, 60u, 120u, 400u}) {
    for (int64_t free : {0, 2, 10}) {
      for (uint32_t waiting : {0u, 3u}) {
        const double p = 0.3, r = 0.9;
        double expected = 0;
        for (uint32_t x = 0; x <= m; ++x) {
          const double pmf = std::exp(std::lgamma(m + 1.0) - std::lgamma(x + 1.0) - std::lgamma(m - x + 1.0) +
                                      x * std::log(p) + (m - x) * std::log(1 - p));
          double abandons = 0;
          for (uint32_t j = 1; j <= x; ++j) {
            const int64_t position = static_cast<int64_t>(j) - (free - static_cast<int64_t>(waiting));
            if (position >= 1) abandons += 1 - std::pow(r, static_cast<double>(position));
          }
          expected += pmf * abandons;
        }
        SCOPED_TRACE(testing::Message() << "m=" << m << " free=" << free << " waiting=" << waiting);
        const double got = expected_abandonments(m, p, free, waiting, r);
        if (m * p * (1 - p) < 12) {
          EXPECT_NEAR(got, expected, 1e-9 + 1e-9 * expected);  // exact path
        } else {
          EXPECT_GE(got, expected * 0.9);  // normal approximation, on the safe side or close
          EXPECT_LE(got, expected * 1.3 + 0.05);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ix::pacing

namespace ix::pacing {
namespace {

TEST(Pacer, EveryEstimateFollowsItsObservations) {
  // Many ticks of the same statistics: every smoothed estimate converges to what they show
  // (shrunk toward the prior only by its pseudo-observations), none stays at its first value.
  TargetStats s = group(10, 40);
  s.answer_delay_seconds = 2.0 * s.invitations_accepted;  // accepted after 2 s, prior 10 s
  s.handle_time_seconds = 60.0 * s.handled;                // 60 s handling, prior 180 s
  s.reactive_arrivals = 90;                                 // 0.1 per second over 15 minutes
  PacerState state;
  state.initialized = true;  // smoothed estimates start at zero: they must move
  const Pacer pacer;
  for (int tick = 0; tick < 200; ++tick) pacer.decide(s, state);
  const Estimates expected = estimate(s, pacer.config().priors);
  EXPECT_NEAR(state.smoothed.answer_delay_seconds, expected.answer_delay_seconds, 1e-6);
  EXPECT_NEAR(state.smoothed.handle_time_seconds, expected.handle_time_seconds, 1e-6);
  EXPECT_NEAR(state.smoothed.acceptance, expected.acceptance, 1e-6);
  EXPECT_NEAR(state.smoothed.patience_seconds, expected.patience_seconds, 1e-6);
  EXPECT_NEAR(state.smoothed.reactive_rate, expected.reactive_rate, 1e-6);
  // 250 acceptances after 2 s each against the prior's 50 pseudo-acceptances at 10 s: 3.33 s.
  EXPECT_NEAR(expected.answer_delay_seconds, (250 * 2.0 + 50 * 10.0) / 300, 1e-9);
}

}  // namespace
}  // namespace ix::pacing
