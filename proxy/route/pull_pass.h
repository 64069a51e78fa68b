// PullPass: one routing engine's pull across the pairs serving its tenant (pull_plan.h), as a
// pure state machine. next() says which pair to ask for how many and with what hold time, or
// that the pull is over; the answers are fed back with pulled() / refused(); result() is the
// reply. A first pass asks every pair without waiting; only when it found nothing, nothing
// refused and the client asked to wait does a second pass let each pair hold the pull (capped
// by pull-hold-timeout), until the client's hold time is over. Time comes in as an argument,
// so the machine is tested without a loop (tests/proxy/route/pull_pass_test.cc). Owned by one
// pull request; single-threaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "protocol/result.h"
#include "proxy/route/ordered_merge.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

class PullPass {
 public:
  // order: the pairs to ask, in order (PullPlanner::order); now_ms: loop time at the request.
  PullPass(PairSet order, uint32_t count, uint32_t hold_ms, uint64_t now_ms, std::chrono::milliseconds pull_hold_timeout);

  struct Ask {
    PairIndex pair = 0;
    uint32_t count = 0;    // what is still missing
    uint32_t hold_ms = 0;  // how long the pair may hold the pull (0 in the first pass)
  };
  // The next pair to ask at loop time now_ms, or nothing when the pull is over.
  std::optional<Ask> next(uint64_t now_ms);
  // The asked pair handed these out.
  void pulled(InteractionList interactions);
  // The asked pair refused (the most severe refusal is kept, answer_severity.h; it is the reply
  // if nothing is pulled).
  void refused(Error error);
  // Once next() said the pull is over: what was pulled, or the refusal when nothing was.
  Result<InteractionList> result();

 private:
  PairSet order_;
  size_t next_ = 0;
  bool waiting_pass_ = false;
  uint32_t remaining_;
  uint32_t hold_ms_;
  uint64_t hold_until_ms_;
  std::chrono::milliseconds pull_hold_timeout_;
  InteractionList pulled_;
  std::optional<Error> refusal_;
};

}  // namespace ix::proxy
