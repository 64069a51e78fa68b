#include "proxy/pacing/invitation_answers.h"

#include <algorithm>

#include "proxy/pacing/pacing_statistics.h"

namespace ix::pacing {

namespace {

constexpr int64_t kBucketUs = 15'000'000;
constexpr size_t kBuckets = static_cast<size_t>(kWindowsUs.back() / kBucketUs);

}  // namespace

InvitationAnswers::InvitationAnswers() : answered_(kBucketUs, kBuckets), accepted_(kBucketUs, kBuckets) {}

void InvitationAnswers::report(const InvitationTotals& totals, int64_t now_us) {
  const bool baseline = !last_ || now_us - last_at_us_ > kWindowsUs.back();
  if (!baseline) {
    // Totals that went down: the service counts from zero again, and all it counted is new.
    const bool restarted = totals.answered < last_->answered || totals.accepted < last_->accepted;
    const InvitationTotals before = restarted ? InvitationTotals{} : *last_;
    const uint64_t answered = totals.answered - before.answered;
    const uint64_t accepted = std::min(totals.accepted - before.accepted, answered);
    const double delay = std::max(0.0, totals.answer_delay_seconds - before.answer_delay_seconds);
    if (answered > 0) answered_.add(now_us, 0, answered);
    if (accepted > 0) accepted_.add(now_us, delay, accepted);  // delays are acceptances' delays
  }
  last_ = totals;
  last_at_us_ = now_us;
}

InvitationAnswers::Observed InvitationAnswers::observed(int64_t now_us, int64_t span_us) const {
  const SlidingWindow::Sum answered = answered_.sum(now_us, span_us);
  const SlidingWindow::Sum accepted = accepted_.sum(now_us, span_us);
  return {answered.count, std::min(accepted.count, answered.count), accepted.total};
}

}  // namespace ix::pacing
