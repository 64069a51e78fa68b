#include "proxy/route/pull_plan.h"

#include <algorithm>

namespace ix::proxy {

PairSet PullPlanner::order(const PairSet& serving, const std::vector<bool>& reachable) {
  PairSet out;
  if (serving.empty()) return out;
  const size_t start = next_++ % serving.size();
  for (size_t step = 0; step < serving.size(); ++step) {
    const PairIndex pair = serving[(start + step) % serving.size()];
    if (reachable[pair]) out.push_back(pair);
  }
  return out;
}

uint32_t PullPlanner::hold_per_pair(uint32_t requested_hold_ms, std::chrono::milliseconds pull_hold_timeout) {
  return static_cast<uint32_t>(std::min<int64_t>(requested_hold_ms, pull_hold_timeout.count()));
}

}  // namespace ix::proxy
