// Pacer: how many proactive invitations one pacing target may send in the next refresh
// interval. Pure — no sockets, no clock, no randomness: the caller passes the target's
// statistics (TargetStats) and the target's PacerState, which it owns and keeps between ticks.
// The same code runs in the proxy's pacing module and in perf/pacing_bench. Not thread-safe per
// state; distinct targets' states may be decided on distinct threads (the memo tables the
// Pacer and its copies share are pure functions of their keys, behind a mutex).
//
// The decision, per tick:
//  1. Stale statistics: progressive fallback — one invitation per free slot not already claimed
//     by a waiting interaction or a pending invitation, never more than the ready agents.
//  2. Otherwise free capacity first (the progressive count above), then as many more as the
//     abandonment budget allows. At four horizons h (¼, ½, 1 and 2 answer delays) the
//     acceptances that arrive within h, X ~ Binomial(pending + k, p̂·(1 − e^{−h/delay})), meet
//     the free slots plus those that free up within h (rounded down), less the reactive
//     arrivals that come first (rounded up); the j-th that finds none abandons with
//     probability 1 − r^j, r = nμ/(nμ + θ) (it needs j completions before its patience runs
//     out, as in M/M/n+M). The largest k whose expected abandonments stay within
//     goal_eff · E[X] at every horizon is sent. When reactive traffic shares the agents, the
//     free slots are checked like the rest: a reactive customer can take one first.
//  3. goal_eff = min(goal · setpoint, the window-safe goal) · trim. The window-safe goal lowers
//     the goal for small groups, whose hourly windows hold few interactions (one abandonment in
//     twenty is already 5 %), as the Agent Pacing guide advises. trim is a slow, bounded integral
//     correction that brings the abandonment observed over the longest window to
//     min(goal · setpoint, the window-safe goal); the model alone errs on the safe side.
//  4. While nobody waits, the observed abandonment is within the target (trim >= 1) and the
//     long-run goal, not the window-safe one, binds (a large group), never
//     fewer than Erlang-A's open-loop budget at goal_eff (λ* less the reactive arrivals, over p̂,
//     per interval) as long as the invitations in flight stay within what that open-loop flow
//     keeps in flight: the steady part.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "proxy/pacing/erlang_a.h"
#include "proxy/pacing/estimates.h"
#include "proxy/pacing/target_stats.h"

namespace ix::pacing {

struct PacerConfig {
  PacingPriors priors;
  double smoothing = 0.1;            // EWMA weight of each tick's shrunk estimate
  double setpoint = 0.8;             // aim at this share of the goal (model error margin)
  double window_confidence = 0.01;   // hourly windows over 1.5 × goal allowed by the window-safe goal
  double window_dispersion = 1.5;     // abandonments come in clusters of about this size
  double lookahead_share = 1.0;      // look ahead this share of the mean answer delay
  double trim_min = 0.25, trim_max = 8;
  double trim_time_constant_seconds = 1800;  // how slowly the integral correction moves
};

// Per target, owned by the caller, zero-initialized for a new target.
struct PacerState {
  bool initialized = false;
  Estimates smoothed;
  double trim = 1.0;
  // Erlang-A λ* (accepted per second) at goal_eff, and the bucket of its inputs it was read
  // for: read from the Pacer's table again only when the bucket changes.
  ErlangARateTable::Key steady_key;
  double steady_rate = 0;
  double window_goal = 0;  // the window-safe goal of the last decision
  // The chance constraint's answer last cycle as invitations in flight (pending + new): where
  // the search starts. The constraint limits the total in flight, so while the estimates and
  // the agents hold still the answer is the same total whatever the pending count does.
  uint32_t last_in_flight = 0;
  uint8_t last_failed_horizon = 0;      // the look-ahead horizon that failed last: checked first
};

enum class PacingMode { kModel, kProgressive };
std::string_view to_string(PacingMode mode);

struct PacingDecision {
  uint32_t invitations = 0;
  PacingMode mode = PacingMode::kModel;
  uint32_t free_capacity_share = 0;  // the part of `invitations` that went into free capacity
  double effective_goal = 0;         // fraction
  Estimates estimates;               // the smoothed estimates the decision used
};

class Pacer {
 public:
  // The look-ahead horizons, as shares of lookahead_share answer delays.
  static constexpr std::array<double, 4> kHorizonShares = {0.25, 0.5, 1.0, 2.0};

  explicit Pacer(PacerConfig config = {});
  PacingDecision decide(const TargetStats& stats, PacerState& state) const;
  const PacerConfig& config() const { return config_; }

 private:
  struct Tables;
  double window_goal(double goal, double accepted_per_hour) const;

  PacerConfig config_;
  // Memoized pure functions shared by every target decided with this Pacer (and its copies):
  // Erlang-A λ* per bucket, the window-safe Poisson means per limit. Thread-safe.
  std::shared_ptr<Tables> tables_;
  // Per horizon: the share of the acceptances that arrive within it, 1 − e^{−h/delay} (h is a
  // multiple of the delay, so this depends on the configuration only).
  std::array<double, 4> answered_within_{};
};

// The largest long-run abandonment rate a group can run at so that an hourly window holding
// `accepted_per_hour` interactions exceeds 1.5 × goal with probability <= `confidence`
// (abandonments in Poisson clusters of `dispersion`). Exposed for the tests.
double window_safe_goal(double goal, double accepted_per_hour, double confidence, double dispersion = 1);

// The largest Poisson mean whose probability of exceeding `limit` is <= `confidence` (to a
// relative 1e-15): the core of window_safe_goal. Exposed for the tests.
double largest_safe_poisson_mean(uint32_t limit, double confidence);

// Expected abandonments among the acceptances of `invitations` independent invitations, each
// accepted with probability p, when `free` slots are open, `waiting` interactions are ahead and
// the j-th interaction in line abandons with probability 1 − r^j. Exposed for the tests.
double expected_abandonments(uint32_t invitations, double p, int64_t free, uint32_t waiting, double r);

}  // namespace ix::pacing
