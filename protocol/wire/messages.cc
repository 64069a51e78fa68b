#include "protocol/wire/messages.h"

#include <chrono>

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
                             std::vector<std::string> tenant_ids) {
  proto::RequestRegisterClientT request;
  request.client_type = type;
  request.client_name = std::move(name);
  request.tenant_ids = std::move(tenant_ids);
  request.protocol_version = kProtocolVersion;
  return encode_frame(ref_id, 0, std::move(request));
}

Frame encode_ping(uint64_t ref_id) { return encode_frame(ref_id, 0, proto::RequestPingT{}); }

bool is_known_message(proto::Message type) {
  return type > proto::Message::NONE && type <= proto::Message::MAX;
}

std::string message_name(proto::Message type) {
  if (!is_known_message(type)) return "message type " + std::to_string(static_cast<int>(type));
  return proto::EnumNameMessage(type);
}

bool is_request(proto::Message type) {
  return is_known_message(type) && message_name(type).starts_with("Request");
}

Result<const proto::Envelope*> verify_envelope(std::span<const uint8_t> payload,
                                               const VerifyLimits& limits) {
  if (payload.size() < 8) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                 "frame payload of " + std::to_string(payload.size()) +
                     " bytes is too short to hold an Envelope"};
  }
  if (!proto::EnvelopeBufferHasIdentifier(payload.data())) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                 "frame payload does not carry the Envelope file identifier \"" +
                     std::string(proto::EnvelopeIdentifier()) + "\""};
  }
  flatbuffers::Verifier verifier(payload.data(), payload.size(), limits.max_depth,
                                 limits.max_tables);
  if (!proto::VerifyEnvelopeBuffer(verifier)) {
    return Error{static_cast<int>(proto::ErrorCode::MalformedMessage),
                 "frame payload of " + std::to_string(payload.size()) +
                     " bytes failed FlatBuffers verification as an Envelope"};
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
  using M = proto::Message;
  switch (envelope.body_type()) {
#define IX_REPORTING_EVENT(Name) \
  case M::Name:                  \
    return envelope.body_as_##Name()->header();
    IX_REPORTING_EVENT(EventInteractionSubmitted)
    IX_REPORTING_EVENT(EventPlacedInQueue)
    IX_REPORTING_EVENT(EventTakenFromQueue)
    IX_REPORTING_EVENT(EventPlacedInWorkbin)
    IX_REPORTING_EVENT(EventTakenFromWorkbin)
    IX_REPORTING_EVENT(EventPartyAdded)
    IX_REPORTING_EVENT(EventPartyRemoved)
    IX_REPORTING_EVENT(EventAgentInvited)
    IX_REPORTING_EVENT(EventInvitationRejected)
    IX_REPORTING_EVENT(EventInvitationRevoked)
    IX_REPORTING_EVENT(EventProcessingStopped)
    IX_REPORTING_EVENT(EventPropertiesChanged)
    IX_REPORTING_EVENT(EventAgentLogin)
    IX_REPORTING_EVENT(EventAgentLogout)
    IX_REPORTING_EVENT(EventAgentReady)
    IX_REPORTING_EVENT(EventAgentNotReady)
    IX_REPORTING_EVENT(EventMediaAdded)
    IX_REPORTING_EVENT(EventMediaRemoved)
    IX_REPORTING_EVENT(EventDoNotDisturbOn)
    IX_REPORTING_EVENT(EventDoNotDisturbOff)
    IX_REPORTING_EVENT(EventAgentReasonChanged)
#undef IX_REPORTING_EVENT
    default:
      return nullptr;
  }
}

}  // namespace ix::wire
