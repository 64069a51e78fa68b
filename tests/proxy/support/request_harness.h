// RequestHarness: a RequestContext for in-process handler tests — the routing table of
// tests/proxy/route/route_fixture.h (pair-1 "p1": tenant 101, chat; pair-2 "p2": 101 and 202,
// all media; pair-3 "p3": 101, chat, submit disabled), FakePairCalls and a reply sink that
// records what the client would receive. No sockets, no loop: time is a number the test sets.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "protocol/http/metrics.h"
#include "proxy/requests/request_context.h"
#include "tests/proxy/route/route_fixture.h"
#include "tests/proxy/support/fake_pair_calls.h"

namespace ix::test {

// What the client received for each request, by ref_id.
class RecordingReplies final : public proxy::ReplySink {
 public:
  struct Received {
    std::shared_ptr<proto::EnvelopeT> envelope;
    proxy::Outcome outcome;
  };
  void reply(const proxy::Call& call, wire::Frame frame, proxy::Outcome outcome) override {
    std::shared_ptr<proto::EnvelopeT> envelope(proto::GetEnvelope(frame.data() + 4)->UnPack());
    EXPECT_EQ(envelope->ref_id, call.ref_id);
    EXPECT_EQ(envelope->client_id, call.client_id);
    EXPECT_FALSE(by_ref.contains(call.ref_id)) << "a second reply to ref_id " << call.ref_id;
    by_ref[call.ref_id] = {std::move(envelope), outcome};
  }
  void reply_error(const proxy::Call& call, const Error& error) override {
    reply(call, wire::encode_error(call.ref_id, call.client_id, error), proxy::Outcome::kError);
  }
  std::map<uint64_t, Received> by_ref;
};

class RequestHarness {
 public:
  explicit RequestHarness(const std::string& extra_config = "")
      : config_(routing_config(extra_config)),
        calls(config_->node_pairs.size()),
        context(calls, replies, clients, std::make_shared<const proxy::RoutingTable>(config_),
                proxy::RequestSettings{1000, std::chrono::milliseconds(500)}, 100, metrics, [this] { return now_ms; }) {}

  // A request as a client sends it: a call for ref_id and the verified envelope.
  template <class NativeMessage>
  void send(uint64_t ref_id, const NativeMessage& body,
            const std::function<void(proxy::RequestContext&, const proxy::Call&, const proto::Envelope&, proxy::Outgoing)>& handler,
            uint64_t client_id = 7) {
    wire::Frame frame = wire::encode_frame(ref_id, client_id, body);
    std::span<const uint8_t> payload(frame.data() + 4, frame.size() - 4);
    const proto::Envelope* envelope = proto::GetEnvelope(payload.data());
    proxy::Call call{1, ref_id, client_id, envelope->body_type(), proxy::route_kind(envelope->body_type()), 0};
    handler(context, call, *envelope, proxy::Outgoing::borrow(payload));  // borrowed: valid only during the call, as in a worker
  }
  // The reply to ref_id (null while there is none).
  const proto::EnvelopeT* reply(uint64_t ref_id) {
    auto it = replies.by_ref.find(ref_id);
    return it == replies.by_ref.end() ? nullptr : it->second.envelope.get();
  }
  int error_code(uint64_t ref_id) {
    const proto::EnvelopeT* r = reply(ref_id);
    return r && r->body.AsEventError() ? r->body.AsEventError()->code : 0;
  }
  std::string error_text(uint64_t ref_id) {
    const proto::EnvelopeT* r = reply(ref_id);
    return r && r->body.AsEventError() ? r->body.AsEventError()->text : "";
  }

 private:
  std::shared_ptr<const config::ClusterConfig> config_;

 public:
  uint64_t now_ms = 1'000'000;
  metrics::Registry metrics;
  FakePairCalls calls;
  RecordingReplies replies;
  proxy::ClientIdMap clients;
  proxy::RequestContext context;
};

inline int code(proto::ErrorCode c) { return static_cast<int>(c); }

}  // namespace ix::test
