// Find and workbin content across pairs (DESIGN.md §5, §7): fanned out to the candidate pairs
// and merged in the requested order (workbins: the order items were placed) with the limit
// applied to the merged result (proxy/route/ordered_merge.h). When a find's condition names the
// media types a match must have, only the pairs that can hold those media are asked. A pair
// that cannot be asked fails the request with 2002 unless the client accepts a partial result.
#pragma once

#include "proxy/requests/request_context.h"

namespace ix::proxy {

void handle_find(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, const Outgoing& request);
void handle_workbin_content(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, const Outgoing& request);

}  // namespace ix::proxy
