// SubmitRouter: picks the node pair for a new interaction (DESIGN.md §5): among the pairs that
// serve the tenant, list the media type and have submit enabled, the next reachable one in
// round-robin order. 2001 when no pair is eligible (or the media type is disabled); 2002 when
// eligible pairs exist but none can be asked now. Pure apart from its rotation counter.
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

 private:
  size_t next_ = 0;
};

}  // namespace ix::proxy
