// FakePairCalls: PairCalls over scripted node pairs, for handler tests with no sockets and no
// loop (mcrouter tests its routes against fake children the same way). Each request is recorded
// and answered by the script; answers are queued and delivered only by run(), so — as with the
// real links — no callback runs from inside the call that was given it, and a request stays in
// flight until the test lets it finish.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "protocol/wire/messages.h"
#include "proxy/upstream/pair_calls.h"

namespace ix::test {

class FakePairCalls final : public proxy::PairCalls {
 public:
  struct Sent {
    proxy::PairIndex pair = 0;
    std::shared_ptr<proto::EnvelopeT> request;  // as the pair received it
    uint64_t upstream_client = 0;
    uint64_t timeout_ms = 0;
    proto::Message type() const { return request->body.type; }
  };
  // How a reachable pair answers a request.
  using Script = std::function<proxy::PairAnswer(proxy::PairIndex pair, const proto::EnvelopeT& request)>;

  explicit FakePairCalls(size_t pairs) : reachable_(pairs, true) {}

  void script(Script script) { script_ = std::move(script); }
  void set_reachable(proxy::PairIndex pair, bool reachable) { reachable_[pair] = reachable; }
  // More pair slots (a reload added pairs), reachable.
  void resize(size_t slots) { reachable_.resize(slots, true); }

  // Delivers every queued answer, and what those deliveries queue in turn, until none is left.
  // Returns how many callbacks ran.
  size_t run() {
    size_t ran = 0;
    while (!queue_.empty()) {
      auto next = std::move(queue_.front());
      queue_.pop_front();
      next();
      ++ran;
    }
    return ran;
  }
  // Delivers the oldest queued answer only; returns how many callbacks ran (0 or 1).
  size_t run_one() {
    if (queue_.empty()) return 0;
    auto next = std::move(queue_.front());
    queue_.pop_front();
    next();
    return 1;
  }
  size_t queued() const { return queue_.size(); }
  std::vector<Sent> sent;

  // Answers for scripts.
  template <class NativeMessage>
  static proxy::PairAnswer reply(proxy::PairIndex pair, const NativeMessage& body) {
    wire::Frame frame = wire::encode_frame(0, 0, body);
    return proxy::PairAnswer::reply(pair, std::make_shared<const std::vector<uint8_t>>(frame.begin() + 4, frame.end()));
  }
  static proxy::PairAnswer refused(proxy::PairIndex pair, proto::ErrorCode code, std::string text) {
    return proxy::PairAnswer::refused(pair, wire::make_error(code, std::move(text)));
  }

  size_t slot_count() const override { return reachable_.size(); }
  bool reachable(proxy::PairIndex pair) override { return reachable_[pair]; }
  std::string unreachable_reason(proxy::PairIndex pair) override { return "fake pair " + std::to_string(pair) + " is down"; }
  using proxy::PairCalls::reachable;

  void ask(proxy::PairIndex pair, const proxy::Outgoing& request, uint64_t upstream_client, Done done,
           uint64_t timeout_ms = 0) override {
    proxy::PairAnswer answer = record_and_answer(pair, request, upstream_client, timeout_ms);
    queue_.push_back([done = std::move(done), answer = std::move(answer)]() mutable { done(std::move(answer)); });
  }

  bool forward(proxy::PairIndex pair, const proxy::Outgoing& request, uint64_t upstream_client, ReplyView on_reply) override {
    if (!reachable_[pair]) return false;
    proxy::PairAnswer answer = record_and_answer(pair, request, upstream_client, 0);
    queue_.push_back([on_reply = std::move(on_reply), answer = std::move(answer)] {
      proxy::UpstreamReply reply;
      std::vector<uint8_t> payload;
      if (answer.kind == proxy::PairAnswer::Kind::kReply) {
        payload = *answer.payload;
      } else if (answer.kind == proxy::PairAnswer::Kind::kRefused) {
        wire::Frame frame = wire::encode_error(0, 0, answer.error);
        payload.assign(frame.begin() + 4, frame.end());
      }
      if (!payload.empty()) {
        reply.envelope = proto::GetEnvelope(payload.data());
        reply.payload = payload;
      } else {
        reply.error = answer.error;
      }
      on_reply(reply);
    });
    return true;
  }

  void defer(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }

 private:
  proxy::PairAnswer record_and_answer(proxy::PairIndex pair, const proxy::Outgoing& request, uint64_t upstream_client,
                                      uint64_t timeout_ms) {
    wire::Frame frame = request.encode(0, upstream_client);
    std::shared_ptr<proto::EnvelopeT> native(proto::GetEnvelope(frame.data() + 4)->UnPack());
    sent.push_back({pair, native, upstream_client, timeout_ms});
    if (!reachable_[pair]) return proxy::PairAnswer::unreachable(pair, unreachable_reason(pair));
    if (!script_) return proxy::PairAnswer::unreachable(pair, "no script");
    return script_(pair, *native);
  }

  std::vector<bool> reachable_;
  Script script_;
  std::deque<std::function<void()>> queue_;
};

}  // namespace ix::test
