// PacingEngine: the pacing module's decisions — PacingStatistics fed from the merged reporting
// stream, and once per refresh period the Pacer asked, target by target, how many proactive
// invitations may be sent in the next interval. Pure (no sockets, no clock, no thread: time and
// events are passed in), so the proxy's PacingModule runs it on its thread and tests and
// benchmarks run it directly.
//
// Pending invitations (sent, not yet answered) come from the engagement service with each
// response and start at 0, as the guide says; until the service reports, the pacer counts none.
// So do the invitations answered and accepted (InvitationAnswers): until the service reports
// them, the pacer's acceptance and answer delay are its priors.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster-config/model.h"
#include "proxy/pacing/invitation_answers.h"
#include "proxy/pacing/pacer.h"
#include "proxy/pacing/pacing_statistics.h"

namespace ix::pacing {

struct TargetDecision {
  const config::PacingTarget* target = nullptr;
  PacingDecision decision;
  TargetStats input;  // what the decision saw
};

class PacingEngine {
 public:
  // The Pacer takes its priors from [pacing.priors] (when the file has [pacing]; `pacer`'s
  // otherwise), the rest of its configuration from `pacer`.
  explicit PacingEngine(const config::ClusterConfig& config, PacerConfig pacer = {});

  // A reloaded configuration (the caller keeps it alive, as the first): the targets added,
  // removed or changed (PacingStatistics::reconfigure); a target that stays keeps its pacer
  // state, pending invitations and invitation answers; the refresh period; the priors. The last
  // decisions are dropped.
  void reconfigure(const config::ClusterConfig& config);

  // A reporting event's verified envelope bytes from the merged stream, with its pair. Anything
  // that does not verify is ignored (the proxy verified it already; this is a second line).
  void on_event(size_t pair, std::span<const uint8_t> payload);
  // Pending invitations per target, as the engagement service last reported them.
  void set_pending(size_t target, uint32_t pending);
  // The engagement service's running totals of a target's answered invitations, at `now_us`.
  void report_invitations(size_t target, const InvitationTotals& totals, int64_t now_us);

  // One decision cycle at `now_us` (wall clock): every target's statistics read and decided.
  // stale: the statistics cannot be trusted (the stream is not flowing); the pacer falls back
  // to progressive pacing and the status says so. A target is also stale while a pair serving
  // it has stopped streaming and not been reseeded (PacingStatistics::stream_stopped).
  const std::vector<TargetDecision>& decide(int64_t now_us, bool stale);
  const std::vector<TargetDecision>& last_decisions() const { return decisions_; }

  // Per target: waiting, agents, accepted/abandoned per window, estimates, last decision.
  nlohmann::json status(int64_t now_us) const;

  PacingStatistics& statistics() { return statistics_; }
  size_t target_count() const { return statistics_.target_count(); }

  // What the Pacer is given for one target (exposed for the tests).
  TargetStats pacer_input(size_t target, int64_t now_us, bool stale) const;

 private:
  TargetStats pacer_input(const TargetFigures& figures, size_t target, int64_t now_us, bool stale) const;

  PacingStatistics statistics_;
  Pacer pacer_;
  double refresh_seconds_ = 5;
  std::vector<PacerState> states_;      // by target
  std::vector<uint32_t> pending_;       // by target
  std::vector<InvitationAnswers> answers_;  // by target
  std::vector<TargetDecision> decisions_;
  int64_t decided_at_us_ = 0;
};

}  // namespace ix::pacing
