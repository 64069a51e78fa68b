// Which client types may send which requests. One table, shared by the node (which enforces it
// on direct clients) and the proxy (which enforces it before forwarding, since a node trusts a
// proxy with everything): media servers submit and stop, routing engines pull and place, agent
// desktops handle, reporting engines subscribe, server processes (not desktops) take named leases, and a proxy may send anything for its clients.
#pragma once

#include "protocol/wire/ixcluster_generated.h"

namespace ix::wire {

inline bool client_may_send(proto::ClientType client, proto::Message request) {
  using C = proto::ClientType;
  using M = proto::Message;
  if (client == C::Proxy) return true;
  switch (request) {
    case M::RequestRegisterClient:
    case M::RequestPing:
    case M::RequestGetProperties:
    case M::RequestChangeProperties:
    case M::RequestFind:
      return true;
    case M::RequestSubmit:
    case M::RequestStopProcessing:
      return client == C::MediaServer || client == C::AgentApplication || client == C::RoutingEngine;
    case M::RequestPull:
    case M::RequestPlaceInQueue:
    case M::RequestPlaceInWorkbin:
    case M::RequestDeliver:
    case M::RequestLock:
    case M::RequestUnlock:
    case M::RequestTakeSnapshot:
    case M::RequestSnapshotPage:
    case M::RequestReleaseSnapshot:
      return client == C::RoutingEngine || client == C::AgentApplication;
    case M::RequestStartReporting:
    case M::RequestStopReporting:
      return client == C::ReportingEngine;
    case M::RequestLease:  // server processes electing one of them (never agent desktops)
      return client == C::MediaServer || client == C::RoutingEngine || client == C::ReportingEngine;
    default:  // agent management, delivery answers, workbins
      return client == C::AgentApplication;
  }
}

}  // namespace ix::wire
