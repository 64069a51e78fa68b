#include "proxy/upstream/pair_calls.h"

#include "proxy/route/fan_in.h"

namespace ix::proxy {

std::vector<bool> PairCalls::reachable() {
  std::vector<bool> out(slot_count());
  for (PairIndex i = 0; i < out.size(); ++i) out[i] = reachable(i);
  return out;
}

PairSet PairCalls::reachable_pairs() {
  PairSet out;
  for (PairIndex i = 0; i < slot_count(); ++i) {
    if (reachable(i)) out.push_back(i);
  }
  return out;
}

void PairCalls::ask_all(const PairSet& pairs, const Outgoing& request, uint64_t upstream_client, AnswersDone done,
                        uint64_t timeout_ms) {
  std::vector<std::pair<PairIndex, Outgoing>> requests;
  requests.reserve(pairs.size());
  for (PairIndex pair : pairs) requests.emplace_back(pair, request);
  ask_each(std::move(requests), upstream_client, std::move(done), timeout_ms);
}

void PairCalls::ask_each(std::vector<std::pair<PairIndex, Outgoing>> requests, uint64_t upstream_client,
                         AnswersDone done, uint64_t timeout_ms) {
  fanned_out(requests.size());
  if (requests.empty()) return defer([done = std::move(done)] { done({}); });
  auto fan_in = FanIn<PairAnswer>::make(requests.size(), std::move(done));
  for (size_t i = 0; i < requests.size(); ++i) {
    ask(requests[i].first, requests[i].second, upstream_client, fan_in->slot(i), timeout_ms);
  }
}

}  // namespace ix::proxy
