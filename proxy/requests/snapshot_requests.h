// Snapshots across pairs (DESIGN.md §5, proxy/route/cluster_snapshot.h). A snapshot is taken
// on every pair serving the tenant, all or nothing; its ID lists the parts and the order, so any
// proxy can page or release it. Pages come in the snapshot's order across the parts
// (SnapshotCursor, cached in the context so that paging on continues where it stopped). A part
// whose pair cannot be reached, or whose node no longer has it, is 2006.
#pragma once

#include "proxy/requests/request_context.h"

namespace ix::proxy {

void handle_take_snapshot(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, const Outgoing& request);
void handle_snapshot_page(RequestContext& ctx, const Call& call, const proto::Envelope& envelope);
void handle_release_snapshot(RequestContext& ctx, const Call& call, const proto::Envelope& envelope);

}  // namespace ix::proxy
