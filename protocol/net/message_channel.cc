#include "protocol/net/message_channel.h"

namespace ix::net {

MessageChannel::MessageChannel(std::shared_ptr<Connection> connection, ChannelOptions options)
    : connection_(std::move(connection)), options_(options), decoder_(options.max_frame_size, options.oversized) {
  connection_->set_on_data([this](std::span<const uint8_t> data) { on_data(data); });
}

MessageChannel::~MessageChannel() { connection_->set_on_data(nullptr); }

void MessageChannel::send(std::span<const uint8_t> frame) {
  ++stats_.frames_out;
  connection_->write(frame);
}

void MessageChannel::send(wire::Frame&& frame) {
  ++stats_.frames_out;
  connection_->write(std::move(frame));
}

void MessageChannel::send_readdressed(std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id) {
  std::span<uint8_t> out = connection_->append(wire::readdressed_size(payload.size()));
  if (out.empty()) return;
  ++stats_.frames_out;
  wire::write_readdressed(out, payload, ref_id, client_id);
}

void MessageChannel::send_readdressed_in_place(std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id) {
  const std::optional<wire::IdFields> at = wire::id_fields(payload);
  if (!at) return send_readdressed(payload, ref_id, client_id);
  std::span<uint8_t> out = connection_->append(wire::kFrameHeaderSize + payload.size());
  if (out.empty()) return;
  ++stats_.frames_out;
  wire::write_in_place(out, payload, *at, ref_id, client_id);
}

void MessageChannel::send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code,
                                std::string text) {
  send(wire::encode_error(ref_id, client_id, code, std::move(text)));
}

void MessageChannel::reject(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code,
                            const std::string& text, bool close) {
  ++stats_.protocol_errors;
  if (options_.answer_errors) send_error(ref_id, client_id, code, text);
  if (on_protocol_error_) on_protocol_error_(code, text);
  if (close) connection_->close("protocol error: " + text);
}

void MessageChannel::on_data(std::span<const uint8_t> data) {
  const auto on_oversized = [this](uint64_t length, std::span<const uint8_t> prefix) {
    if (connection_->is_closing()) return;
    const std::string text = "frame of " + std::to_string(length) + " bytes exceeds the maximum frame size of " +
                             std::to_string(decoder_.max_frame_size()) + " bytes";
    ++stats_.protocol_errors;
    if (on_protocol_error_) on_protocol_error_(proto::ErrorCode::FrameTooLarge, text);
    if (on_unreadable_) on_unreadable_(wire::peek_envelope_ids(prefix), proto::ErrorCode::FrameTooLarge, text);
  };
  auto status = decoder_.feed(
      data, [this](std::span<const uint8_t> payload) {
        if (!connection_->is_closing()) on_frame(payload);
      },
      on_oversized);
  if (status == wire::FrameDecoder::Status::kFrameTooLarge && !connection_->is_closing()) {
    reject(0, 0, proto::ErrorCode::FrameTooLarge,
           "frame of " + std::to_string(decoder_.rejected_length()) +
               " bytes exceeds the maximum frame size of " +
               std::to_string(decoder_.max_frame_size()) + " bytes",
           true);
  }
}

void MessageChannel::on_frame(std::span<const uint8_t> payload) {
  ++stats_.frames_in;
  auto verified = wire::verify_envelope(payload, options_.verify);
  if (!verified) {
    // The envelope as a whole cannot be trusted, but its root table usually can be read with
    // every offset checked (wire::peek_envelope_ids): the error then echoes the request's ref_id
    // and client_id, so the peer can tell which of its requests failed; else it goes out with 0.
    // An unknown message type still has a readable envelope: echo its ref_id.
    uint64_t ref_id = 0, client_id = 0;
    auto code = static_cast<proto::ErrorCode>(verified.error().code);
    if (code == proto::ErrorCode::UnknownMessage) {
      const proto::Envelope* envelope = proto::GetEnvelope(payload.data());
      ref_id = envelope->ref_id();
      client_id = envelope->client_id();
    } else if (std::optional<wire::EnvelopeIds> ids = wire::peek_envelope_ids(payload)) {
      ref_id = ids->ref_id;
      client_id = ids->client_id;
    }
    reject(ref_id, client_id, code, verified.error().text,
           options_.require_registration && !registered_);
    if (on_unreadable_ && !connection_->is_closing()) {
      on_unreadable_(ref_id || client_id ? std::optional<wire::EnvelopeIds>({ref_id, client_id}) : wire::peek_envelope_ids(payload),
                     code, verified.error().text);
    }
    return;
  }
  const proto::Envelope& envelope = **verified;
  const proto::Message type = envelope.body_type();

  if (options_.require_registration) {
    if (type == proto::Message::RequestRegisterClient) {
      if (registered_) {
        reject(envelope.ref_id(), envelope.client_id(), proto::ErrorCode::AlreadyRegistered,
               "client \"" + client_name_ + "\" is already registered on this connection", false);
        return;
      }
      const auto* request = envelope.body_as_RequestRegisterClient();
      if (request->protocol_version() != wire::kProtocolVersion) {
        reject(envelope.ref_id(), envelope.client_id(), proto::ErrorCode::UnsupportedProtocolVersion,
               "protocol version " + std::to_string(request->protocol_version()) +
                   " is not supported; this server speaks version " +
                   std::to_string(wire::kProtocolVersion),
               true);
        return;
      }
      if (request->client_type() == proto::ClientType::Unknown ||
          request->client_type() > proto::ClientType::MAX) {
        reject(envelope.ref_id(), envelope.client_id(), proto::ErrorCode::InvalidAttribute,
               "RequestRegisterClient.client_type " +
                   std::to_string(static_cast<int>(request->client_type())) + " is not a client type",
               true);
        return;
      }
      registered_ = true;
      client_type_ = request->client_type();
      client_name_ = request->client_name() ? request->client_name()->str() : "";
    } else if (!registered_) {
      reject(envelope.ref_id(), envelope.client_id(), proto::ErrorCode::NotRegistered,
             wire::message_name(type) + " sent before RequestRegisterClient", true);
      return;
    }
  }
  current_payload_ = payload;
  if (on_message_) on_message_(envelope);
}

}  // namespace ix::net
