// MessageChannel: the ixcluster protocol on top of one Connection.
//
// Incoming bytes are cut into frames (FrameDecoder), each frame is verified (verify_envelope)
// and only then handed to the owner as an Envelope. Every problem a peer can cause is answered
// here, the same way in every process (DESIGN.md §3):
//   - a frame longer than the maximum: EventError FrameTooLarge, then the connection is closed
//     (the byte stream has lost its framing);
//   - a buffer that fails verification: EventError MalformedMessage (echoing the request's
//     ref_id when the envelope's root table can be read), the connection stays;
//   - an unknown message type: EventError UnknownMessage, the connection stays;
//   - on the server side, anything before RequestRegisterClient: EventError NotRegistered and
//     close; a second registration: AlreadyRegistered; a protocol version we do not speak:
//     UnsupportedProtocolVersion and close.
// The owner receives RequestRegisterClient (already checked) and answers it itself.
//
// The client side of a link to a server (the proxy's NodeLink) sets answer_errors = false and
// oversized = kSkip: a server's frame that cannot be read is not answered (the server would
// take the error for a request), the connection stays, and on_unreadable says which request it
// answered (its ref_id read from the root table alone, wire::peek_envelope_ids) so exactly that
// request fails.
//
// The channel does not own the connection's on_close; whoever owns the connection does.
// Single-threaded, on the connection's loop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "protocol/net/connection.h"
#include "protocol/wire/frame_codec.h"
#include "protocol/wire/messages.h"

namespace ix::net {

struct ChannelOptions {
  size_t max_frame_size = wire::kDefaultMaxFrameSize;
  // Server side: the peer must register before anything else.
  bool require_registration = false;
  wire::VerifyLimits verify;
  // Whether frames that cannot be read are answered with an EventError (a server's side).
  bool answer_errors = true;
  // kSkip: a frame over max_frame_size is skipped and reported to on_unreadable (FrameTooLarge)
  // instead of closing the connection.
  wire::OversizedFrames oversized = wire::OversizedFrames::kFail;
};

struct ChannelStats {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t protocol_errors = 0;
};

class MessageChannel {
 public:
  using MessageCallback = std::function<void(const proto::Envelope&)>;
  // Every protocol error the channel answered on its own, for metrics and logs.
  using ProtocolErrorCallback = std::function<void(proto::ErrorCode code, const std::string& text)>;

  MessageChannel(std::shared_ptr<Connection> connection, ChannelOptions options);
  ~MessageChannel();
  MessageChannel(const MessageChannel&) = delete;
  MessageChannel& operator=(const MessageChannel&) = delete;

  void set_on_message(MessageCallback cb) { on_message_ = std::move(cb); }
  void set_on_protocol_error(ProtocolErrorCallback cb) { on_protocol_error_ = std::move(cb); }
  // A frame that failed verification, or was skipped as too large, with the ids read from its
  // root table when they could be (nullopt otherwise). Called besides on_protocol_error.
  using UnreadableCallback =
      std::function<void(std::optional<wire::EnvelopeIds> ids, proto::ErrorCode code, const std::string& text)>;
  void set_on_unreadable(UnreadableCallback cb) { on_unreadable_ = std::move(cb); }

  // Sends one complete frame (from wire::encode_*).
  void send(std::span<const uint8_t> frame);
  void send(wire::Frame&& frame);
  // Sends a verified envelope re-addressed to ref_id and client_id (wire::write_readdressed),
  // built straight in the connection's output buffer.
  void send_readdressed(std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id);
  // The same for a node's envelope: its ids rewritten where they lie when it carries both
  // (wire::write_in_place, no root table added), else as send_readdressed.
  void send_readdressed_in_place(std::span<const uint8_t> payload, uint64_t ref_id, uint64_t client_id);
  void send_error(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, std::string text);

  bool registered() const { return registered_; }
  proto::ClientType client_type() const { return client_type_; }
  const std::string& client_name() const { return client_name_; }
  Connection& connection() { return *connection_; }
  const std::shared_ptr<Connection>& connection_ptr() const { return connection_; }
  const ChannelStats& stats() const { return stats_; }
  // The verified payload of the envelope being delivered; valid only inside the message
  // callback (a proxy copies or forwards it).
  std::span<const uint8_t> current_payload() const { return current_payload_; }

 private:
  void on_data(std::span<const uint8_t> data);
  void on_frame(std::span<const uint8_t> payload);
  void reject(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code, const std::string& text,
              bool close);

  std::shared_ptr<Connection> connection_;
  ChannelOptions options_;
  wire::FrameDecoder decoder_;
  bool registered_ = false;
  proto::ClientType client_type_ = proto::ClientType::Unknown;
  std::string client_name_;
  MessageCallback on_message_;
  ProtocolErrorCallback on_protocol_error_;
  UnreadableCallback on_unreadable_;
  ChannelStats stats_;
  std::span<const uint8_t> current_payload_;
};

}  // namespace ix::net
