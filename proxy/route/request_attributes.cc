#include "proxy/route/request_attributes.h"

namespace ix::proxy {

RouteKind route_kind(proto::Message type) {
  using M = proto::Message;
  switch (type) {
    case M::RequestSubmit:
      return RouteKind::kSubmit;
    case M::RequestDeliver:
    case M::RequestAccept:
    case M::RequestReject:
    case M::RequestPlaceInQueue:
    case M::RequestPlaceInWorkbin:
    case M::RequestTransfer:
    case M::RequestConference:
    case M::RequestLeaveInteraction:
    case M::RequestStopProcessing:
    case M::RequestChangeProperties:
    case M::RequestGetProperties:
    case M::RequestLock:
    case M::RequestUnlock:
      return RouteKind::kByInteraction;
    case M::RequestAgentLogin:
    case M::RequestAgentLogout:
    case M::RequestAgentReady:
    case M::RequestAgentNotReady:
    case M::RequestAgentDoNotDisturb:
    case M::RequestAgentAddMedia:
    case M::RequestAgentRemoveMedia:
    case M::RequestAgentStatus:
      return RouteKind::kAgent;
    case M::RequestPull:
      return RouteKind::kPull;
    case M::RequestWorkbinSubscribe:
      return RouteKind::kWorkbinListen;
    case M::RequestStartReporting:
    case M::RequestStopReporting:
      return RouteKind::kReporting;
    case M::RequestFind:
    case M::RequestWorkbinContent:
      return RouteKind::kQuery;
    case M::RequestTakeSnapshot:
    case M::RequestSnapshotPage:
    case M::RequestReleaseSnapshot:
      return RouteKind::kSnapshot;
    case M::RequestLease:
      return RouteKind::kLease;
    default:
      return RouteKind::kUnsupported;
  }
}

const char* route_name(RouteKind kind) {
  switch (kind) {
    case RouteKind::kSubmit: return "submit";
    case RouteKind::kByInteraction: return "interaction";
    case RouteKind::kAgent: return "agent";
    case RouteKind::kPull: return "pull";
    case RouteKind::kWorkbinListen: return "workbin";
    case RouteKind::kSnapshot: return "snapshot";
    case RouteKind::kQuery: return "query";
    case RouteKind::kLease: return "lease";
    case RouteKind::kReporting: return "reporting";
    case RouteKind::kUnsupported: return "proxy";
  }
  return "proxy";
}

const flatbuffers::String* interaction_id_of(const proto::Envelope& e) {
  using M = proto::Message;
  switch (e.body_type()) {
    case M::RequestDeliver: return e.body_as_RequestDeliver()->interaction_id();
    case M::RequestAccept: return e.body_as_RequestAccept()->interaction_id();
    case M::RequestReject: return e.body_as_RequestReject()->interaction_id();
    case M::RequestPlaceInQueue: return e.body_as_RequestPlaceInQueue()->interaction_id();
    case M::RequestPlaceInWorkbin: return e.body_as_RequestPlaceInWorkbin()->interaction_id();
    case M::RequestTransfer: return e.body_as_RequestTransfer()->interaction_id();
    case M::RequestConference: return e.body_as_RequestConference()->interaction_id();
    case M::RequestLeaveInteraction: return e.body_as_RequestLeaveInteraction()->interaction_id();
    case M::RequestStopProcessing: return e.body_as_RequestStopProcessing()->interaction_id();
    case M::RequestChangeProperties: return e.body_as_RequestChangeProperties()->interaction_id();
    case M::RequestGetProperties: return e.body_as_RequestGetProperties()->interaction_id();
    case M::RequestLock: return e.body_as_RequestLock()->interaction_id();
    case M::RequestUnlock: return e.body_as_RequestUnlock()->interaction_id();
    default: return nullptr;
  }
}

}  // namespace ix::proxy
