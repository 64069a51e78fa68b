// SubmitRouter: picks the node pair for a new interaction (DESIGN.md §5): among the pairs that
// serve the tenant, list the media type and have submit enabled, the next reachable one in
// round-robin order. 2001 when no pair is eligible (or the media type is disabled); 2002 when
// eligible pairs exist but none can be asked now. Pure apart from its rotation counter.
//
// A submit with a request_id (an idempotency key) must reach the pair that may already have
// applied it, whichever proxy the retry comes through: it goes to the eligible pair its
// (tenant, request_id) hashes highest with (rendezvous hashing: the same pair on every proxy,
// and only the keys of a pair that is added or removed move). When that pair has no primary the
// submit gets 2002 rather than another pair, which could create the interaction a second time;
// the client retries with the same key once the pair has failed over.
#pragma once

#include <string>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/messages.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

class SubmitRouter {
 public:
  Result<PairIndex> choose(const RoutingTable& table, const std::string& tenant, const std::string& media,
                           const std::vector<bool>& reachable);
  Result<PairIndex> choose_for_key(const RoutingTable& table, const std::string& tenant, const std::string& media,
                                   const std::string& request_id, const std::vector<bool>& reachable) const;

 private:
  size_t next_ = 0;
};

}  // namespace ix::proxy
