// ProtocolClient: a test's synchronous view of one protocol connection on its TestLoop —
// connect, register, send a request and wait for the reply with its ref_id, and collect every
// unsolicited event (reporting events, role changes) in arrival order.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/frame_peers.h"
#include "tests/support/test_loop.h"

namespace ix::test {

using EnvelopePtr = std::unique_ptr<proto::EnvelopeT>;

class ProtocolClient {
 public:
  ProtocolClient(TestLoop& loop, uint16_t port, std::shared_ptr<net::TlsContext> tls = nullptr) : loop_(loop) {
    connect(port, std::move(tls));
  }
  ~ProtocolClient() { close(); }

  bool connect(uint16_t port, std::shared_ptr<net::TlsContext> tls = nullptr) {
    close();
    client_ = std::make_unique<FrameClient>(connect_to(loop_.get(), port, std::move(tls)));
    return loop_.run_until([&] { return client_->opened || client_->closed; }, 5000) && client_->opened;
  }
  void close() {
    if (!client_) return;
    if (!client_->closed) {
      client_->connection().close();
      loop_.run_until([&] { return client_->closed; }, 2000);
    }
    client_.reset();
  }
  bool closed() const { return !client_ || client_->closed; }

  // Registers and returns the server's answer (EventClientRegistered or EventError). A proxy
  // sends the [proxy-auth] secret with it.
  EnvelopePtr register_as(proto::ClientType type, const std::string& name = "test", const std::string& proxy_secret = "") {
    return request(wire::encode_register_client(next_ref_, type, name, {}, proxy_secret));
  }

  // Sends a native request and waits for the envelope that echoes its ref_id.
  template <class Native>
  EnvelopePtr call(const Native& message, uint64_t client_id = 0) {
    return request(wire::encode_frame(next_ref_, client_id, message));
  }

  // Sends without waiting; the reply comes later through wait_reply(ref).
  template <class Native>
  uint64_t send(const Native& message, uint64_t client_id = 0) {
    const uint64_t ref = next_ref_++;
    client_->send(wire::encode_frame(ref, client_id, message));
    return ref;
  }

  EnvelopePtr wait_reply(uint64_t ref, uint64_t timeout_ms = 5000) {
    EnvelopePtr reply;
    loop_.run_until([&] {
      take_reply(ref, reply);
      return reply != nullptr || client_->closed;
    }, timeout_ms);
    return reply;
  }

  EnvelopePtr request(const wire::Frame& frame, uint64_t timeout_ms = 5000) {
    const uint64_t ref = next_ref_++;
    client_->send(frame);
    EnvelopePtr reply;
    loop_.run_until([&] {
      take_reply(ref, reply);
      return reply != nullptr || client_->closed;
    }, timeout_ms);
    return reply;
  }

  // The ref_id the next request will carry (for frames built by hand).
  uint64_t next_ref() const { return next_ref_; }

  // Waits until at least n unsolicited events have arrived.
  bool wait_for_events(size_t n, uint64_t timeout_ms = 5000) {
    return loop_.run_until([&] {
      drain();
      return events.size() >= n || client_->closed;
    }, timeout_ms) && events.size() >= n;
  }

  std::vector<EnvelopePtr> events;  // ref_id 0: reporting events, role changes

 private:
  void drain() {
    for (auto& e : client_->received) {
      if (e && e->ref_id == 0) events.push_back(std::move(e));
    }
    std::erase_if(client_->received, [](const EnvelopePtr& e) { return e == nullptr; });
  }
  void take_reply(uint64_t ref, EnvelopePtr& reply) {
    for (auto& e : client_->received) {
      if (e && e->ref_id == ref) reply = std::move(e);
    }
    drain();
  }

  TestLoop& loop_;
  std::unique_ptr<FrameClient> client_;
  uint64_t next_ref_ = 1;
};

inline const proto::EventErrorT* as_error(const EnvelopePtr& e) { return e ? e->body.AsEventError() : nullptr; }

}  // namespace ix::test
