#include "proxy/upstream/node_link.h"

#include <spdlog/spdlog.h>

#include "protocol/log.h"
#include "protocol/wire/heard_role_ping.h"
#include "protocol/wire/messages.h"

namespace ix::proxy {

const char* node_role_name(NodeRole role) {
  switch (role) {
    case NodeRole::kDown: return "down";
    case NodeRole::kRegistering: return "registering";
    case NodeRole::kPrimary: return "primary";
    case NodeRole::kBackup: return "backup";
  }
  return "unknown";
}

NodeLink::NodeLink(uv_loop_t* loop, std::string name, net::Endpoint endpoint, NodeLinkOptions options)
    : name_(std::move(name)),
      options_(std::move(options)),
      connector_(loop, std::move(endpoint), options_.connector),
      deadlines_(loop, [this](uint64_t ref) { on_deadline(ref); }),
      next_turn_(loop) {
  connector_.set_on_connected([this](const std::shared_ptr<net::Connection>& c) { on_connected(c); });
  connector_.set_on_disconnected([this](const std::string& reason, uint64_t) { on_disconnected(reason); });
}

NodeLink::~NodeLink() {
  on_role_ = nullptr;
  on_event_ = nullptr;
  stop();
}

void NodeLink::start() { connector_.start(); }

void NodeLink::stop(const std::string& why) {
  connector_.stop();
  channel_.reset();
  role_ = NodeRole::kDown;
  reset_suspicion();
  const std::string text = why.empty() ? "the proxy is closing its connection to " + name_ : why + " (" + name_ + ")";
  for (auto& [ref, pending] : pending_.take_all()) {
    deadlines_.cancel(ref);
    defer(std::move(pending.on_reply), wire::make_error(proto::ErrorCode::ClusterLostConnection, text));
  }
}

void NodeLink::defer(ReplyCallback callback, Error error) {
  deferred_.emplace_back(std::move(callback), std::move(error));
  if (next_turn_.active()) return;
  next_turn_.start(0, [this] {
    auto deferred = std::move(deferred_);
    deferred_.clear();
    for (auto& [answer, why] : deferred) {
      UpstreamReply reply;
      reply.error = std::move(why);
      answer(reply);
    }
  });
}

void NodeLink::reset_suspicion() {
  if (probe_ref_) deadlines_.cancel(probe_ref_);
  probe_ref_ = 0;
  misses_ = 0;
  suspect_ = false;
}

void NodeLink::on_connected(const std::shared_ptr<net::Connection>& connection) {
  net::ChannelOptions channel_options;
  channel_options.max_frame_size = options_.max_frame_size;
  // A node's frame we cannot read fails the one request it answers, never the connection.
  channel_options.answer_errors = false;
  channel_options.oversized = wire::OversizedFrames::kSkip;
  channel_ = std::make_unique<net::MessageChannel>(connection, channel_options);
  channel_->set_on_message([this](const proto::Envelope& e) { on_message(e, channel_->current_payload()); });
  channel_->set_on_unreadable([this](std::optional<wire::EnvelopeIds> ids, proto::ErrorCode code, const std::string& text) {
    on_unreadable(ids, code, text);
  });
  reset_suspicion();
  registration_ref_ = pending_.unslotted_ref();
  channel_->send(wire::encode_register_client(registration_ref_, proto::ClientType::Proxy, options_.proxy_name, {},
                                              options_.proxy_secret, options_.proxy_instance));
  deadlines_.start(registration_ref_, options_.request_timeout_ms);
  set_role(NodeRole::kRegistering);
}

void NodeLink::on_disconnected(const std::string& reason) {
  const bool was_up = role_ != NodeRole::kDown;
  channel_.reset();
  deadlines_.cancel(registration_ref_);
  reset_suspicion();
  last_error_ = reason;
  if (was_up) spdlog::warn("event=upstream_lost node={} reason={}", quote(name_), quote(reason));
  fail_all("lost connection to " + name_ + ": " + reason);
  set_role(NodeRole::kDown);
}

bool NodeLink::send(const Outgoing& request, uint64_t upstream_client, ReplyCallback on_reply, uint64_t timeout_ms) {
  if (!channel_ || role_ == NodeRole::kDown || role_ == NodeRole::kRegistering) return false;
  const bool observed = options_.reply_seconds && timeout_ms <= options_.request_timeout_ms;
  const uint64_t ref = pending_.add(Pending{std::move(on_reply), observed ? now_ns() : 0});
  // The client's own bytes are re-addressed straight into the connection's output; a request
  // the proxy built is encoded first.
  wire::Frame frame;
  if (request.is_native()) frame = request.encode(ref, upstream_client);
  // Re-addressing a client's frame adds a root table (wire::readdress_envelope), so a frame just
  // under the proxy's limit can exceed the node's; the node would close the whole connection
  // (FrameTooLarge loses the framing). Refuse this one request instead.
  const size_t node_limit = options_.node_max_frame_size ? options_.node_max_frame_size : options_.max_frame_size;
  const size_t payload =
      (request.is_native() ? frame.size() : wire::readdressed_size(request.bytes().size())) - wire::kFrameHeaderSize;
  if (node_limit && payload > node_limit) {
    spdlog::warn("event=upstream_request_too_large node={} bytes={} limit={}", quote(name_), payload, node_limit);
    defer(std::move(pending_.take(ref)->on_reply),
          wire::make_error(proto::ErrorCode::FrameTooLarge,
                           "the request is " + std::to_string(payload) + " bytes once addressed to " + name_ +
                               ", over the node's max-frame-size of " + std::to_string(node_limit) + " bytes"));
    return true;
  }
  if (request.is_native()) {
    channel_->send(std::move(frame));
  } else {
    channel_->send_readdressed(request.bytes(), ref, upstream_client);
  }
  deadlines_.start(ref, timeout_ms ? timeout_ms : options_.request_timeout_ms);
  return true;
}

void NodeLink::on_message(const proto::Envelope& envelope, std::span<const uint8_t> payload) {
  const uint64_t ref = envelope.ref_id();
  if (ref != 0 && ref == registration_ref_) {
    deadlines_.cancel(ref);
    registration_ref_ = 0;
    const proto::EventClientRegistered* registered = envelope.body_as_EventClientRegistered();
    if (!registered) {
      const proto::EventError* error = envelope.body_as_EventError();
      last_error_ = "registration refused: " + (error && error->text() ? error->text()->str() : wire::message_name(envelope.body_type()));
      spdlog::error("event=upstream_registration_refused node={} reason={}", quote(name_), quote(last_error_));
      channel_->connection().abort(last_error_);
      return;
    }
    set_role(registered->role() == proto::ServerRole::Primary ? NodeRole::kPrimary : NodeRole::kBackup);
    return;
  }
  if (ref != 0 && ref == probe_ref_) {
    // The node's loop answers: it is slow, not gone. Keep the connection and its sessions.
    deadlines_.cancel(ref);
    probe_ref_ = 0;
    spdlog::info("event=upstream_probe_answered node={} misses={}", quote(name_), misses_);
    return;
  }
  if (const proto::EventServerRoleChanged* changed = envelope.body_as_EventServerRoleChanged()) {
    const NodeRole role = changed->role() == proto::ServerRole::Primary ? NodeRole::kPrimary : NodeRole::kBackup;
    if (role_ == NodeRole::kPrimary && role == NodeRole::kBackup && channel_) {
      // A planned switchover: the ping follows everything this link sent before it heard, and
      // the node stops serving once every proxy's ping has arrived (its pong matches nothing).
      channel_->send(wire::encode_heard_backup_ping(pending_.unslotted_ref()));
    }
    set_role(role);
    return;
  }
  std::optional<Pending> pending = pending_.take(ref);
  if (!pending) {
    // Node-initiated (ref 0), or the reply to a request whose deadline already passed.
    if (ref == 0 && on_event_) on_event_(envelope, payload);
    return;
  }
  if (pending->sent_ns) options_.reply_seconds->observe(static_cast<double>(now_ns() - pending->sent_ns) / 1e9);
  deadlines_.cancel(ref);
  if (suspect_) {
    spdlog::info("event=upstream_recovered node={}", quote(name_));
    reset_suspicion();
  }
  UpstreamReply reply;
  reply.envelope = &envelope;
  reply.payload = payload;
  pending->on_reply(reply);
}

void NodeLink::set_role(NodeRole role) {
  if (role == role_) return;
  spdlog::info("event=upstream_role node={} from={} to={}", quote(name_), node_role_name(role_), node_role_name(role));
  role_ = role;
  if (on_role_) on_role_(role);
}

void NodeLink::fail_all(const std::string& why) {
  // Callbacks may send new requests (on another link); take the whole table first.
  for (auto& [ref, p] : pending_.take_all()) {
    deadlines_.cancel(ref);
    UpstreamReply reply;
    reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, why);
    p.on_reply(reply);
  }
}

void NodeLink::on_deadline(uint64_t ref) {
  if (ref == probe_ref_) return on_probe_deadline();
  if (ref == registration_ref_) {
    const std::string why = "no registration reply from " + name_;
    spdlog::warn("event=upstream_timeout node={} request=registration", quote(name_));
    if (channel_) channel_->connection().abort(why);
    return;
  }
  std::optional<Pending> pending = pending_.take(ref);
  if (!pending) return;
  const std::string why = "no reply from " + name_ + " within the request deadline";
  // One late reply fails its own request; whether the node is gone is for the probe to say.
  const bool probing = probe_ref_ != 0;
  if (!probing) ++misses_;
  suspect_ = true;
  spdlog::warn("event=upstream_timeout node={} in_flight={} misses={} probing={}", quote(name_), pending_.size(),
               misses_, probing);
  if (!probing && misses_ >= kMissesBeforeDrop && channel_) {
    spdlog::warn("event=upstream_dropped node={} reason={}", quote(name_),
                 quote(std::to_string(misses_) + " probe rounds without an in-time reply"));
    channel_->connection().abort(why + " (" + std::to_string(misses_) + " times in a row)");
  } else if (!probing && channel_) {
    probe_ref_ = pending_.unslotted_ref();
    channel_->send(wire::encode_ping(probe_ref_));
    deadlines_.start(probe_ref_, std::min(kProbeTimeoutMs, options_.request_timeout_ms));
    spdlog::info("event=upstream_suspect node={} probe_timeout_ms={}", quote(name_),
                 std::min(kProbeTimeoutMs, options_.request_timeout_ms));
  }
  UpstreamReply reply;
  reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, why);
  pending->on_reply(reply);
}

void NodeLink::on_probe_deadline() {
  probe_ref_ = 0;
  const std::string why = name_ + " answered neither a request within its deadline nor a ping within " +
                          std::to_string(std::min(kProbeTimeoutMs, options_.request_timeout_ms)) + " ms";
  spdlog::warn("event=upstream_probe_failed node={} reason={}", quote(name_), quote(why));
  // Stalled or gone: drop the connection so that the other requests fail now and new ones fail
  // fast until it answers again.
  if (channel_) channel_->connection().abort(why);
}

void NodeLink::on_unreadable(std::optional<wire::EnvelopeIds> ids, proto::ErrorCode code, const std::string& text) {
  const uint64_t ref = ids ? ids->ref_id : 0;
  std::optional<Pending> pending = pending_.take(ref);
  spdlog::warn("event=upstream_reply_unreadable node={} ref={} matched={} code={} reason={}", quote(name_), ref,
               pending.has_value(), static_cast<int>(code), quote(text));
  if (!pending) return;  // an event of the node's own, or a reply whose request timed out
  deadlines_.cancel(ref);
  ++unreadable_replies_;
  UpstreamReply reply;
  reply.error = wire::make_error(code, "the reply of " + name_ + " cannot be read: " + text);
  pending->on_reply(reply);
}

}  // namespace ix::proxy
