// How the proxy routes each request type (DESIGN.md §5), and the routing attributes it reads
// from a request. Pure functions over verified envelopes.
#pragma once

#include <cstddef>
#include <string>

#include "protocol/wire/ixcluster_generated.h"

namespace ix::proxy {

enum class RouteKind {
  kSubmit,          // one eligible pair
  kByInteraction,   // the pair owning the interaction ID
  kAgent,           // every pair serving the tenant, one reply
  kPull,            // spread over the pairs serving the tenant
  kWorkbinListen,   // every pair serving the tenant, one reply
  kSnapshot,        // every pair serving the tenant; parts named in the snapshot ID
  kQuery,           // find, workbin content: candidate pairs, merged in order
  kReporting,       // the proxy's merged reporting stream
  kLease,           // the lease pair ([pacing] lease-pair, else the first pair)
  kUnsupported,     // answered by the proxy with 2000; keep last
};
inline constexpr size_t kRouteKindCount = static_cast<size_t>(RouteKind::kUnsupported) + 1;

RouteKind route_kind(proto::Message type);
const char* route_name(RouteKind kind);

// The interaction ID a by-interaction request names, or null when it is missing.
const flatbuffers::String* interaction_id_of(const proto::Envelope& envelope);

}  // namespace ix::proxy
