// The pacer's parameter estimates — acceptance probability, handle time, patience, reactive
// load — from one tick's windowed statistics, each shrunk toward a configured prior with a
// weight in pseudo-observations, so that a handful of events cannot swing it. Pure functions;
// the Pacer smooths their output across ticks in the caller's PacerState.
#pragma once

#include "proxy/pacing/target_stats.h"

namespace ix::pacing {

struct PacingPriors {
  double acceptance = 0.2;             // share of invitations accepted
  double handle_time_seconds = 180;
  double patience_seconds = 60;        // mean time a customer waits before abandoning
  double answer_delay_seconds = 10;    // mean time from invitation to acceptance
  double acceptance_weight = 50;       // pseudo-invitations behind the acceptance prior
  double handle_time_weight = 10;      // pseudo-interactions behind the handle-time prior
  double patience_weight = 3;          // pseudo-abandonments behind the patience prior
};

struct Estimates {
  double acceptance = 0;           // 0..1, never below 1 %: it divides the budget
  double handle_time_seconds = 0;  // > 0
  double patience_seconds = 0;     // > 0
  double answer_delay_seconds = 0; // >= 0
  double reactive_rate = 0;        // reactive arrivals per second into the same agents
  double observed_abandonment = 0; // abandoned / (accepted + abandoned) over the longest window
  uint32_t observed_finished = 0;  // accepted + abandoned over the longest window
};

// Shrunk estimates from one tick. The patience estimate is the censored maximum-likelihood one
// (abandonments / total time waited, finished and in progress) with the prior's pseudo-counts.
Estimates estimate(const TargetStats& stats, const PacingPriors& priors);

}  // namespace ix::pacing
