#include "proxy/upstream/node_link.h"

#include <spdlog/spdlog.h>

#include "protocol/log.h"
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

void NodeLink::stop() {
  connector_.stop();
  channel_.reset();
  role_ = NodeRole::kDown;
  for (auto& [ref, callback] : pending_) {
    deadlines_.cancel(ref);
    stopped_.push_back(std::move(callback));
  }
  pending_.clear();
  if (stopped_.empty() || next_turn_.active()) return;
  next_turn_.start(0, [this, why = "the proxy is closing its connection to " + name_] {
    auto stopped = std::move(stopped_);
    stopped_.clear();
    UpstreamReply reply;
    reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, why);
    for (auto& callback : stopped) callback(reply);
  });
}

void NodeLink::on_connected(const std::shared_ptr<net::Connection>& connection) {
  net::ChannelOptions channel_options;
  channel_options.max_frame_size = options_.max_frame_size;
  channel_ = std::make_unique<net::MessageChannel>(connection, channel_options);
  channel_->set_on_message([this](const proto::Envelope& e) { on_message(e, channel_->current_payload()); });
  registration_ref_ = ++next_ref_;
  channel_->send(wire::encode_register_client(registration_ref_, proto::ClientType::Proxy, options_.proxy_name, {}));
  deadlines_.start(registration_ref_, options_.request_timeout_ms);
  set_role(NodeRole::kRegistering);
}

void NodeLink::on_disconnected(const std::string& reason) {
  const bool was_up = role_ != NodeRole::kDown;
  channel_.reset();
  deadlines_.cancel(registration_ref_);
  last_error_ = reason;
  if (was_up) spdlog::warn("event=upstream_lost node={} reason={}", quote(name_), quote(reason));
  fail_all("lost connection to " + name_ + ": " + reason);
  set_role(NodeRole::kDown);
}

bool NodeLink::send(const std::function<std::vector<uint8_t>(uint64_t)>& encode, ReplyCallback on_reply,
                    uint64_t timeout_ms) {
  if (!channel_ || role_ == NodeRole::kDown || role_ == NodeRole::kRegistering) return false;
  const uint64_t ref = ++next_ref_;
  channel_->send(encode(ref));
  pending_.emplace(ref, std::move(on_reply));
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
  if (const proto::EventServerRoleChanged* changed = envelope.body_as_EventServerRoleChanged()) {
    set_role(changed->role() == proto::ServerRole::Primary ? NodeRole::kPrimary : NodeRole::kBackup);
    return;
  }
  auto it = ref == 0 ? pending_.end() : pending_.find(ref);
  if (it == pending_.end()) {
    // Node-initiated (ref 0), or the reply to a request whose deadline already passed.
    if (ref == 0 && on_event_) on_event_(envelope, payload);
    return;
  }
  ReplyCallback callback = std::move(it->second);
  pending_.erase(it);
  deadlines_.cancel(ref);
  UpstreamReply reply;
  reply.envelope = &envelope;
  reply.payload = payload;
  callback(reply);
}

void NodeLink::set_role(NodeRole role) {
  if (role == role_) return;
  spdlog::info("event=upstream_role node={} from={} to={}", quote(name_), node_role_name(role_), node_role_name(role));
  role_ = role;
  if (on_role_) on_role_(role);
}

void NodeLink::fail_all(const std::string& why) {
  // Callbacks may send new requests (on another link); take the whole table first.
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [ref, callback] : pending) {
    deadlines_.cancel(ref);
    UpstreamReply reply;
    reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, why);
    callback(reply);
  }
}

void NodeLink::on_deadline(uint64_t ref) {
  const std::string why = ref == registration_ref_ ? "no registration reply from " + name_
                                                   : "no reply from " + name_ + " within the request deadline";
  spdlog::warn("event=upstream_timeout node={} in_flight={}", quote(name_), pending_.size());
  auto it = pending_.find(ref);
  if (it != pending_.end()) {
    ReplyCallback callback = std::move(it->second);
    pending_.erase(it);
    UpstreamReply reply;
    reply.error = wire::make_error(proto::ErrorCode::ClusterLostConnection, why);
    callback(reply);
  }
  // A node that misses a deadline is stalled or broken: drop the connection so that the other
  // requests fail now and new ones fail fast until it answers again.
  if (channel_) channel_->connection().abort(why);
}

}  // namespace ix::proxy
