// Typed helpers over the generated FlatBuffers code, so that callers never assemble buffers by
// hand and never read one that the verifier has not checked.
//
// Building: fill the generated native type (proto::RequestSubmitT, …) and call encode_frame(),
// or use the short helpers for the replies every server sends (ack, error, pong).
// Reading: verify_envelope() checks a payload with the FlatBuffers verifier (file identifier,
// bounds, depth, table count) and that the body is a message this build knows; only then may
// a caller touch it. Functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.h"
#include "protocol/wire/frame_codec.h"
#include "protocol/wire/ixcluster_generated.h"

namespace ix::wire {

inline constexpr uint32_t kProtocolVersion = 1;

using Frame = std::vector<uint8_t>;

// Encodes an envelope around body (any generated native message type, e.g. proto::EventAckT)
// and returns the complete frame, length header included.
template <class NativeMessage>
Frame encode_frame(uint64_t ref_id, uint64_t client_id, const NativeMessage& body,
                   const proto::KvListT* extension = nullptr);

// Encodes a whole native envelope (used by tests and by code that rewrites envelopes).
Frame encode_envelope(const proto::EnvelopeT& envelope);

// An Error carrying a protocol code.
inline Error make_error(proto::ErrorCode code, std::string text) { return Error{static_cast<int>(code), std::move(text)}; }

// Re-addresses a verified envelope without re-encoding it: the returned frame carries the given
// ref_id and client_id and the original body and extension, copied byte for byte behind a new
// root table (FlatBuffers offsets are relative, so the copied tables stay valid). A proxy
// forwards every message this way: one memcpy instead of an unpack and a pack.
Frame readdress_envelope(std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id);
// The same frame appended to `out` (several frames batched in one buffer, no allocation per frame).
void append_readdressed(Frame& out, std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id);
// Bytes append_readdressed adds for a payload of `payload_size` bytes.
constexpr size_t readdressed_size(size_t payload_size) { return kFrameHeaderSize + 56 + payload_size; }
// The same frame written into `out`, which holds exactly readdressed_size(payload.size()) bytes.
void write_readdressed(std::span<uint8_t> out, std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id);

// Where a verified envelope keeps its ref_id and client_id, when it carries both inside its root
// table (a node's reply to a client's request does: both ids are nonzero). Such a frame can be
// re-addressed in place — the payload copied with those 16 bytes rewritten, no root table added
// (56 bytes shorter than write_readdressed's). Only for a producer that writes plain buffers (a
// node): in a crafted one the ids' bytes could also belong to the body.
struct IdFields {
  size_t ref_at = 0;  // offsets in the payload
  size_t client_at = 0;
};
std::optional<IdFields> id_fields(std::span<const uint8_t> payload);
// The frame written into `out`, which holds exactly kFrameHeaderSize + payload.size() bytes.
void write_in_place(std::span<uint8_t> out, std::span<const uint8_t> payload, const IdFields& at, uint64_t ref_id,
                    uint64_t client_id);

Frame encode_ack(uint64_t ref_id, uint64_t client_id);
Frame encode_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text);
Frame encode_error(uint64_t ref_id, uint64_t client_id, const Error& error);
// The envelope extension key under which a proxy's RequestRegisterClient carries the
// cluster's [proxy-auth] secret (docs/operations.md, "Proxy authentication").
inline constexpr std::string_view kProxySecretKey = "proxy-secret";
// The envelope extension key under which a proxy's RequestRegisterClient carries its process
// instance: a token the proxy draws once at start. With client_name ("ixproxy <id> worker <n>")
// it names one worker of one proxy process, so that a node hands what that worker's closed
// connection held to its reconnection only — never to a restarted proxy, whose agents are gone
// (node/server/proxy_session_holds.h).
inline constexpr std::string_view kProxyInstanceKey = "proxy-instance";
// proxy_secret: a proxy's [proxy-auth] secret, sent in the envelope's extension under
// kProxySecretKey; proxy_instance under kProxyInstanceKey (empty: none, for every other client
// type).
Frame encode_register_client(uint64_t ref_id, proto::ClientType type, std::string name,
                             std::vector<std::string> tenant_ids, std::string proxy_secret = {},
                             std::string proxy_instance = {});
Frame encode_ping(uint64_t ref_id);

// How deeply tables may nest in a request, and how many a buffer may hold. Every process uses
// the defaults on every connection, in both directions, so a limit is the same on both sides of
// every hop.
//
// Depth: FlatBuffers counts every table on the path from the root (the Envelope is 1). User data
// sits one table deeper in an event than in the request that carried it: RequestSubmit.user_data
// is Envelope > RequestSubmit > KvList, while every event that returns it wraps it in an
// InteractionInfo (Envelope > EventProperties > InteractionInfo > KvList), and a reason list
// likewise (RequestAgentNotReady.reason vs EventAgentStatus > MediaState > reason). So events
// and replies are verified with max_depth + kEventExtraDepth: whatever a node accepted in a
// request it can send back in a reply, a find, a snapshot page or a reporting event, and the
// proxy and every client accept it. Requests keep max_depth, so the extra level is never
// available to what a peer asks a server to store.
inline constexpr uint32_t kEventExtraDepth = 1;

struct VerifyLimits {
  uint32_t max_depth = 64;  // for requests; events get kEventExtraDepth more
  uint32_t max_tables = 1'000'000;
};

// Checks a frame payload and returns its envelope. Errors are MalformedMessage (fails the
// verifier, nests deeper than the limit, or carries the wrong file identifier) or UnknownMessage
// (a body type this build does not know, e.g. from a newer peer); their texts say which.
Result<const proto::Envelope*> verify_envelope(std::span<const uint8_t> payload,
                                               const VerifyLimits& limits = {});

// The ref_id and client_id of a payload that failed verification (or was too large to read
// whole), read from the Envelope's root table alone with every offset bounds-checked against
// the bytes given — a prefix of the payload is enough, since builders write the root table
// first in the buffer. Nothing else of the buffer is trusted. Used to fail exactly the request
// whose reply cannot be read; nullopt when even the root table is out of bounds.
struct EnvelopeIds {
  uint64_t ref_id = 0;
  uint64_t client_id = 0;
};
std::optional<EnvelopeIds> peek_envelope_ids(std::span<const uint8_t> payload);

// "RequestSubmit", or "message type 250" for a type this build does not know.
std::string message_name(proto::Message type);
bool is_known_message(proto::Message type);
// Requests are what a client sends; everything else is an event a server sends. These three
// read the message table (message_table.h).
bool is_request(proto::Message type);
// Reporting events carry a ReportingHeader; returns nullptr for any other message.
const proto::ReportingHeader* reporting_header(const proto::Envelope& envelope);
// Agent-class reporting events (login, logout, readiness, media, DND, reason); the rest of the
// reporting events are interaction-class.
bool is_agent_event(proto::Message type);

// The classes a RequestStartReporting asks for (both when it names none).
struct ReportingClasses {
  bool interactions = true;
  bool agents = true;
};
// Reads RequestStartReporting.classes; an unknown class is InvalidAttribute, naming it.
Result<ReportingClasses> reporting_classes(const proto::RequestStartReporting& request);

// The string, or "" for an absent optional string field.
inline std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

// --- implementation -------------------------------------------------------------------------

namespace detail {
Frame finish_frame(flatbuffers::FlatBufferBuilder& builder,
                   flatbuffers::Offset<proto::Envelope> envelope);
flatbuffers::FlatBufferBuilder& thread_builder();
}  // namespace detail

template <class NativeMessage>
Frame encode_frame(uint64_t ref_id, uint64_t client_id, const NativeMessage& body,
                   const proto::KvListT* extension) {
  using Table = typename NativeMessage::TableType;
  auto& builder = detail::thread_builder();
  builder.Clear();
  auto body_offset = Table::Pack(builder, &body);
  flatbuffers::Offset<proto::KvList> ext_offset;
  if (extension) ext_offset = proto::KvList::Pack(builder, extension);
  auto envelope = proto::CreateEnvelope(builder, ref_id, client_id,
                                        proto::MessageTraits<Table>::enum_value,
                                        body_offset.Union(), ext_offset);
  return detail::finish_frame(builder, envelope);
}

}  // namespace ix::wire
