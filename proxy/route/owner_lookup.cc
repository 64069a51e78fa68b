#include "proxy/route/owner_lookup.h"

#include <algorithm>

namespace ix::proxy {

OwnerPlan plan_owner_lookup(const RoutingTable& table, InteractionCache& cache, std::string_view interaction_id) {
  if (std::optional<PairIndex> tagged = table.owner_by_tag(interaction_id)) return {tagged, {}, false};
  if (std::optional<PairIndex> cached = cache.find(interaction_id)) {
    if (table.has(*cached)) return {cached, {}, true};
    cache.forget(interaction_id);  // its pair was removed by a reload after it was remembered
  }
  return {std::nullopt, table.all_pairs(), false};
}

Result<PairIndex> decide_owner(const RoutingTable& table, const std::string& interaction_id,
                               const std::vector<PairAnswer>& answers) {
  PairSet owners, unreachable;
  for (const PairAnswer& a : answers) {
    if (a.kind == PairAnswer::Kind::kReply) {
      owners.push_back(a.pair);
    } else if (!a.refused_with(proto::ErrorCode::UnknownInteraction)) {
      unreachable.push_back(a.pair);
    }
  }
  // Answers arrive in any order; name the pairs in configuration order.
  std::sort(owners.begin(), owners.end());
  std::sort(unreachable.begin(), unreachable.end());
  if (owners.size() == 1) return owners.front();
  if (owners.size() > 1) {
    return wire::make_error(proto::ErrorCode::ClusterDuplicateInteraction,
                 "interaction " + interaction_id + " exists on more than one node pair: " + pair_names(table, owners));
  }
  if (!unreachable.empty()) {
    return wire::make_error(proto::ErrorCode::ClusterInteractionNotAccessible,
                 "interaction " + interaction_id + " is not accessible: node pair(s) " + pair_names(table, unreachable) +
                     " could not be asked and no other pair has it");
  }
  return wire::make_error(proto::ErrorCode::UnknownInteraction, "interaction " + interaction_id + " does not exist on any node pair");
}

}  // namespace ix::proxy
