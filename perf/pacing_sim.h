// A deterministic discrete-event simulator of proactive engagement for one pacing target, used by
// perf/pacing_bench and its test: invitations accepted with a probability after a random delay,
// exponential customer patience, handle times, agents taking not-ready breaks, a step down in
// staffing and one in acceptance probability during the run, optional reactive traffic sharing
// the agents, and statistics that reach the policy with a lag, as the merged stream does. One
// simulation per (scenario, policy); single-threaded, no shared state.
//
// Common random numbers: each stochastic element draws from its own stream seeded from the
// scenario's seed — the i-th invitation's answer; the i-th proactive customer's patience, handle
// time and the break its agent takes after it; the same for the i-th reactive customer, from a
// stream of its own; the reactive arrivals — so policies are compared on the same customers (the
// reactive ones whatever the proactive traffic did) and a policy that makes the same decisions
// sees exactly the same run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ix::perf {

struct PacingScenario {
  std::string name = "custom";
  uint32_t agents = 20;
  double acceptance = 0.2;           // probability an invitation is accepted
  double accept_delay_seconds = 10;  // mean (exponential) time from invitation to answer
  double patience_seconds = 60;      // mean (exponential) patience of a waiting customer
  double handle_time_seconds = 180;  // mean (exponential) handle time
  double goal = 0.03;                // abandonment goal, fraction
  double hours = 20;                 // measured time, after the warm-up
  double warmup_hours = 0.5;
  double refresh_seconds = 5;        // the pacer's tick
  double stats_lag_seconds = 2;      // how old the statistics are when the policy reads them
  double reactive_per_minute = 0;    // reactive arrivals sharing the agents' queue
  double break_probability = 0.05;   // after each interaction an agent goes not ready with it
  double break_seconds = 300;        // mean break
  double staffing_step_at = 0.5;     // share of the run after which 20 % of the agents log out
  double acceptance_step_at = 0.7;   // share of the run after which the acceptance halves
  uint64_t seed = 1;
};

enum class PacingPolicy { kProgressive, kAdaptive, kErlangA, kIxcluster };
std::string_view to_string(PacingPolicy policy);
inline constexpr PacingPolicy kAllPolicies[] = {PacingPolicy::kProgressive, PacingPolicy::kAdaptive,
                                                 PacingPolicy::kErlangA, PacingPolicy::kIxcluster};

struct PacingOutcome {
  PacingPolicy policy = PacingPolicy::kProgressive;
  double abandon_rate = 0;  // proactive abandoned / proactive accepted (entered the queue)
  double abandon_ci_low = 0, abandon_ci_high = 0;  // 95 %, batch means over the hourly windows
  double windows_over_share = 0;  // hourly windows whose abandonment exceeds 1.5 × goal
  uint32_t windows = 0;
  double occupancy = 0;  // busy agent-time / (busy + ready agent-time)
  uint64_t invitations = 0, accepted = 0, abandoned = 0;
};

PacingOutcome simulate_pacing(const PacingScenario& scenario, PacingPolicy policy);

}  // namespace ix::perf
