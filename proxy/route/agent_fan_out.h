// Agent fan-out policy (DESIGN.md §5): an agent request goes to every pair serving the tenant
// and the client sees one reply. decide_fan_out() combines the pairs' answers:
//   - all acknowledged: success;
//   - otherwise the first refusal (the node's own code, the text naming the pair) or, if no pair
//     refused, the first pair that could not be asked (2002 naming it);
//   - for a login, the pairs that did accept are listed so that the caller revokes them: the
//     agent is logged in everywhere or nowhere.
// Pure; tested against scripted answers.
#pragma once

#include <vector>

#include "protocol/result.h"
#include "protocol/wire/messages.h"
#include "proxy/route/pair_answer.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

struct FanOutOutcome {
  Status status;      // what the client is told
  PairSet accepted;   // pairs that said yes (to revoke when a login failed)
  PairSet failed;     // pairs that refused or could not be asked
};

FanOutOutcome decide_fan_out(const RoutingTable& table, const std::vector<PairAnswer>& answers);

}  // namespace ix::proxy
