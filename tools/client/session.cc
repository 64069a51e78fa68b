#include "tools/client/session.h"

#include <netdb.h>

#include <cstring>

namespace ix::tools {

namespace {

// Numeric addresses at once; host names through the resolver (a tool may block briefly).
Result<sockaddr_storage> resolve(uv_loop_t* loop, const net::Endpoint& endpoint) {
  if (auto numeric = net::numeric_address(endpoint)) return numeric;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  uv_getaddrinfo_t request;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = uv_getaddrinfo(loop, &request, nullptr, endpoint.host.c_str(), port.c_str(), &hints); rc != 0) {
    return Error{0, "cannot resolve \"" + endpoint.host + "\": " + uv_strerror(rc)};
  }
  sockaddr_storage address{};
  std::memcpy(&address, request.addrinfo->ai_addr, request.addrinfo->ai_addrlen);
  uv_freeaddrinfo(request.addrinfo);
  return address;
}

}  // namespace

Session::Session(uv_loop_t* loop, Options options)
    : loop_(loop), options_(std::move(options)), deadlines_(loop, [this](uint64_t ref) {
        auto it = pending_.find(ref);
        if (it == pending_.end()) return;
        ReplyCallback cb = std::move(it->second);
        pending_.erase(it);
        cb(Error{0, "no answer from " + options_.endpoint.to_string() + " within the request timeout"});
      }) {}

Session::~Session() {
  pending_.clear();
  on_event_ = nullptr;
  on_closed_ = nullptr;
  if (connection_) {
    connection_->clear_callbacks();
    connection_->close("session closed");
  }
}

uint64_t Session::open(ReplyCallback on_ready) {
  Result<sockaddr_storage> address = resolve(loop_, options_.endpoint);
  // The first ref_id belongs to the registration; a failure is delivered like any reply.
  const uint64_t ref = next_ref_++;
  pending_[ref] = [this, on_ready = std::move(on_ready)](Result<Reply> reply) {
    if (reply && !reply->error()) {
      registered_ = true;
      if (const proto::EventClientRegisteredT* r = reply->envelope->body.AsEventClientRegistered()) {
        server_name_ = r->server_name;
      }
    }
    on_ready(std::move(reply));
  };
  if (!address) {
    fail_soon(ref, address.error().text);
    return ref;
  }
  net::ConnectionOptions connection_options;
  connection_options.connect_timeout_ms = options_.connect_timeout_ms;
  connection_ = net::Connection::connect(loop_, reinterpret_cast<const sockaddr*>(&*address), connection_options,
                                         options_.tls);
  connection_->set_on_data([this](std::span<const uint8_t> data) {
    decoder_.feed(data, [this](std::span<const uint8_t> payload) { on_frame(payload); });
  });
  connection_->set_on_close([this](const std::string& reason) {
    const bool was_registered = registered_;
    registered_ = false;
    fail_all((was_registered ? "connection to " : "cannot connect to ") + options_.endpoint.to_string() + ": " + reason);
    if (was_registered && on_closed_) on_closed_(reason);
  });
  wire::Frame frame = wire::encode_register_client(ref, options_.client_type, options_.client_name, {});
  connection_->write(std::move(frame));
  deadlines_.start(ref, options_.connect_timeout_ms + options_.request_timeout_ms);
  return ref;
}

void Session::forget(uint64_t ref) {
  pending_.erase(ref);
  deadlines_.cancel(ref);
}

void Session::send(uint64_t ref, wire::Frame frame, ReplyCallback on_reply, uint64_t timeout_ms) {
  pending_[ref] = std::move(on_reply);
  if (!is_open()) return fail_soon(ref, "not connected to " + options_.endpoint.to_string());
  connection_->write(std::move(frame));
  deadlines_.start(ref, timeout_ms ? timeout_ms : options_.request_timeout_ms);
}

void Session::on_frame(std::span<const uint8_t> payload) {
  Result<const proto::Envelope*> envelope = wire::verify_envelope(payload);
  if (!envelope) {
    connection_->abort("unreadable message from the server: " + envelope.error().text);
    return;
  }
  Reply reply{std::vector<uint8_t>(payload.begin(), payload.end()),
              std::unique_ptr<proto::EnvelopeT>((*envelope)->UnPack())};
  const uint64_t ref = reply->ref_id;
  auto it = ref == 0 ? pending_.end() : pending_.find(ref);
  if (it == pending_.end()) {
    if (on_event_) on_event_(std::move(reply));
    return;
  }
  ReplyCallback cb = std::move(it->second);
  pending_.erase(it);
  deadlines_.cancel(ref);
  cb(std::move(reply));
}

void Session::fail_soon(uint64_t ref, std::string text) {
  // An expiring deadline delivers the failure from the loop, never from inside the caller's call.
  pending_[ref] = [cb = std::move(pending_[ref]), text = std::move(text)](Result<Reply>) { cb(Error{0, text}); };
  deadlines_.start(ref, 0);
}

void Session::fail_all(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [ref, cb] : pending) {
    deadlines_.cancel(ref);
    cb(Error{0, why});
  }
}

void Session::close() {
  if (connection_) connection_->close("closed by the client");
}

}  // namespace ix::tools
