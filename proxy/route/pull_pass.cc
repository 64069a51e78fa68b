#include "proxy/route/pull_pass.h"

#include <algorithm>

#include "proxy/route/pull_plan.h"
#include "proxy/route/answer_severity.h"

namespace ix::proxy {

PullPass::PullPass(PairSet order, uint32_t count, uint32_t hold_ms, uint64_t now_ms, std::chrono::milliseconds pull_hold_timeout)
    : order_(std::move(order)),
      remaining_(count),
      hold_ms_(hold_ms),
      hold_until_ms_(now_ms + hold_ms),
      pull_hold_timeout_(pull_hold_timeout) {}

std::optional<PullPass::Ask> PullPass::next(uint64_t now_ms) {
  bool done = remaining_ == 0;
  if (!done && next_ == order_.size()) {
    // A pass is over. Wait only if nothing was found and the client asked to wait.
    if (waiting_pass_ || !pulled_.empty() || refusal_ || hold_ms_ == 0 || now_ms >= hold_until_ms_) {
      done = true;
    } else {
      waiting_pass_ = true;
      next_ = 0;
    }
  }
  if (!done && waiting_pass_ && now_ms >= hold_until_ms_) done = true;
  if (done) return std::nullopt;
  Ask ask;
  ask.pair = order_[next_++];
  ask.count = remaining_;
  ask.hold_ms = waiting_pass_ ? PullPlanner::hold_per_pair(static_cast<uint32_t>(hold_until_ms_ - now_ms), pull_hold_timeout_) : 0;
  return ask;
}

void PullPass::pulled(InteractionList interactions) {
  remaining_ -= std::min<uint32_t>(remaining_, static_cast<uint32_t>(interactions.size()));
  for (auto& info : interactions) pulled_.push_back(std::move(info));
}

void PullPass::refused(Error error) { keep_most_severe(refusal_, std::move(error)); }

Result<InteractionList> PullPass::result() {
  if (pulled_.empty() && refusal_) return *refusal_;
  return std::move(pulled_);
}

}  // namespace ix::proxy
