// Pacer: how many proactive invitations one pacing target may send in the next refresh
// interval. Pure — no sockets, no clock, no randomness: the caller passes the target's
// statistics (TargetStats) and the target's PacerState, which it owns and keeps between ticks.
// The same code runs in the proxy's pacing module and in perf/pacing_bench. Not thread-safe per
// state; distinct targets' states may be decided on distinct threads.
//
// The decision, per tick:
//  1. Stale statistics: progressive fallback — one invitation per free slot not already claimed
//     by a waiting interaction or a pending invitation, never more than the ready agents.
//  2. Otherwise free capacity first (the progressive count above), then as many more as the
//     abandonment budget allows: the acceptances X ~ Binomial(pending + k, p̂) that find no free
//     slot must wait, and the k-th in line abandons with probability 1 − r^k, where 1 − r is
//     Erlang-A's P(Ab | wait) at the steady operating point (n, μ̂, θ̂). The largest k whose
//     expected abandonments stay within goal_eff · E[X] is sent.
//  3. goal_eff = min(goal · setpoint, the window-safe goal) · trim. The window-safe goal lowers
//     the goal for small groups, whose hourly windows hold few interactions (one abandonment in
//     twenty is already 5 %), as the Agent Pacing guide advises. trim is a slow, bounded integral
//     correction on the abandonment actually observed over the longest window.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/pacing/estimates.h"
#include "proxy/pacing/target_stats.h"

namespace ix::pacing {

struct PacerConfig {
  PacingPriors priors;
  double smoothing = 0.1;            // EWMA weight of each tick's shrunk estimate
  double setpoint = 0.8;             // aim at this share of the goal (model error margin)
  double window_confidence = 0.01;   // hourly windows over 1.5 × goal allowed by the window-safe goal
  double trim_min = 0.25, trim_max = 1.5;
  double trim_time_constant_seconds = 1800;  // how slowly the integral correction moves
};

// Per target, owned by the caller, zero-initialized for a new target.
struct PacerState {
  bool initialized = false;
  Estimates smoothed;
  double trim = 1.0;
  // Cache of the Erlang-A evaluation, recomputed when its inputs move.
  uint32_t cached_agents = 0;
  double cached_handle_time = 0, cached_patience = 0, cached_goal = 0;
  double wait_abandon_probability = 0;  // Erlang-A P(Ab | W > 0) at the steady operating point
  double steady_rate = 0;               // Erlang-A λ* (accepted per second) at goal_eff
  double window_goal = 0;
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
  explicit Pacer(PacerConfig config = {}) : config_(config) {}
  PacingDecision decide(const TargetStats& stats, PacerState& state) const;
  const PacerConfig& config() const { return config_; }

 private:
  PacerConfig config_;
};

// The largest long-run abandonment rate a group can run at so that an hourly window holding
// `accepted_per_hour` interactions exceeds 1.5 × goal with probability <= `confidence`
// (abandonments Poisson). Exposed for the tests.
double window_safe_goal(double goal, double accepted_per_hour, double confidence);

// Expected abandonments among the acceptances of `invitations` independent invitations, each
// accepted with probability p, when `free` slots are open, `waiting` interactions are ahead and
// the j-th interaction in line abandons with probability 1 − r^j. Exposed for the tests.
double expected_abandonments(uint32_t invitations, double p, int64_t free, uint32_t waiting, double r);

}  // namespace ix::pacing
