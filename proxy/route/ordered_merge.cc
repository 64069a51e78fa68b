#include "proxy/route/ordered_merge.h"

#include <algorithm>
#include <queue>

#include "protocol/wire/messages.h"
#include "proxy/route/answer_severity.h"

namespace ix::proxy {

InteractionList merge_in_order(std::vector<InteractionList> lists, const InteractionLess& less, size_t limit) {
  struct Head {
    size_t list, index;
  };
  // The heap's top is the smallest head; on a tie, the earlier list.
  auto later = [&](const Head& a, const Head& b) {
    const auto& x = *lists[a.list][a.index];
    const auto& y = *lists[b.list][b.index];
    if (less(y, x)) return true;
    if (less(x, y)) return false;
    return a.list > b.list;
  };
  std::priority_queue<Head, std::vector<Head>, decltype(later)> heads(later);
  size_t total = 0;
  for (size_t i = 0; i < lists.size(); ++i) {
    total += lists[i].size();
    if (!lists[i].empty()) heads.push({i, 0});
  }
  InteractionList out;
  out.reserve(std::min(total, limit));
  while (!heads.empty() && out.size() < limit) {
    Head h = heads.top();
    heads.pop();
    out.push_back(std::move(lists[h.list][h.index]));
    if (h.index + 1 < lists[h.list].size()) heads.push({h.list, h.index + 1});
  }
  return out;
}

ScatterOutcome decide_scatter(const RoutingTable& table, const std::vector<PairAnswer>& answers, bool accept_partial) {
  ScatterOutcome out;
  // A refusal decides (the most severe, whatever the arrival order); pairs that could not be
  // asked fail the request, or are listed as missing with accept_partial.
  std::vector<PairAnswer> refusals;
  for (const PairAnswer& a : answers) {
    if (a.kind == PairAnswer::Kind::kRefused) refusals.push_back(a);
  }
  if (const PairAnswer* a = deciding_failure(refusals)) {
    out.error = Error{a->error.code, "node pair " + table.pair_id(a->pair) + " refused: " + a->error.text};
    return out;
  }
  std::vector<const PairAnswer*> sorted;
  for (const PairAnswer& a : answers) sorted.push_back(&a);
  std::sort(sorted.begin(), sorted.end(), [](const PairAnswer* a, const PairAnswer* b) { return a->pair < b->pair; });
  for (const PairAnswer* a : sorted) {
    if (a->kind != PairAnswer::Kind::kUnreachable) continue;
    if (!accept_partial) {
      out.error = wire::make_error(proto::ErrorCode::ClusterLostConnection,
                                   "node pair " + table.pair_id(a->pair) + " could not be asked (" + a->error.text +
                                       "); set accept_partial for a result without it");
      return out;
    }
    out.missing.push_back(table.pair_id(a->pair));
  }
  return out;
}

}  // namespace ix::proxy
