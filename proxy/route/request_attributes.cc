#include "proxy/route/request_attributes.h"

namespace ix::proxy {

RouteKind route_kind(proto::Message type) { return wire::message_info(type).route; }

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
  const wire::MessageInfo& info = wire::message_info(e.body_type());
  return info.attribute == wire::RoutingAttribute::kInteractionId ? wire::routing_attribute_of(e) : nullptr;
}

}  // namespace ix::proxy
