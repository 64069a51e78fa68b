// Requests addressed by interaction ID (accept, reject, stop, place in queue/workbin, change or
// get properties, transfer, lock; DESIGN.md §4–§5): to the owning pair — from the ID's tag, else
// the interaction cache, else by asking every candidate pair (owner_lookup.h: 2003 when one that
// could own it cannot be asked, 2005 when more than one owns it).
#pragma once

#include "proxy/requests/request_context.h"

namespace ix::proxy {

void handle_by_interaction_id(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request);

}  // namespace ix::proxy
