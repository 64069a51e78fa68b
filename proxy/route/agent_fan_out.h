// Agent fan-out policy (DESIGN.md §5): an agent request goes to every pair serving the tenant
// and the client sees one reply. decide_fan_out() combines the pairs' answers:
//   - all acknowledged: success;
//   - otherwise the first refusal (the node's own code, the text naming the pair) or, if no pair
//     refused, the first pair that could not be asked (2002 naming it);
//   - for a login, the pairs that did accept are listed so that the caller revokes them: the
//     agent is logged in everywhere or nowhere.
// media_scope() narrows a request to the media each pair serves: an agent with chat and email
// logs in with chat alone on a chat-only pair, and a ready for email skips that pair.
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

// What an agent request becomes on one pair.
struct MediaScope {
  enum class Kind { kUnchanged, kSkip, kNarrowed } kind = Kind::kUnchanged;
  std::vector<std::string> login_media;  // kNarrowed: the login's media this pair serves
};
MediaScope media_scope(const config::NodePair& pair, const proto::EnvelopeT& request);

}  // namespace ix::proxy
