// RequestLease through the proxy: named leases (protocol/schema/ixcluster.fbs, "Named leases")
// live in one node pair's database — `[pacing] lease-pair`, else the cluster's first pair — and
// the proxy routes every lease request there, to whichever node of the pair is primary (the
// backup once it has taken over: the lease is in the shared database, so it answers the same
// holder and fencing number). Bad input is refused here, before anything is sent. No definite
// answer is 2002: the pair has no primary now (nothing was sent), or the request was sent and
// its answer was lost (the lease may or may not have changed: ask again, the answer says).
//
// Two ways in, both on a worker's loop thread: handle_lease() for a client's request, and
// ask_lease() for the proxy's own (the pacing module, through ProxyServer::lease_call()).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "proxy/requests/request_context.h"

namespace ix::proxy {

// The pair that holds named leases, by the table's configuration; nullopt only for a cluster
// without pairs (which does not load).
std::optional<PairIndex> lease_pair(const RoutingTable& table);

// A client's RequestLease: checked, then forwarded to the lease pair's primary; the node's
// EventLease (or refusal) goes back re-addressed.
void handle_lease(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request);

// The proxy's own lease request and its answer: the EventLease, or the error (the check's, the
// node's, or 2002).
struct LeaseRequest {
  std::string name;
  std::string holder;
  proto::LeaseOperation operation = proto::LeaseOperation::Acquire;
  uint32_t ttl_ms = 0;
};
using LeaseAnswer = Result<proto::EventLeaseT>;
using LeaseDone = std::function<void(LeaseAnswer)>;

// Asks the lease pair on the context's worker; done runs once, on a later turn of that loop.
void ask_lease(RequestContext& ctx, const LeaseRequest& request, LeaseDone done);

}  // namespace ix::proxy
