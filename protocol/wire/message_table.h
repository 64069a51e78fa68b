// The message table: one row per message type of the schema, the single place that says, for
// each type, whether it is a request or an event, which client types may send it, how the proxy
// routes it, which routing attribute it carries (and how to read it), and which reporting class
// an event belongs to. The node (registration gate, reporting filters), the proxy (client gate,
// dispatch, routing attributes, reporting merge) and the tests read these answers from here, so a
// message added to the schema cannot fall back to a default somewhere: the table is indexed by
// the schema's enum and its build fails (static_assert in message_table.cc) until the new type
// has its row, and tests/protocol/wire/message_table_test.cc walks the schema's type list.
// Pure data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>

#include "protocol/wire/ixcluster_generated.h"

namespace ix::wire {

enum class Direction : uint8_t { kRequest, kEvent };

// How the proxy routes a request (DESIGN.md §5). Events are never routed (kUnsupported).
enum class Route : uint8_t {
  kSubmit,          // one eligible pair
  kByInteraction,   // the pair owning the interaction ID
  kAgent,           // every pair serving the tenant, one reply
  kPull,            // spread over the pairs serving the tenant
  kWorkbinListen,   // every pair serving the tenant, one reply
  kSnapshot,        // every pair serving the tenant; parts named in the snapshot ID
  kQuery,           // find, workbin content: candidate pairs, merged in order
  kReporting,       // the proxy's merged reporting stream
  kLease,           // the lease pair ([pacing] lease-pair, else the first pair)
  kUnsupported,     // answered by the proxy itself (2000, or registration); keep last
};
inline constexpr size_t kRouteCount = static_cast<size_t>(Route::kUnsupported) + 1;

// The one string attribute a request is routed by.
enum class RoutingAttribute : uint8_t {
  kNone,           // routed without one (registration, ping, reporting, events)
  kTenant,         // tenant_id: the pairs serving the tenant
  kInteractionId,  // interaction_id: the owning pair
  kSnapshotId,     // snapshot_id: the parts it names
  kLeaseName,      // name: the lease pair
};

// The reporting class of an event (what RequestStartReporting.classes selects).
enum class ReportingKind : uint8_t { kNone, kInteraction, kAgent };

using StringAccessor = const flatbuffers::String* (*)(const proto::Envelope&);
using HeaderAccessor = const proto::ReportingHeader* (*)(const proto::Envelope&);

struct MessageInfo {
  proto::Message type = proto::Message::NONE;
  const char* name = "";  // the schema's name of the type
  Direction direction = Direction::kEvent;
  uint8_t clients = 0;    // requests: a bit per proto::ClientType that may send it straight to a node
  Route route = Route::kUnsupported;
  RoutingAttribute attribute = RoutingAttribute::kNone;
  StringAccessor attribute_of = nullptr;  // reads `attribute` (null when kNone or absent)
  ReportingKind reporting = ReportingKind::kNone;
  HeaderAccessor header_of = nullptr;     // reporting events: their ReportingHeader
};

constexpr uint8_t client_bit(proto::ClientType type) { return static_cast<uint8_t>(1u << static_cast<unsigned>(type)); }

// Every row, indexed by the enum value (row 0 is NONE).
std::span<const MessageInfo> message_table();
// The row of `type`; for a value outside the schema, a row with type NONE that is neither
// routed, sendable nor reporting.
const MessageInfo& message_info(proto::Message type);

// Which client types may send which requests: media servers submit and stop, routing engines
// pull and place, agent desktops handle, reporting engines subscribe, server processes (not
// desktops) take named leases. A proxy may send every request for its clients (a node trusts it;
// the proxy enforces this table on its own clients first).
inline bool client_may_send(proto::ClientType client, proto::Message request) {
  const MessageInfo& info = message_info(request);
  if (info.direction != Direction::kRequest) return false;
  if (client == proto::ClientType::Proxy) return true;
  return (info.clients & client_bit(client)) != 0;
}

// The routing attribute of a verified envelope (null when the request has none or left it out).
inline const flatbuffers::String* routing_attribute_of(const proto::Envelope& envelope) {
  const MessageInfo& info = message_info(envelope.body_type());
  return info.attribute_of ? info.attribute_of(envelope) : nullptr;
}

}  // namespace ix::wire
