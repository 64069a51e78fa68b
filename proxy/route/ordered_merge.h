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

struct ScatterOutcome {
  std::optional<Error> error;          // the request fails with this
  std::vector<std::string> missing;    // pairs left out of a partial result
};

ScatterOutcome decide_scatter(const RoutingTable& table, const std::vector<PairAnswer>& answers, bool accept_partial);

}  // namespace ix::proxy
