#include "protocol/wire/message_table.h"

#include <array>

namespace ix::wire {

namespace {

using C = proto::ClientType;
using M = proto::Message;

template <class T, const flatbuffers::String* (T::*Field)() const>
const flatbuffers::String* string_field(const proto::Envelope& envelope) {
  const T* body = envelope.body_as<T>();
  return body ? (body->*Field)() : nullptr;
}

template <class T>
const proto::ReportingHeader* header_field(const proto::Envelope& envelope) {
  const T* body = envelope.body_as<T>();
  return body ? body->header() : nullptr;
}

constexpr uint8_t kEveryClient = client_bit(C::AgentApplication) | client_bit(C::MediaServer) |
                                 client_bit(C::RoutingEngine) | client_bit(C::ReportingEngine);
constexpr uint8_t kAgents = client_bit(C::AgentApplication);
// Media servers submit and stop; desktops and routing engines may too (a transfer to a new
// interaction, a strategy that ends one).
constexpr uint8_t kCreators = client_bit(C::MediaServer) | client_bit(C::AgentApplication) | client_bit(C::RoutingEngine);
// Routing engines and desktops move interactions and read queues.
constexpr uint8_t kRouters = client_bit(C::RoutingEngine) | client_bit(C::AgentApplication);
constexpr uint8_t kReporters = client_bit(C::ReportingEngine);
// Server processes electing one of them (never agent desktops).
constexpr uint8_t kServers = client_bit(C::MediaServer) | client_bit(C::RoutingEngine) | client_bit(C::ReportingEngine);

constexpr MessageInfo event(M type, const char* name) { return {type, name, Direction::kEvent}; }

constexpr MessageInfo reporting_event(M type, const char* name, ReportingKind kind, HeaderAccessor header) {
  return {type, name, Direction::kEvent, 0, Route::kUnsupported, RoutingAttribute::kNone, nullptr, kind, header};
}

constexpr MessageInfo request(M type, const char* name, uint8_t clients, Route route,
                              RoutingAttribute attribute = RoutingAttribute::kNone, StringAccessor accessor = nullptr) {
  return {type, name, Direction::kRequest, clients, route, attribute, accessor};
}

#define IX_EVENT(Name) event(M::Name, #Name)
#define IX_INTERACTION_EVENT(Name) \
  reporting_event(M::Name, #Name, ReportingKind::kInteraction, &header_field<proto::Name>)
#define IX_AGENT_EVENT(Name) reporting_event(M::Name, #Name, ReportingKind::kAgent, &header_field<proto::Name>)
#define IX_REQUEST(Name, clients, route) request(M::Name, #Name, clients, Route::route)
#define IX_ROUTED(Name, clients, route, attribute, field) \
  request(M::Name, #Name, clients, Route::route, RoutingAttribute::attribute, &string_field<proto::Name, &proto::Name::field>)
#define IX_BY_ID(Name, clients) IX_ROUTED(Name, clients, kByInteraction, kInteractionId, interaction_id)
#define IX_AGENT(Name) IX_ROUTED(Name, kAgents, kAgent, kTenant, tenant_id)

// In the schema's order: row i describes enum value i.
constexpr MessageInfo kRows[] = {
    {},  // NONE
    IX_REQUEST(RequestRegisterClient, kEveryClient, kUnsupported),  // answered by whoever is connected to
    IX_EVENT(EventClientRegistered),

    IX_AGENT(RequestAgentLogin),
    IX_AGENT(RequestAgentLogout),
    IX_AGENT(RequestAgentReady),
    IX_AGENT(RequestAgentNotReady),
    IX_AGENT(RequestAgentDoNotDisturb),
    IX_AGENT(RequestAgentAddMedia),
    IX_AGENT(RequestAgentRemoveMedia),
    IX_AGENT(RequestAgentStatus),
    IX_EVENT(EventAgentStatus),
    IX_EVENT(EventAgentStateChanged),
    IX_EVENT(EventInvite),
    IX_EVENT(EventRevoked),

    IX_ROUTED(RequestSubmit, kCreators, kSubmit, kTenant, tenant_id),
    IX_EVENT(EventSubmitted),
    IX_ROUTED(RequestPull, kRouters, kPull, kTenant, tenant_id),
    IX_EVENT(EventPulled),
    IX_BY_ID(RequestDeliver, kRouters),
    IX_BY_ID(RequestAccept, kAgents),
    IX_BY_ID(RequestReject, kAgents),
    IX_BY_ID(RequestPlaceInQueue, kRouters),
    IX_BY_ID(RequestPlaceInWorkbin, kRouters),
    IX_BY_ID(RequestTransfer, kAgents),
    IX_BY_ID(RequestConference, kAgents),
    IX_BY_ID(RequestStopProcessing, kCreators),
    IX_BY_ID(RequestChangeProperties, kEveryClient),
    IX_BY_ID(RequestGetProperties, kEveryClient),
    IX_EVENT(EventProperties),
    IX_BY_ID(RequestLock, kRouters),
    IX_BY_ID(RequestUnlock, kRouters),
    IX_ROUTED(RequestFind, kEveryClient, kQuery, kTenant, tenant_id),
    IX_EVENT(EventFindResult),
    IX_ROUTED(RequestWorkbinContent, kAgents, kQuery, kTenant, tenant_id),
    IX_EVENT(EventWorkbinContent),
    IX_ROUTED(RequestWorkbinSubscribe, kAgents, kWorkbinListen, kTenant, tenant_id),
    IX_EVENT(EventWorkbinChanged),

    IX_ROUTED(RequestTakeSnapshot, kRouters, kSnapshot, kTenant, tenant_id),
    IX_EVENT(EventSnapshotTaken),
    IX_ROUTED(RequestSnapshotPage, kRouters, kSnapshot, kSnapshotId, snapshot_id),
    IX_EVENT(EventSnapshotPage),
    IX_ROUTED(RequestReleaseSnapshot, kRouters, kSnapshot, kSnapshotId, snapshot_id),

    IX_REQUEST(RequestStartReporting, kReporters, kReporting),
    IX_REQUEST(RequestStopReporting, kReporters, kReporting),
    IX_INTERACTION_EVENT(EventInteractionSubmitted),
    IX_INTERACTION_EVENT(EventPlacedInQueue),
    IX_INTERACTION_EVENT(EventTakenFromQueue),
    IX_INTERACTION_EVENT(EventPlacedInWorkbin),
    IX_INTERACTION_EVENT(EventTakenFromWorkbin),
    IX_INTERACTION_EVENT(EventPartyAdded),
    IX_INTERACTION_EVENT(EventPartyRemoved),
    IX_INTERACTION_EVENT(EventAgentInvited),
    IX_INTERACTION_EVENT(EventInvitationRejected),
    IX_INTERACTION_EVENT(EventInvitationRevoked),
    IX_INTERACTION_EVENT(EventProcessingStopped),
    IX_INTERACTION_EVENT(EventPropertiesChanged),
    IX_AGENT_EVENT(EventAgentLogin),
    IX_AGENT_EVENT(EventAgentLogout),
    IX_AGENT_EVENT(EventAgentReady),
    IX_AGENT_EVENT(EventAgentNotReady),
    IX_AGENT_EVENT(EventMediaAdded),
    IX_AGENT_EVENT(EventMediaRemoved),
    IX_AGENT_EVENT(EventDoNotDisturbOn),
    IX_AGENT_EVENT(EventDoNotDisturbOff),
    IX_AGENT_EVENT(EventAgentReasonChanged),

    IX_REQUEST(RequestPing, kEveryClient, kUnsupported),  // a node answers; a proxy answers 2000
    IX_EVENT(EventPong),
    IX_EVENT(EventServerRoleChanged),

    IX_EVENT(EventAck),
    IX_EVENT(EventError),

    IX_BY_ID(RequestLeaveInteraction, kAgents),

    // A reporting engine's (and the pacing module's) starting point on one pair; the proxy asks
    // every pair itself and does not route it for clients (2000).
    IX_REQUEST(RequestReportingState, kReporters, kUnsupported),
    IX_EVENT(EventReportingState),

    IX_ROUTED(RequestLease, kServers, kLease, kLeaseName, name),
    IX_EVENT(EventLease),
};

#undef IX_EVENT
#undef IX_INTERACTION_EVENT
#undef IX_AGENT_EVENT
#undef IX_REQUEST
#undef IX_ROUTED
#undef IX_BY_ID
#undef IX_AGENT

constexpr size_t kTypeCount = static_cast<size_t>(M::MAX) + 1;

// Every row at its enum value, a request exactly when its name says so. (The names themselves
// are compared with the schema's by tests/protocol/wire/message_table_test.cc: EnumNamesMessage
// is not constexpr.)
constexpr bool rows_in_schema_order() {
  if (std::size(kRows) != kTypeCount) return false;
  for (size_t i = 1; i < kTypeCount; ++i) {
    const MessageInfo& row = kRows[i];
    if (static_cast<size_t>(row.type) != i) return false;
    if ((row.name[0] == 'R') != (row.direction == Direction::kRequest)) return false;
  }
  return true;
}

static_assert(std::size(kRows) == kTypeCount,
              "a message type was added to or removed from ixcluster.fbs: give it its row in kRows");
static_assert(rows_in_schema_order(), "kRows must list the message types in the schema's order");

}  // namespace

std::span<const MessageInfo> message_table() { return kRows; }

const MessageInfo& message_info(proto::Message type) {
  const auto index = static_cast<size_t>(type);
  return index < kTypeCount ? kRows[index] : kRows[0];
}

}  // namespace ix::wire
