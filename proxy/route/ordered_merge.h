// Scatter-gather for find and workbin content (DESIGN.md §7; proxy_anchors.md, Vitess): every
// candidate pair returns its own result already in the requested order; merge_in_order()
// interleaves them into the order a single server would have produced — a k-way merge over the
// heads of the pairs' lists, ties to the pair listed first — and keeps the first `limit`.
//
// decide_scatter() states the partial-failure policy: a pair that refused the request (a bad
// condition) decides the answer; a pair that could not be asked fails the whole request with
// 2002 naming it, unless the client accepted a partial result, which then names the missing
// pairs. Pure; tested against scripted answers and random sequences.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/ixcluster_generated.h"
#include "proxy/route/pair_answer.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

using InteractionList = std::vector<std::unique_ptr<proto::InteractionInfoT>>;
using InteractionLess = std::function<bool(const proto::InteractionInfoT&, const proto::InteractionInfoT&)>;

InteractionList merge_in_order(std::vector<InteractionList> lists, const InteractionLess& less, size_t limit);

// The interactions of every answer that is a reply of type Reply (EventFindResult,
// EventWorkbinContent), one list per pair, in pair order.
template <class Reply>
std::vector<InteractionList> interaction_lists(const std::vector<PairAnswer>& answers,
                                               const Reply* (proto::Envelope::*as)() const) {
  std::vector<const PairAnswer*> sorted;
  for (const PairAnswer& a : answers) {
    if (a.kind == PairAnswer::Kind::kReply) sorted.push_back(&a);
  }
  std::sort(sorted.begin(), sorted.end(), [](const PairAnswer* a, const PairAnswer* b) { return a->pair < b->pair; });
  std::vector<InteractionList> lists;
  for (const PairAnswer* a : sorted) {
    const Reply* reply = (a->envelope()->*as)();
    InteractionList list;
    if (reply && reply->interactions()) {
      for (const proto::InteractionInfo* info : *reply->interactions()) list.emplace_back(info->UnPack());
    }
    lists.push_back(std::move(list));
  }
  return lists;
}

struct ScatterOutcome {
  std::optional<Error> error;          // the request fails with this
  std::vector<std::string> missing;    // pairs left out of a partial result
};

ScatterOutcome decide_scatter(const RoutingTable& table, const std::vector<PairAnswer>& answers, bool accept_partial);

}  // namespace ix::proxy
