// OwnerLookup: which node pair owns an interaction (DESIGN.md §4–§5).
//
// plan() decides whom to ask: the pair named by the tag of a cluster-generated ID, else the pair
// the interaction cache remembers, else every candidate pair. decide() turns the candidates'
// answers to a lookup (a properties request) into the owner or the error the client gets:
//   - exactly one pair has it: that pair;
//   - more than one: 2005 naming them;
//   - none has it but some candidate could not be asked: 2003 naming it (the proxy cannot say
//     that the interaction does not exist);
//   - every candidate answered that it does not have it: UnknownInteraction.
// Pure; tested against scripted answers.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/messages.h"
#include "proxy/route/interaction_cache.h"
#include "proxy/route/pair_answer.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

struct OwnerPlan {
  std::optional<PairIndex> owner;  // known without asking
  PairSet ask;                     // otherwise: ask these
  bool from_cache = false;
};

OwnerPlan plan_owner_lookup(const RoutingTable& table, InteractionCache& cache, std::string_view interaction_id);

Result<PairIndex> decide_owner(const RoutingTable& table, const std::string& interaction_id,
                               const std::vector<PairAnswer>& answers);

}  // namespace ix::proxy
