// How the proxy routes each request type (DESIGN.md §5), and the routing attributes it reads
// from a request: both read from the message table. Pure functions over verified envelopes.
#pragma once

#include <cstddef>
#include <string>

#include "protocol/wire/ixcluster_generated.h"
#include "protocol/wire/message_table.h"

namespace ix::proxy {

// The route of each request type is a column of the message table (protocol/wire/message_table.h).
using RouteKind = wire::Route;
inline constexpr size_t kRouteKindCount = wire::kRouteCount;

RouteKind route_kind(proto::Message type);
const char* route_name(RouteKind kind);

// The interaction ID a by-interaction request names, or null when it is missing.
const flatbuffers::String* interaction_id_of(const proto::Envelope& envelope);

}  // namespace ix::proxy
