// Pull plan (DESIGN.md §5, seed "Timeout for Pull for Strategy"): a routing engine's pull is
// spread over the reachable pairs serving the tenant, starting at a rotating pair so that no
// pair is always drained first. The proxy asks the pairs one after another until it has the
// requested count: a first pass without waiting, then — when nothing was found and the client
// asked to wait — a second pass in which each pair may hold the pull for at most
// pull-hold-timeout (the proxy's option overrides the nodes'), so one empty pair cannot stall
// the answer while another has interactions. Pure apart from its rotation counter.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "proxy/route/routing_table.h"

namespace ix::proxy {

class PullPlanner {
 public:
  // The pairs to ask, in order; unreachable pairs are left out.
  PairSet order(const PairSet& serving, const std::vector<bool>& reachable);
  // How long one pair may hold a pull in the waiting pass.
  static uint32_t hold_per_pair(uint32_t requested_hold_ms, std::chrono::milliseconds pull_hold_timeout);

 private:
  size_t next_ = 0;
};

}  // namespace ix::proxy
