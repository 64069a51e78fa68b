#include "protocol/wire/messages.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>

#include "protocol/wire/kv.h"
#include "protocol/wire/message_table.h"

namespace ix::wire {

namespace detail {

flatbuffers::FlatBufferBuilder& thread_builder() {
  thread_local flatbuffers::FlatBufferBuilder builder(1024);
  return builder;
}

Frame finish_frame(flatbuffers::FlatBufferBuilder& builder,
                   flatbuffers::Offset<proto::Envelope> envelope) {
  proto::FinishEnvelopeBuffer(builder, envelope);
  Frame frame = make_frame(builder.GetBufferSpan());
  // A builder that once built a huge message would keep its memory forever; let it go.
  if (builder.GetSize() > 1024 * 1024) builder.Reset();
  return frame;
}

}  // namespace detail

Frame encode_envelope(const proto::EnvelopeT& envelope) {
  auto& builder = detail::thread_builder();
  builder.Clear();
  return detail::finish_frame(builder, proto::Envelope::Pack(builder, &envelope));
}

Frame readdress_envelope(std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id) {
  Frame frame;
  frame.reserve(readdressed_size(payload.size()));
  append_readdressed(frame, payload, ref_id, client_id);
  return frame;
}

void append_readdressed(Frame& out, std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id) {
  const size_t start = out.size();
  out.resize(start + readdressed_size(payload.size()));
  write_readdressed(std::span<uint8_t>(out).subspan(start), payload, ref_id, client_id);
}

void write_readdressed(std::span<uint8_t> out, std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id) {
  // Layout of the new payload (offsets from its start; every one 8-aligned where it matters):
  //   0 root offset -> 24 | 4 "IXC1" | 8 vtable (5 fields) | 24 table: soffset, body, extension,
  //   body_type, ref_id, client_id | 56 the original payload, untouched.
  constexpr size_t kVtable = 8, kTable = 24, kOriginal = 56;
  constexpr uint16_t kBody = 4, kExtension = 8, kBodyType = 12, kRef = 16, kClient = 24, kTableSize = 32;
  const proto::Envelope* original = proto::GetEnvelope(payload.data());
  const auto position = [&](const void* table) { return static_cast<size_t>(static_cast<const uint8_t*>(table) - payload.data()); };

  static_assert(readdressed_size(0) == kFrameHeaderSize + kOriginal);
  assert(out.size() == readdressed_size(payload.size()));
  uint8_t* p = out.data() + kFrameHeaderSize;
  std::memset(p, 0, kOriginal);
  flatbuffers::WriteScalar<uint32_t>(out.data(), static_cast<uint32_t>(kOriginal + payload.size()));
  flatbuffers::WriteScalar<uint32_t>(p, kTable);
  std::memcpy(p + 4, proto::EnvelopeIdentifier(), 4);
  const uint16_t vtable[] = {4 + 5 * 2, kTableSize, kRef, kClient, kBodyType,
                             static_cast<uint16_t>(original->body() ? kBody : 0),
                             static_cast<uint16_t>(original->extension() ? kExtension : 0)};
  for (size_t i = 0; i < std::size(vtable); ++i) flatbuffers::WriteScalar<uint16_t>(p + kVtable + 2 * i, vtable[i]);
  flatbuffers::WriteScalar<int32_t>(p + kTable, static_cast<int32_t>(kTable - kVtable));
  if (original->body()) {
    flatbuffers::WriteScalar<uint32_t>(p + kTable + kBody, static_cast<uint32_t>(kOriginal + position(original->body()) - (kTable + kBody)));
  }
  if (original->extension()) {
    flatbuffers::WriteScalar<uint32_t>(p + kTable + kExtension,
                                       static_cast<uint32_t>(kOriginal + position(original->extension()) - (kTable + kExtension)));
  }
  p[kTable + kBodyType] = static_cast<uint8_t>(original->body_type());
  flatbuffers::WriteScalar<uint64_t>(p + kTable + kRef, ref_id);
  flatbuffers::WriteScalar<uint64_t>(p + kTable + kClient, client_id);
  std::memcpy(p + kOriginal, payload.data(), payload.size());
}

Frame encode_ack(uint64_t ref_id, uint64_t client_id) {
  return encode_frame(ref_id, client_id, proto::EventAckT{});
}

Frame encode_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text) {
  proto::EventErrorT error;
  error.code = static_cast<int32_t>(code);
  error.text = std::move(text);
  return encode_frame(ref_id, client_id, std::move(error));
}

Frame encode_error(uint64_t ref_id, uint64_t client_id, const Error& error) {
  return encode_error(ref_id, client_id, static_cast<proto::ErrorCode>(error.code), error.text);
}

Frame encode_register_client(uint64_t ref_id, proto::ClientType type, std::string name,
                             std::vector<std::string> tenant_ids, std::string proxy_secret, std::string proxy_instance) {
  proto::RequestRegisterClientT request;
  request.client_type = type;
  request.client_name = std::move(name);
  request.tenant_ids = std::move(tenant_ids);
  request.protocol_version = kProtocolVersion;
  if (proxy_secret.empty() && proxy_instance.empty()) return encode_frame(ref_id, 0, std::move(request));
  auto extension = std::make_unique<proto::KvListT>();
  if (!proxy_secret.empty()) kv_set(*extension, KvEntry(std::string(kProxySecretKey), std::move(proxy_secret)));
  if (!proxy_instance.empty()) kv_set(*extension, KvEntry(std::string(kProxyInstanceKey), std::move(proxy_instance)));
  return encode_frame(ref_id, 0, std::move(request), extension.get());
}

Frame encode_ping(uint64_t ref_id) { return encode_frame(ref_id, 0, proto::RequestPingT{}); }

bool is_known_message(proto::Message type) {
  return type > proto::Message::NONE && type <= proto::Message::MAX;
}

std::string message_name(proto::Message type) {
  if (!is_known_message(type)) return "message type " + std::to_string(static_cast<int>(type));
  return proto::EnumNameMessage(type);
}

bool is_request(proto::Message type) { return message_info(type).direction == Direction::kRequest; }

namespace {

// Every call inside is inlined (flatten): the generated verifier's small functions — VerifyOffset,
// VerifyString, VerifyTableStart, each table's Verify — otherwise stay calls, and cost 40 % of the
// time on a typical frame (protocol/CMakeLists.txt builds this file at -O3 for the same reason).
[[gnu::flatten]] bool verify_buffer(std::span<const uint8_t> payload, uint32_t max_depth, uint32_t max_tables) {
  flatbuffers::Verifier verifier(payload.data(), payload.size(), max_depth, max_tables);
  return verifier.VerifyBuffer<proto::Envelope>(nullptr);  // verify_envelope checked the identifier
}

template <class T>
bool read_at(std::span<const uint8_t> bytes, size_t at, T& out) {
  if (at > bytes.size() || bytes.size() - at < sizeof(T)) return false;
  std::memcpy(&out, bytes.data() + at, sizeof(T));  // unaligned-safe; FlatBuffers is little-endian
  out = flatbuffers::EndianScalar(out);
  return true;
}

// The Envelope's root table as GetField would find it, each read checked against the bytes
// given; nothing when the table or its vtable is out of bounds.
struct RootTable {
  size_t at = 0;      // the table
  size_t vtable = 0;  // its vtable
  uint16_t vtable_size = 0;
  uint16_t table_size = 0;  // the table's inline bytes (the vtable's second entry)
};

std::optional<RootTable> read_root_table(std::span<const uint8_t> payload) {
  uint32_t root = 0;
  int32_t to_vtable = 0;
  if (!read_at(payload, 0, root) || !read_at(payload, root, to_vtable)) return std::nullopt;
  const int64_t vtable = static_cast<int64_t>(root) - to_vtable;
  if (vtable < 0) return std::nullopt;
  RootTable table;
  table.at = root;
  table.vtable = static_cast<size_t>(vtable);
  if (!read_at(payload, table.vtable, table.vtable_size) ||
      !read_at(payload, table.vtable + 2, table.table_size)) {
    return std::nullopt;
  }
  return table;
}

// Where the root table's field `slot` lies in payload: 0 when the field is absent (its value is
// the default), nothing when its vtable entry is out of bounds.
std::optional<size_t> root_field_at(std::span<const uint8_t> payload, const RootTable& table, flatbuffers::voffset_t slot) {
  if (slot >= table.vtable_size) return 0;
  uint16_t at = 0;
  if (!read_at(payload, table.vtable + slot, at)) return std::nullopt;
  return at == 0 ? 0 : table.at + at;
}

}  // namespace

std::optional<EnvelopeIds> peek_envelope_ids(std::span<const uint8_t> payload) {
  const std::optional<RootTable> table = read_root_table(payload);
  if (!table) return std::nullopt;
  const auto field = [&](flatbuffers::voffset_t slot, uint64_t& out) {
    const std::optional<size_t> at = root_field_at(payload, *table, slot);
    return at && (*at == 0 || read_at(payload, *at, out));
  };
  EnvelopeIds ids;
  if (!field(proto::Envelope::VT_REF_ID, ids.ref_id) || !field(proto::Envelope::VT_CLIENT_ID, ids.client_id)) {
    return std::nullopt;
  }
  return ids;
}

std::optional<IdFields> id_fields(std::span<const uint8_t> payload) {
  const std::optional<RootTable> table = read_root_table(payload);
  if (!table) return std::nullopt;
  const std::optional<size_t> ref_at = root_field_at(payload, *table, proto::Envelope::VT_REF_ID);
  const std::optional<size_t> client_at = root_field_at(payload, *table, proto::Envelope::VT_CLIENT_ID);
  // Both inside the table's own bytes (after its vtable offset), apart, and inside the payload:
  // the 16 bytes rewritten are the two ids and nothing else.
  const size_t end = std::min<size_t>(table->at + table->table_size, payload.size());
  const auto inside = [&](const std::optional<size_t>& at) { return at && *at >= table->at + 4 && *at + 8 <= end; };
  if (!inside(ref_at) || !inside(client_at) || (*ref_at < *client_at + 8 && *client_at < *ref_at + 8)) return std::nullopt;
  return IdFields{*ref_at, *client_at};
}

void write_in_place(std::span<uint8_t> out, std::span<const uint8_t> payload, const IdFields& at, uint64_t ref_id,
                    uint64_t client_id) {
  assert(out.size() == kFrameHeaderSize + payload.size());
  const auto put = [&out](size_t offset, auto value) {
    value = flatbuffers::EndianScalar(value);
    std::memcpy(out.data() + offset, &value, sizeof(value));  // the output buffer has no alignment
  };
  put(0, static_cast<uint32_t>(payload.size()));
  std::memcpy(out.data() + kFrameHeaderSize, payload.data(), payload.size());
  put(kFrameHeaderSize + at.ref_at, ref_id);
  put(kFrameHeaderSize + at.client_at, client_id);
}

Result<const proto::Envelope*> verify_envelope(std::span<const uint8_t> payload,
                                               const VerifyLimits& limits) {
  if (payload.size() < 8) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                 "frame payload of " + std::to_string(payload.size()) +
                     " bytes is too short to hold an Envelope"};
  }
  // The identifier sits at bytes 4..7 (a 4-byte compare; BufferHasIdentifier is a strncmp call).
  if (std::memcmp(payload.data() + sizeof(flatbuffers::uoffset_t), proto::EnvelopeIdentifier(), flatbuffers::kFileIdentifierLength) != 0) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                 "frame payload does not carry the Envelope file identifier \"" +
                     std::string(proto::EnvelopeIdentifier()) + "\""};
  }
  // One pass at the request limit serves almost every frame. A frame that fails it is verified
  // again with room to spare (to tell nesting from broken offsets and name the problem), and an
  // event is kept if it fits the events' extra level (user data a request stored at the limit).
  if (!verify_buffer(payload, limits.max_depth, limits.max_tables)) {
    if (!verify_buffer(payload, 2 * limits.max_depth, limits.max_tables)) {
      return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                   "frame payload of " + std::to_string(payload.size()) +
                       " bytes failed FlatBuffers verification as an Envelope"};
    }
    const proto::Envelope* deep = proto::GetEnvelope(payload.data());
    const bool request = is_request(deep->body_type());
    const uint32_t limit = request ? limits.max_depth : limits.max_depth + kEventExtraDepth;
    if (request || !verify_buffer(payload, limit, limits.max_tables)) {
      return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                   message_name(deep->body_type()) + " nests tables deeper than the limit of " +
                       std::to_string(limit) + " (user data nested too deeply)"};
    }
  }
  const proto::Envelope* envelope = proto::GetEnvelope(payload.data());
  if (envelope->body_type() == proto::Message::NONE) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage), "envelope carries no message"};
  }
  if (!is_known_message(envelope->body_type())) {
    return Error{static_cast<int>(proto::ErrorCode::UnknownMessage),
                 "unknown " + message_name(envelope->body_type())};
  }
  if (envelope->body() == nullptr) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                 message_name(envelope->body_type()) + " envelope has no body"};
  }
  return envelope;
}

const proto::ReportingHeader* reporting_header(const proto::Envelope& envelope) {
  const MessageInfo& info = message_info(envelope.body_type());
  return info.header_of ? info.header_of(envelope) : nullptr;
}

bool is_agent_event(proto::Message type) { return message_info(type).reporting == ReportingKind::kAgent; }

Result<ReportingClasses> reporting_classes(const proto::RequestStartReporting& request) {
  ReportingClasses classes;
  if (!request.classes() || request.classes()->size() == 0) return classes;
  classes.interactions = classes.agents = false;
  for (proto::ReportingClass c : *request.classes()) {
    if (c == proto::ReportingClass::Interaction) {
      classes.interactions = true;
    } else if (c == proto::ReportingClass::Agent) {
      classes.agents = true;
    } else {
      return make_error(proto::ErrorCode::InvalidAttribute,
                        "RequestStartReporting.classes has an unknown class " + std::to_string(static_cast<int>(c)));
    }
  }
  return classes;
}

}  // namespace ix::wire
