// Round trip of every message type in the schema, with every field set, plus verifier rejection
// of truncated, corrupted and random buffers. The messages are generated from the schema itself
// (flatbuffers::Parser), so a message added to ixcluster.fbs is covered without touching this
// test.
#include "protocol/wire/messages.h"

#include <flatbuffers/idl.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "protocol/wire/kv.h"
#include "protocol/wire/message_json.h"

namespace ix::wire {
namespace {

using flatbuffers::BaseType;

class SchemaMessages {
 public:
  SchemaMessages() {
    std::ifstream in(IX_SCHEMA_PATH);
    std::stringstream text;
    text << in.rdbuf();
    ok_ = parser_.Parse(text.str().c_str());
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return parser_.error_; }
  flatbuffers::Parser& parser() { return parser_; }

  const flatbuffers::EnumDef& message_enum() { return *parser_.enums_.Lookup("ix.proto.Message"); }

  // A JSON envelope carrying `type` with every field of the message set to a non-default value.
  std::string envelope_json(const std::string& type) {
    const flatbuffers::StructDef* body = parser_.structs_.Lookup("ix.proto." + type);
    return "{ref_id: 77, client_id: 5, body_type: " + type + ", body: " + table(*body, 0) +
           ", extension: " + table(*parser_.structs_.Lookup("ix.proto.KvList"), 0) + "}";
  }

  // Parses JSON into a finished, identified Envelope buffer.
  std::vector<uint8_t> build(const std::string& json) {
    if (!parser_.Parse(json.c_str())) return {};
    const uint8_t* data = parser_.builder_.GetBufferPointer();
    return {data, data + parser_.builder_.GetSize()};
  }

  std::string text(const uint8_t* buffer) {
    std::string out;
    if (!flatbuffers::GenerateText(parser_, buffer, &out)) return "<GenerateText failed>";
    return out;
  }

 private:
  std::string table(const flatbuffers::StructDef& def, int depth) {
    std::string out = "{";
    for (const flatbuffers::FieldDef* field : def.fields.vec) {
      if (field->deprecated || field->value.type.base_type == BaseType::BASE_TYPE_UTYPE) continue;
      if (field->value.type.base_type == BaseType::BASE_TYPE_UNION) {
        // Rotate through the union's members so every member is exercised; deep down, pick a
        // scalar member so that nested lists end.
        const auto& vals = field->value.type.enum_def->Vals();
        const flatbuffers::EnumVal* pick = vals[1 + (union_turn_++ % (vals.size() - 1))];
        if (depth >= 2 && pick->union_type.struct_def->name == "KvList") pick = vals[1];
        out += field->name + "_type: " + pick->name + ", " + field->name + ": " +
               table(*pick->union_type.struct_def, depth + 1) + ", ";
        continue;
      }
      std::string value = field_value(*field, field->value.type, depth);
      if (value.empty()) continue;
      out += field->name + ": " + value + ", ";
    }
    return out + "}";
  }

  std::string scalar(const flatbuffers::FieldDef& field, const flatbuffers::Type& type) {
    if (type.enum_def != nullptr) {
      for (const flatbuffers::EnumVal* v : type.enum_def->Vals()) {
        if (std::to_string(v->GetAsInt64()) != field.value.constant) return v->name;
      }
    }
    if (type.base_type == BaseType::BASE_TYPE_BOOL) return field.value.constant == "0" ? "true" : "false";
    if (type.base_type == BaseType::BASE_TYPE_FLOAT || type.base_type == BaseType::BASE_TYPE_DOUBLE) return "2.5";
    return field.value.constant == "7" ? "8" : "7";
  }

  std::string field_value(const flatbuffers::FieldDef& field, const flatbuffers::Type& type, int depth) {
    switch (type.base_type) {
      case BaseType::BASE_TYPE_STRING:
        return "\"" + field.name + "-value\"";
      case BaseType::BASE_TYPE_STRUCT:
        // Nested key-value lists recurse; stop two levels down unless the field is required.
        if (depth >= 3 && !field.IsRequired()) return {};
        return table(*type.struct_def, depth + 1);
      case BaseType::BASE_TYPE_VECTOR: {
        flatbuffers::Type element = type.VectorType();
        std::string one = field_value(field, element, depth);
        if (one.empty()) return {};
        return "[" + one + ", " + field_value(field, element, depth) + "]";
      }
      default:
        return scalar(field, type);
    }
  }

  flatbuffers::Parser parser_;
  bool ok_ = false;
  size_t union_turn_ = 0;
};

TEST(Messages, EveryMessageTypeRoundTripsWithEveryField) {
  SchemaMessages schema;
  ASSERT_TRUE(schema.ok()) << schema.error();
  size_t covered = 0;
  for (const flatbuffers::EnumVal* value : schema.message_enum().Vals()) {
    if (value->GetAsInt64() == 0) continue;  // NONE
    SCOPED_TRACE(value->name);
    std::vector<uint8_t> original = schema.build(schema.envelope_json(value->name));
    ASSERT_FALSE(original.empty()) << schema.error();

    auto verified = verify_envelope(original);
    ASSERT_TRUE(verified.ok()) << verified.error().text;
    EXPECT_EQ(message_name((*verified)->body_type()), value->name);
    EXPECT_EQ((*verified)->ref_id(), 77u);
    EXPECT_EQ((*verified)->client_id(), 5u);

    // Through the native types, the typed encoder and the frame decoder, and back.
    std::unique_ptr<proto::EnvelopeT> native((*verified)->UnPack());
    Frame frame = encode_envelope(*native);
    FrameDecoder decoder;
    std::vector<uint8_t> decoded;
    ASSERT_EQ(decoder.feed(frame, [&](std::span<const uint8_t> p) { decoded.assign(p.begin(), p.end()); }),
              FrameDecoder::Status::kOk);
    auto reverified = verify_envelope(decoded);
    ASSERT_TRUE(reverified.ok()) << reverified.error().text;
    std::unique_ptr<proto::EnvelopeT> renative((*reverified)->UnPack());
    EXPECT_TRUE(*native == *renative);

    // Re-addressed (as a proxy forwards it): new ref_id and client_id, everything else intact,
    // and still a buffer the verifier accepts.
    Frame readdressed = readdress_envelope(original, 123456789012345ull, 0);
    std::vector<uint8_t> moved;
    ASSERT_EQ(decoder.feed(readdressed, [&](std::span<const uint8_t> p) { moved.assign(p.begin(), p.end()); }),
              FrameDecoder::Status::kOk);
    auto moved_verified = verify_envelope(moved);
    ASSERT_TRUE(moved_verified.ok()) << moved_verified.error().text;
    std::unique_ptr<proto::EnvelopeT> moved_native((*moved_verified)->UnPack());
    EXPECT_EQ(moved_native->ref_id, 123456789012345ull);
    EXPECT_EQ(moved_native->client_id, 0u);
    moved_native->ref_id = native->ref_id;
    moved_native->client_id = native->client_id;
    EXPECT_TRUE(*native == *moved_native);

    std::string before = schema.text(original.data());
    std::string after = schema.text(decoded.data());
    EXPECT_EQ(before, after);
    const flatbuffers::StructDef* def = schema.parser().structs_.Lookup("ix.proto." + value->name);
    for (const flatbuffers::FieldDef* field : def->fields.vec) {
      EXPECT_NE(after.find(field->name), std::string::npos) << "field " << field->name << " lost";
    }
    ++covered;
  }
  EXPECT_EQ(covered, static_cast<size_t>(proto::Message::MAX));
}

TEST(Messages, TypedHelpersBuildWhatTheyPromise) {
  Frame frame = encode_error(12, 3, proto::ErrorCode::ClusterLostConnection, "node pair-1 lost");
  auto envelope = verify_envelope(std::span(frame).subspan(kFrameHeaderSize));
  ASSERT_TRUE(envelope.ok());
  ASSERT_EQ((*envelope)->body_type(), proto::Message::EventError);
  EXPECT_EQ((*envelope)->ref_id(), 12u);
  EXPECT_EQ((*envelope)->client_id(), 3u);
  EXPECT_EQ((*envelope)->body_as_EventError()->code(), 2002);
  EXPECT_EQ((*envelope)->body_as_EventError()->text()->str(), "node pair-1 lost");

  frame = encode_register_client(1, proto::ClientType::ReportingEngine, "stat-server", {"t1", "t2"});
  envelope = verify_envelope(std::span(frame).subspan(kFrameHeaderSize));
  ASSERT_TRUE(envelope.ok());
  const auto* reg = (*envelope)->body_as_RequestRegisterClient();
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(reg->client_type(), proto::ClientType::ReportingEngine);
  EXPECT_EQ(reg->client_name()->str(), "stat-server");
  EXPECT_EQ(reg->tenant_ids()->size(), 2u);
  EXPECT_EQ(reg->protocol_version(), kProtocolVersion);
  EXPECT_TRUE(is_request(proto::Message::RequestRegisterClient));
  EXPECT_FALSE(is_request(proto::Message::EventError));
}

TEST(Messages, SubmitWithUserDataAndReportingHeader) {
  proto::RequestSubmitT submit;
  submit.tenant_id = "101";
  submit.media_type = "chat";
  submit.queue = "inbound";
  submit.priority = 5;
  submit.user_data = kv_list({{"Subject", "refund"}, {"Score", 42}, {"Blob", std::vector<uint8_t>{1, 2, 3}}});
  kv_set_list(*submit.user_data, "Customer", kv_list({{"Segment", "gold"}}));
  kv_set(*submit.user_data, {"Score", 43});  // replaces, does not duplicate
  Frame frame = encode_frame(9, 0, std::move(submit));
  auto envelope = verify_envelope(std::span(frame).subspan(kFrameHeaderSize));
  ASSERT_TRUE(envelope.ok());
  const proto::KvList* ud = (*envelope)->body_as_RequestSubmit()->user_data();
  EXPECT_EQ(ud->pairs()->size(), 4u);
  EXPECT_EQ(kv_string(ud, "Subject"), "refund");
  EXPECT_EQ(kv_int(ud, "Score"), 43);
  EXPECT_EQ(kv_int(ud, "Subject"), std::nullopt) << "a string is not an integer";
  EXPECT_EQ(kv_binary(ud, "Blob")->size(), 3u);
  EXPECT_EQ(kv_string(kv_nested(ud, "Customer"), "Segment"), "gold");
  EXPECT_EQ(kv_string(ud, "missing"), std::nullopt);

  proto::EventPlacedInQueueT placed;
  placed.header = std::make_unique<proto::ReportingHeaderT>();
  placed.header->node_id = "pair-1";
  placed.header->seq = 123456;
  placed.interaction_id = "01-abc";
  frame = encode_frame(0, 0, std::move(placed));
  envelope = verify_envelope(std::span(frame).subspan(kFrameHeaderSize));
  ASSERT_TRUE(envelope.ok());
  const proto::ReportingHeader* header = reporting_header(**envelope);
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header->seq(), 123456u);
  EXPECT_EQ(header->node_id()->str(), "pair-1");
}

TEST(Messages, UnknownMessageTypeIsNamed) {
  flatbuffers::FlatBufferBuilder builder;
  auto body = proto::CreateEventAck(builder);
  auto envelope = proto::CreateEnvelope(builder, 31, 0, static_cast<proto::Message>(250), body.Union());
  proto::FinishEnvelopeBuffer(builder, envelope);
  auto result = verify_envelope(builder.GetBufferSpan());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, static_cast<int>(proto::ErrorCode::UnknownMessage));
  EXPECT_EQ(result.error().text, "unknown message type 250");
}

TEST(Messages, WrongIdentifierAndEmptyEnvelopeAreRejected) {
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(proto::CreateEnvelope(builder, 1), "XXXX");
  auto result = verify_envelope(builder.GetBufferSpan());
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().text.find("file identifier"), std::string::npos);

  builder.Clear();
  proto::FinishEnvelopeBuffer(builder, proto::CreateEnvelope(builder, 1));
  result = verify_envelope(builder.GetBufferSpan());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().text, "envelope carries no message");
}

TEST(Messages, TruncatedBuffersFailVerification) {
  proto::RequestSubmitT submit;
  submit.tenant_id = "tenant";
  submit.media_type = "email";
  submit.user_data = kv_list({{"a", "b"}, {"c", 1}});
  Frame frame = encode_frame(1, 0, std::move(submit));
  std::span<const uint8_t> payload = std::span(frame).subspan(kFrameHeaderSize);
  for (size_t n = 0; n < payload.size(); ++n) {
    // An exactly sized heap copy, so that ASan sees any read past the end.
    std::unique_ptr<uint64_t[]> storage(new uint64_t[(n + 7) / 8 + 1]);
    std::memcpy(storage.get(), payload.data(), n);
    auto result = verify_envelope(std::span(reinterpret_cast<const uint8_t*>(storage.get()), n));
    if (n + 8 <= payload.size()) {
      EXPECT_FALSE(result.ok()) << "truncated to " << n << " of " << payload.size() << " bytes";
    } else if (result.ok()) {
      // Only trailing alignment padding was cut; the buffer must still read completely.
      std::unique_ptr<proto::EnvelopeT> native((*result)->UnPack());
      EXPECT_EQ(native->body.AsRequestSubmit()->media_type, "email");
    }
  }
}

TEST(Messages, CorruptedAndRandomBuffersNeverCrash) {
  proto::EventPulledT pulled;
  for (int i = 0; i < 3; ++i) {
    auto info = std::make_unique<proto::InteractionInfoT>();
    info->interaction_id = "id-" + std::to_string(i);
    info->user_data = kv_list({{"k", i}});
    pulled.interactions.push_back(std::move(info));
  }
  Frame frame = encode_frame(1, 0, std::move(pulled));
  std::vector<uint8_t> payload(frame.begin() + kFrameHeaderSize, frame.end());
  std::mt19937 rng(7);
  int rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    std::vector<uint8_t> corrupted = payload;
    for (int flips = 0; flips < 3; ++flips) corrupted[rng() % corrupted.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto result = verify_envelope(corrupted);
    if (!result.ok()) {
      ++rejected;
      continue;
    }
    // A buffer that passes must be safe to read completely.
    std::unique_ptr<proto::EnvelopeT> native((*result)->UnPack());
    EXPECT_NE(native, nullptr);
  }
  EXPECT_GT(rejected, 0);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> random(8 + rng() % 512);
    for (auto& b : random) b = static_cast<uint8_t>(rng());
    EXPECT_FALSE(verify_envelope(random).ok());
  }
}

TEST(Messages, DepthLimitStopsDeeplyNestedLists) {
  auto list = kv_list({{"leaf", 1}});
  for (int i = 0; i < 100; ++i) {
    auto outer = std::make_unique<proto::KvListT>();
    kv_set_list(*outer, "n", std::move(list));
    list = std::move(outer);
  }
  proto::RequestSubmitT submit;
  submit.user_data = std::move(list);
  Frame frame = encode_frame(1, 0, std::move(submit));
  auto result = verify_envelope(std::span(frame).subspan(kFrameHeaderSize), VerifyLimits{64, 1'000'000});
  EXPECT_FALSE(result.ok()) << "a list nested 100 deep exceeds the depth limit of 64";
}

std::unique_ptr<proto::KvListT> nested(int levels) {
  auto list = kv_list({{"leaf", 1}});
  for (int i = 1; i < levels; ++i) {
    auto outer = std::make_unique<proto::KvListT>();
    kv_set_list(*outer, "n", std::move(list));
    list = std::move(outer);
  }
  return list;
}

template <class Native>
Result<const proto::Envelope*> verify_native(const Native& message, Frame& frame) {
  frame = encode_frame(9, 0, message);
  return verify_envelope(std::span<const uint8_t>(frame).subspan(kFrameHeaderSize));
}

// Issue 18: whatever user data a request may carry, every event that returns it verifies — one
// table deeper, inside an InteractionInfo — and a request one level deeper is refused by name.
TEST(Messages, EveryEventReturnsUserDataAsDeepAsARequestMayCarry) {
  int levels = 1;
  Frame frame;
  for (;; ++levels) {
    proto::RequestSubmitT submit;
    submit.user_data = nested(levels + 1);
    if (!verify_native(submit, frame).ok()) break;
  }
  ASSERT_GT(levels, 20);
  proto::RequestSubmitT too_deep;
  too_deep.user_data = nested(levels + 1);
  auto refused = verify_native(too_deep, frame);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, static_cast<int>(proto::ErrorCode::MalformedMessage));
  EXPECT_NE(refused.error().text.find("RequestSubmit nests tables deeper than the limit of 64"), std::string::npos)
      << refused.error().text;

  auto info = [&] {
    auto i = std::make_unique<proto::InteractionInfoT>();
    i->interaction_id = "p1-0000000000000001";
    i->user_data = nested(levels);
    return i;
  };
  proto::EventPropertiesT properties;
  properties.interaction = info();
  EXPECT_TRUE(verify_native(properties, frame).ok()) << "EventProperties";
  // The proxy forwards it re-addressed: no deeper.
  Frame moved = readdress_envelope(std::span<const uint8_t>(frame).subspan(kFrameHeaderSize), 1, 2);
  std::vector<uint64_t> aligned((moved.size() + 7) / 8);
  std::memcpy(aligned.data(), moved.data() + kFrameHeaderSize, moved.size() - kFrameHeaderSize);
  EXPECT_TRUE(verify_envelope(std::span(reinterpret_cast<const uint8_t*>(aligned.data()), moved.size() - kFrameHeaderSize)).ok());
  proto::EventFindResultT find;
  find.interactions.push_back(info());
  EXPECT_TRUE(verify_native(find, frame).ok()) << "EventFindResult";
  proto::EventSnapshotPageT page;
  page.snapshot_id = "s";
  page.interactions.push_back(info());
  EXPECT_TRUE(verify_native(page, frame).ok()) << "EventSnapshotPage";
  proto::EventInviteT invite;
  invite.interaction = info();
  EXPECT_TRUE(verify_native(invite, frame).ok()) << "EventInvite";
  proto::EventInteractionSubmittedT submitted;
  submitted.header = std::make_unique<proto::ReportingHeaderT>();
  submitted.interaction = info();
  EXPECT_TRUE(verify_native(submitted, frame).ok()) << "EventInteractionSubmitted";
  // Not two levels deeper.
  proto::EventPropertiesT deeper;
  deeper.interaction = info();
  deeper.interaction->user_data = nested(levels + 2);
  EXPECT_FALSE(verify_native(deeper, frame).ok());
}

TEST(Messages, EnvelopeIdsAreReadFromTheRootTableOfAnUnverifiableBuffer) {
  proto::EventPropertiesT properties;
  properties.interaction = std::make_unique<proto::InteractionInfoT>();
  properties.interaction->interaction_id = "p1-0000000000000001";
  Frame frame = encode_frame(0x1122334455667788ull, 42, properties);
  std::span<const uint8_t> payload = std::span<const uint8_t>(frame).subspan(kFrameHeaderSize);
  // Whole, a prefix of it, and truncated so that verification fails: the root table is first.
  for (size_t size : {payload.size(), size_t{64}, payload.size() - 16}) {
    std::optional<EnvelopeIds> ids = peek_envelope_ids(payload.first(size));
    ASSERT_TRUE(ids) << size;
    EXPECT_EQ(ids->ref_id, 0x1122334455667788ull);
    EXPECT_EQ(ids->client_id, 42u);
  }
  EXPECT_FALSE(verify_envelope(payload.first(payload.size() - 16)).ok());
  // Re-addressed frames too (their root table is hand-built).
  Frame moved = readdress_envelope(payload, 7, 8);
  std::optional<EnvelopeIds> ids = peek_envelope_ids(std::span<const uint8_t>(moved).subspan(kFrameHeaderSize));
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->ref_id, 7u);
  EXPECT_EQ(ids->client_id, 8u);
  // Nothing readable: no ids, no crash.
  EXPECT_FALSE(peek_envelope_ids({}));
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4};
  EXPECT_FALSE(peek_envelope_ids(junk));
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> random(rng() % 64);
    for (auto& b : random) b = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 16);
    (void)peek_envelope_ids(random);
  }
}

TEST(Messages, AnEnvelopeCarryingBothIdsIsReaddressedInPlace) {
  proto::EventPropertiesT info;  // a get-properties reply
  info.interaction = std::make_unique<proto::InteractionInfoT>();
  info.interaction->interaction_id = "p1-00000000000000a3";
  info.interaction->user_data = kv_list({{"Subject", "order 55021"}, {"Score", 42}});
  const Frame frame = encode_frame(0x1122334455667788ull, 42, info);
  std::span<const uint8_t> payload = std::span<const uint8_t>(frame).subspan(kFrameHeaderSize);
  const std::optional<IdFields> at = id_fields(payload);
  ASSERT_TRUE(at);
  // To a client that uses no client_id: the field stays, written as 0.
  Frame moved(kFrameHeaderSize + payload.size());
  write_in_place(moved, payload, *at, 7, 0);
  EXPECT_EQ(moved.size(), frame.size());
  auto envelope = verify_envelope(std::span<const uint8_t>(moved).subspan(kFrameHeaderSize));
  ASSERT_TRUE(envelope.ok()) << envelope.error().text;
  EXPECT_EQ((*envelope)->ref_id(), 7u);
  EXPECT_EQ((*envelope)->client_id(), 0u);
  proto::EventPropertiesT read;
  (*envelope)->body_as_EventProperties()->UnPackTo(&read);
  EXPECT_EQ(read, info);
  EXPECT_EQ(readdressed_size(payload.size()) - moved.size(), 56u);  // what the wrapper would add
  // An id left at its default is not in the buffer: nowhere to write it.
  const Frame no_client = encode_frame(9, 0, info);
  EXPECT_FALSE(id_fields(std::span<const uint8_t>(no_client).subspan(kFrameHeaderSize)));
  // A root table whose ids would lie past the bytes given, or on each other: not rewritten.
  EXPECT_FALSE(id_fields(payload.first(at->client_at + 4)));
  std::vector<uint8_t> overlapping(payload.begin(), payload.end());
  uint32_t root = 0;
  int32_t to_vtable = 0;
  std::memcpy(&root, overlapping.data(), 4);
  std::memcpy(&to_vtable, overlapping.data() + root, 4);
  const uint16_t ref_field = static_cast<uint16_t>(at->ref_at - root);  // client_id's entry -> ref_id's bytes
  std::memcpy(overlapping.data() + (root - to_vtable) + proto::Envelope::VT_CLIENT_ID, &ref_field, 2);
  EXPECT_FALSE(id_fields(overlapping));
}

TEST(Messages, EveryErrorCodeIsDocumented) {
  std::ifstream in(IX_SOURCE_DIR "/docs/errors.md");
  std::stringstream doc;
  doc << in.rdbuf();
  for (proto::ErrorCode code : proto::EnumValuesErrorCode()) {
    if (code == proto::ErrorCode::None) continue;
    std::string row = "| " + std::to_string(static_cast<int>(code)) + " | " + proto::EnumNameErrorCode(code) + " |";
    EXPECT_NE(doc.str().find(row), std::string::npos) << "docs/errors.md lacks the row \"" << row << "\"";
  }
}

}  // namespace
}  // namespace ix::wire

namespace ix::wire {
namespace {

TEST(MessageJson, AnyMessageBecomesJsonWithItsTypeAndFields) {
  proto::EventAgentNotReadyT event;
  event.header = std::make_unique<proto::ReportingHeaderT>();
  event.header->node_id = "pair-1";
  event.header->seq = 42;
  event.agent_id = "a\"1";  // escaped, still JSON
  event.reason = kv_list({{"why", "lunch"}, {"minutes", 30}});
  const Frame frame = encode_frame(7, 0, event);
  const nlohmann::json j = message_json(std::span(frame).subspan(kFrameHeaderSize));
  EXPECT_EQ(j.value("type", ""), "EventAgentNotReady");
  EXPECT_EQ(j.value("ref_id", 0), 7);
  EXPECT_FALSE(j.contains("client_id")) << "a zero client_id is left out";
  EXPECT_EQ(j["header"].value("node_id", ""), "pair-1");
  EXPECT_EQ(j["header"].value("seq", 0), 42);
  EXPECT_EQ(j.value("agent_id", ""), "a\"1");
  EXPECT_EQ(j["reason"]["pairs"][0].value("string_value", ""), "lunch");
  EXPECT_EQ(j["reason"]["pairs"][1].value("int_value", 0), 30);

  proto::EventPropertiesT properties;
  properties.interaction = std::make_unique<proto::InteractionInfoT>();
  properties.interaction->interaction_id = "p1-1";
  properties.interaction->state = proto::InteractionState::Handling;
  const Frame p = encode_frame(1, 9, properties);
  const nlohmann::json pj = message_json(std::span(p).subspan(kFrameHeaderSize));
  EXPECT_EQ(pj["interaction"].value("state", ""), "Handling") << "enums by name";
  EXPECT_EQ(pj.value("client_id", 0), 9);
}

}  // namespace
}  // namespace ix::wire
