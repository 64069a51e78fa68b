// Session: one registered protocol connection, for the tools that talk to a proxy or a node the
// way the outside world does (ixctl, ixsim). It connects, registers as the given client type,
// sends requests with their own ref_ids and deadlines, and hands each reply to the request's
// callback; unsolicited messages (reporting events, invitations, role changes) go to on_event.
//
// Owned by its creator and used on one loop's thread. Callbacks never run from inside a call to
// the session; they run from the loop. Destroying the session drops pending callbacks.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

#include "protocol/net/connection.h"
#include "protocol/net/endpoint.h"
#include "protocol/net/request_timers.h"
#include "protocol/result.h"
#include "protocol/wire/frame_codec.h"
#include "protocol/wire/messages.h"

namespace ix::tools {

// A verified reply: the payload bytes (for message_json) and the unpacked envelope.
struct Reply {
  std::vector<uint8_t> payload;
  std::unique_ptr<proto::EnvelopeT> envelope;

  const proto::EnvelopeT& operator*() const { return *envelope; }
  const proto::EnvelopeT* operator->() const { return envelope.get(); }
  // The server's refusal, if this reply is one.
  const proto::EventErrorT* error() const { return envelope->body.AsEventError(); }
};

class Session {
 public:
  // An Error means no reply: the connection could not be made or was lost, or the deadline
  // passed. A server's refusal is a Reply carrying EventError.
  using ReplyCallback = std::function<void(Result<Reply>)>;
  using EventCallback = std::function<void(Reply)>;

  struct Options {
    net::Endpoint endpoint;
    proto::ClientType client_type = proto::ClientType::AgentApplication;
    std::string client_name = "ixctl";
    std::shared_ptr<net::TlsContext> tls;  // null = plain TCP
    uint64_t connect_timeout_ms = 5000;
    uint64_t request_timeout_ms = 10'000;
  };

  Session(uv_loop_t* loop, Options options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects and registers; on_ready gets the registration reply or why there is none (within
  // connect_timeout_ms + request_timeout_ms). Returns the registration's ref_id.
  uint64_t open(ReplyCallback on_ready);
  void set_on_event(EventCallback cb) { on_event_ = std::move(cb); }
  // Runs once when the connection closes after it was open, with the reason.
  void set_on_closed(std::function<void(const std::string&)> cb) { on_closed_ = std::move(cb); }

  // Sends a request (any generated native request type); the callback gets the reply carrying
  // its ref_id, or an Error once the deadline (timeout_ms; 0 = the session's request timeout)
  // passed or the connection was lost. Returns the ref_id.
  template <class Native>
  uint64_t request(const Native& message, ReplyCallback on_reply, uint64_t timeout_ms = 0) {
    const uint64_t ref = next_ref_++;
    send(ref, wire::encode_frame(ref, 0, message), std::move(on_reply), timeout_ms);
    return ref;
  }
  // Drops a request's callback and deadline: its reply, if it still comes, is ignored.
  void forget(uint64_t ref);

  void close();
  bool is_open() const { return registered_ && connection_ && connection_->is_open(); }
  // Requests sent and not answered yet.
  size_t pending() const { return pending_.size(); }
  const std::string& server_name() const { return server_name_; }
  const net::Endpoint& endpoint() const { return options_.endpoint; }

 private:
  void send(uint64_t ref, wire::Frame frame, ReplyCallback on_reply, uint64_t timeout_ms);
  void on_frame(std::span<const uint8_t> payload);
  void fail_soon(uint64_t ref, std::string text);
  void fail_all(const std::string& why);

  uv_loop_t* loop_;
  Options options_;
  std::shared_ptr<net::Connection> connection_;
  wire::FrameDecoder decoder_;
  net::RequestTimers deadlines_;
  std::unordered_map<uint64_t, ReplyCallback> pending_;
  EventCallback on_event_;
  std::function<void(const std::string&)> on_closed_;
  std::string server_name_;
  bool registered_ = false;
  uint64_t next_ref_ = 1;
};

}  // namespace ix::tools
