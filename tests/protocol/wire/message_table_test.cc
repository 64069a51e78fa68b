// The message table (protocol/wire/message_table.h) against the schema: every message type the
// schema's union lists (walked through flatc's mini-reflection, so a new message is seen without
// a change here) has its own row — not a default — and each column says something real: requests
// are sendable by someone and routed (or answered by the proxy on purpose, from a short list),
// the routing attribute the row names is the field its accessor reads, and every table of the
// schema that carries a ReportingHeader is a reporting event of one class.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "protocol/wire/message_table.h"
#include "protocol/wire/messages.h"
#include "tests/support/message_forge.h"

namespace ix {
namespace {

using wire::Direction;
using wire::MessageInfo;
using wire::ReportingKind;
using wire::Route;
using wire::RoutingAttribute;

const char* attribute_field(RoutingAttribute attribute) {
  switch (attribute) {
    case RoutingAttribute::kTenant: return "tenant_id";
    case RoutingAttribute::kInteractionId: return "interaction_id";
    case RoutingAttribute::kSnapshotId: return "snapshot_id";
    case RoutingAttribute::kLeaseName: return "name";
    case RoutingAttribute::kNone: return "";
  }
  return "";
}

TEST(MessageTable, EveryMessageTypeOfTheSchemaHasItsOwnRow) {
  const std::vector<proto::Message> types = test::schema_message_types();
  ASSERT_GT(types.size(), 70u);
  EXPECT_EQ(wire::message_table().size(), types.size() + 1) << "row 0 is NONE, then one row per type";
  for (proto::Message type : types) {
    const MessageInfo& info = wire::message_info(type);
    SCOPED_TRACE(proto::EnumNameMessage(type));
    EXPECT_EQ(info.type, type) << "no row of its own: it would fall back to the default row";
    EXPECT_STREQ(info.name, proto::EnumNameMessage(type));
    EXPECT_EQ(info.direction == Direction::kRequest, std::string(info.name).starts_with("Request"));
    EXPECT_EQ(wire::is_request(type), info.direction == Direction::kRequest);
  }
  // A value outside the schema gets the NONE row: neither sendable, routed nor reporting.
  const MessageInfo& unknown = wire::message_info(static_cast<proto::Message>(250));
  EXPECT_EQ(unknown.type, proto::Message::NONE);
  EXPECT_FALSE(wire::client_may_send(proto::ClientType::Proxy, static_cast<proto::Message>(250)));
}

// Requests the proxy answers itself instead of routing; anything else must have a route, so a
// new request cannot end up answered 2000 by accident.
const std::set<proto::Message> kAnsweredByTheProxy = {
    proto::Message::RequestRegisterClient,  // registration with the proxy itself
    proto::Message::RequestPing,            // 2000: monitor the nodes directly
    proto::Message::RequestReportingState,  // 2000: the proxy asks every pair itself (pacing)
};

TEST(MessageTable, EveryRequestIsSendableAndRoutedOrAnsweredByTheProxyOnPurpose) {
  for (proto::Message type : test::schema_message_types()) {
    const MessageInfo& info = wire::message_info(type);
    SCOPED_TRACE(info.name);
    if (info.direction == Direction::kEvent) {
      EXPECT_EQ(info.clients, 0) << "nobody sends an event";
      EXPECT_EQ(info.route, Route::kUnsupported);
      EXPECT_EQ(info.attribute, RoutingAttribute::kNone);
      for (int c = 0; c <= static_cast<int>(proto::ClientType::MAX); ++c) {
        EXPECT_FALSE(wire::client_may_send(static_cast<proto::ClientType>(c), type));
      }
      continue;
    }
    EXPECT_NE(info.clients, 0) << "no client type may send it";
    EXPECT_EQ(info.clients & wire::client_bit(proto::ClientType::Unknown), 0);
    EXPECT_TRUE(wire::client_may_send(proto::ClientType::Proxy, type)) << "a node trusts a proxy with every request";
    EXPECT_EQ(info.route == Route::kUnsupported, kAnsweredByTheProxy.contains(type));
    if (info.route == Route::kByInteraction) {
      EXPECT_EQ(info.attribute, RoutingAttribute::kInteractionId);
    }
    if (info.route == Route::kAgent || info.route == Route::kSubmit || info.route == Route::kPull ||
        info.route == Route::kQuery || info.route == Route::kWorkbinListen) {
      EXPECT_EQ(info.attribute, RoutingAttribute::kTenant);
    }
  }
}

TEST(MessageTable, TheRoutingAttributeIsTheFieldItsAccessorReads) {
  for (proto::Message type : test::schema_message_types()) {
    const MessageInfo& info = wire::message_info(type);
    SCOPED_TRACE(info.name);
    const flatbuffers::TypeTable* body = test::body_type_table(type);
    ASSERT_NE(body, nullptr);
    if (info.attribute == RoutingAttribute::kNone) {
      EXPECT_EQ(info.attribute_of, nullptr);
      continue;
    }
    const std::string field = attribute_field(info.attribute);
    const int index = test::field_index(body, field);
    ASSERT_GE(index, 0) << "the body has no field " << field;
    EXPECT_EQ(body->type_codes[index].base_type, flatbuffers::ET_STRING);
    ASSERT_NE(info.attribute_of, nullptr);
    // Only that field carries the marker; every other string field says something else.
    test::FieldFill fill;
    fill.strings = "other";
    fill.named = {{field, "the-attribute"}};
    wire::Frame frame = test::forge_frame(type, 1, 0, fill);
    auto envelope = wire::verify_envelope(std::span(frame).subspan(wire::kFrameHeaderSize));
    ASSERT_TRUE(envelope.ok()) << envelope.error().text;
    const flatbuffers::String* value = wire::routing_attribute_of(**envelope);
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(value->str(), "the-attribute");
    // Absent, it reads as absent (the proxy answers MissingAttribute naming it).
    wire::Frame bare = test::forge_frame(type, 1, 0, {});
    auto bare_envelope = wire::verify_envelope(std::span(bare).subspan(wire::kFrameHeaderSize));
    ASSERT_TRUE(bare_envelope.ok());
    EXPECT_EQ(wire::routing_attribute_of(**bare_envelope), nullptr);
  }
}

TEST(MessageTable, EveryTableWithAReportingHeaderIsAReportingEventOfOneClass) {
  size_t reporting = 0;
  for (proto::Message type : test::schema_message_types()) {
    const MessageInfo& info = wire::message_info(type);
    SCOPED_TRACE(info.name);
    const flatbuffers::TypeTable* body = test::body_type_table(type);
    const int header = test::field_index(body, "header");
    const bool has_header = header >= 0 && body->type_codes[header].sequence_ref >= 0 &&
                            body->type_refs[body->type_codes[header].sequence_ref]() == proto::ReportingHeaderTypeTable();
    EXPECT_EQ(has_header, info.reporting != ReportingKind::kNone);
    EXPECT_EQ(has_header, info.header_of != nullptr);
    if (!has_header) continue;
    ++reporting;
    EXPECT_EQ(info.direction, Direction::kEvent);
    EXPECT_EQ(wire::is_agent_event(type), info.reporting == ReportingKind::kAgent);
    // The accessor reads this type's header.
    test::FieldFill fill;
    fill.strings = "x";
    fill.empty_tables = true;
    wire::Frame frame = test::forge_frame(type, 1, 0, fill);
    const proto::Envelope* envelope = proto::GetEnvelope(frame.data() + wire::kFrameHeaderSize);
    EXPECT_NE(wire::reporting_header(*envelope), nullptr);
  }
  EXPECT_EQ(reporting, 21u) << "the reporting events of DESIGN.md §3";
}

// The policy itself, as the node and the proxy enforce it.
TEST(MessageTable, WhoMaySendWhat) {
  using C = proto::ClientType;
  using M = proto::Message;
  EXPECT_TRUE(wire::client_may_send(C::MediaServer, M::RequestSubmit));
  EXPECT_FALSE(wire::client_may_send(C::ReportingEngine, M::RequestSubmit));
  EXPECT_TRUE(wire::client_may_send(C::RoutingEngine, M::RequestPull));
  EXPECT_FALSE(wire::client_may_send(C::MediaServer, M::RequestPull));
  EXPECT_TRUE(wire::client_may_send(C::AgentApplication, M::RequestAgentLogin));
  EXPECT_FALSE(wire::client_may_send(C::RoutingEngine, M::RequestAgentLogin));
  EXPECT_TRUE(wire::client_may_send(C::ReportingEngine, M::RequestStartReporting));
  EXPECT_TRUE(wire::client_may_send(C::ReportingEngine, M::RequestReportingState));
  EXPECT_FALSE(wire::client_may_send(C::AgentApplication, M::RequestReportingState))
      << "once the fallback row let desktops (only) ask for the reporting state";
  EXPECT_FALSE(wire::client_may_send(C::AgentApplication, M::RequestLease));
  EXPECT_TRUE(wire::client_may_send(C::RoutingEngine, M::RequestLease));
  EXPECT_FALSE(wire::client_may_send(C::Unknown, M::RequestPing));
}

}  // namespace
}  // namespace ix
