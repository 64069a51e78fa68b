// Pulls by routing engines (DESIGN.md §5): across the pairs serving the tenant one after
// another (PullPass: a first pass without waiting, then a holding pass capped by
// pull-hold-timeout), or, for a view with ordered-pull, in the view's order across the pairs:
// the head of the view on every pair (a find in the view's order), then from each pair as many
// as it holds of the interactions a single server would hand out next.
#pragma once

#include "proxy/requests/request_context.h"

namespace ix::proxy {

void handle_pull(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request);

}  // namespace ix::proxy
