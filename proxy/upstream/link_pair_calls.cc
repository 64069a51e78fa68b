#include "proxy/upstream/link_pair_calls.h"

namespace ix::proxy {

LinkPairCalls::LinkPairCalls(uv_loop_t* loop, const std::vector<PairLink*>& links, const std::shared_ptr<const RoutingTable>& table)
    : links_(links), table_(table), next_turn_(loop) {}

std::string LinkPairCalls::unreachable_reason(PairIndex pair) {
  if (PairLink* l = link(pair)) return l->unreachable_reason();
  const std::string name = pair < table_->slot_count() ? "node pair " + table_->pair_id(pair) : "node pair #" + std::to_string(pair);
  return name + " was removed from the configuration";
}

void LinkPairCalls::ask(PairIndex pair, const Outgoing& request, uint64_t upstream_client, Done done, uint64_t timeout_ms) {
  auto on_reply = [pair, done](const UpstreamReply& r) {
    if (!r.envelope) {
      // The node answered, but its reply could not be read (or the request could not be sent
      // in one frame): a definite failure of this request, not a pair that cannot be asked.
      if (r.error.code != static_cast<int>(proto::ErrorCode::ClusterLostConnection)) return done(PairAnswer::refused(pair, r.error));
      return done(PairAnswer::unreachable(pair, r.error.text));
    }
    if (const proto::EventError* error = r.envelope->body_as_EventError()) {
      return done(PairAnswer::refused(pair, Error{error->code(), error->text() ? error->text()->str() : ""}));
    }
    done(PairAnswer::reply(pair, std::make_shared<const std::vector<uint8_t>>(r.payload.begin(), r.payload.end())));
  };
  PairLink* l = link(pair);
  if (l && l->send(request, upstream_client, on_reply, timeout_ms)) return;
  defer([done, answer = PairAnswer::unreachable(pair, unreachable_reason(pair))]() mutable { done(std::move(answer)); });
}

bool LinkPairCalls::forward(PairIndex pair, const Outgoing& request, uint64_t upstream_client, ReplyView on_reply) {
  PairLink* l = link(pair);
  return l && l->send(request, upstream_client, std::move(on_reply));
}

void LinkPairCalls::defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  if (!next_turn_.active()) next_turn_.start(0, [this] { run_deferred(); });
}

void LinkPairCalls::run_deferred() {
  // What these callbacks defer in turn waits for the next turn.
  std::vector<std::function<void()>> now = std::move(deferred_);
  deferred_.clear();
  for (auto& fn : now) fn();
}

}  // namespace ix::proxy
