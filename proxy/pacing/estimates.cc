#include "proxy/pacing/estimates.h"

#include <algorithm>

namespace ix::pacing {

Estimates estimate(const TargetStats& s, const PacingPriors& priors) {
  Estimates e;
  const WaitWindow& w = s.windows.back();
  e.acceptance = (s.invitations_accepted + priors.acceptance_weight * priors.acceptance) /
                 (s.invitations_answered + priors.acceptance_weight);
  e.acceptance = std::clamp(e.acceptance, 0.01, 1.0);
  e.handle_time_seconds = (s.handle_time_seconds + priors.handle_time_weight * priors.handle_time_seconds) /
                          (s.handled + priors.handle_time_weight);
  e.handle_time_seconds = std::max(e.handle_time_seconds, 1.0);
  e.answer_delay_seconds = (s.answer_delay_seconds + priors.acceptance_weight * priors.answer_delay_seconds) /
                           (s.invitations_accepted + priors.acceptance_weight);
  // θ̂ = abandonments / time waited by everyone (served, abandoned, still waiting): the prior adds
  // `patience_weight` abandonments and the waiting they would have taken.
  const double waited = w.accepted_wait_seconds + w.abandoned_wait_seconds + s.waiting_in_progress_seconds;
  const double theta = (w.abandoned + priors.patience_weight) / (waited + priors.patience_weight * priors.patience_seconds);
  e.patience_seconds = std::max(1.0 / theta, 1.0);
  e.reactive_rate = w.length_seconds > 0 ? s.reactive_arrivals / w.length_seconds : 0;
  e.observed_finished = w.accepted + w.abandoned;
  e.observed_abandonment = e.observed_finished ? static_cast<double>(w.abandoned) / e.observed_finished : 0;
  return e;
}

}  // namespace ix::pacing
