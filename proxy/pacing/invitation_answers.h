// InvitationAnswers: what became of one target's invitations, as the engagement service reports
// it — running totals since the service started counting (invitations answered, how many of them
// accepted, the summed delay until those were accepted) — turned into the answers seen over the sliding windows,
// for the pacer's acceptance and answer-delay estimates.
//
// Totals, not per-post counts, so that a lost answer loses nothing: each report adds the growth
// since the previous one at the time it arrives. The first report (this proxy just became master,
// or the service only now reports totals) is only a baseline: when those answers came is not
// known. Totals that went down (the service restarted) count from zero again. A report more than
// the longest window after the previous one (another proxy was master meanwhile) is a new
// baseline too. Nothing reported: nothing observed, and the pacer keeps to its prior.
//
// Pure, time passed in; the pacing module's thread owns it (through PacingEngine).
#pragma once

#include <cstdint>
#include <optional>

#include "proxy/pacing/sliding_window.h"

namespace ix::pacing {

struct InvitationTotals {
  uint64_t answered = 0;             // accepted, declined or expired
  uint64_t accepted = 0;
  double answer_delay_seconds = 0;   // summed, from sending to the acceptance, of the accepted ones
};

class InvitationAnswers {
 public:
  InvitationAnswers();

  void report(const InvitationTotals& totals, int64_t now_us);

  struct Observed {
    uint64_t answered = 0;
    uint64_t accepted = 0;
    double answer_delay_seconds = 0;
  };
  // The answers that arrived within the last `span_us` (at most the longest window).
  Observed observed(int64_t now_us, int64_t span_us) const;

 private:
  std::optional<InvitationTotals> last_;
  int64_t last_at_us_ = 0;
  SlidingWindow answered_;  // count: answers
  SlidingWindow accepted_;  // count: acceptances, total: their delays
};

}  // namespace ix::pacing
