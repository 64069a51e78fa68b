// Submit (DESIGN.md §4–§5): to one eligible pair (SubmitRouter: serves the tenant, lists the
// media type, submit enabled, balanced); a client-supplied ID is first looked for on every pair
// and refused if it exists anywhere (2005 when more than one pair has it).
#pragma once

#include "proxy/requests/request_context.h"

namespace ix::proxy {

void handle_submit(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request);

}  // namespace ix::proxy
