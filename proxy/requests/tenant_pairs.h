// The routing preamble of every request addressed to a tenant (submit, pull, find, workbin
// content and subscription, snapshots, agents): the pairs that serve the tenant, or the one
// error for each way that fails (DESIGN.md §5) — MissingAttribute when the request names no
// tenant, InvalidAttribute when it names one this cluster does not have, 2001 when no pair
// serves it. Pure; any thread.
#pragma once

#include <string>

#include "protocol/result.h"
#include "protocol/wire/ixcluster_generated.h"
#include "proxy/route/routing_table.h"

namespace ix::proxy {

Result<PairSet> tenant_pairs(const RoutingTable& table, proto::Message request, const std::string& tenant);

// "RequestFind.tenant_id is required to route the request"
Error missing_attribute(proto::Message request, const char* attribute);

}  // namespace ix::proxy
