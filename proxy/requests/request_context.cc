#include "proxy/requests/request_context.h"

#include "protocol/wire/interaction_id.h"

namespace ix::proxy {

void ReplySink::answer(const Call& call, const PairAnswer& answer) {
  if (answer.kind == PairAnswer::Kind::kUnreachable) return reply_error(call, answer.error);
  if (answer.kind == PairAnswer::Kind::kRefused) {
    return reply(call, wire::encode_error(call.ref_id, call.client_id, answer.error), Outcome::kRefused);
  }
  reply_readdressed(call, *answer.payload, Outcome::kOk);
}

RequestContext::RequestContext(PairCalls& pair_calls, ReplySink& reply_sink, ClientIdMap& client_ids,
                               std::shared_ptr<const RoutingTable> routing_table, RequestSettings request_settings,
                               size_t cache_capacity, metrics::Registry& metrics, std::function<uint64_t()> clock)
    : calls(pair_calls),
      replies(reply_sink),
      clients(client_ids),
      table(std::move(routing_table)),
      settings(request_settings),
      cache(cache_capacity),
      now_ms(std::move(clock)),
      cache_hits(metrics.counter("ix_proxy_cache_lookups_total", "Interaction cache lookups", {{"result", "hit"}})),
      cache_misses(metrics.counter("ix_proxy_cache_lookups_total", "Interaction cache lookups", {{"result", "miss"}})),
      fan_out_width(metrics.histogram("ix_proxy_fan_out_width", "Pairs asked by one fanned-out request",
                                      {1, 2, 3, 4, 6, 8, 16, 32, 64})),
      pulls_waiting(metrics.gauge("ix_proxy_pulls_waiting", "Pulls in their holding pass: nothing found yet, the client waits")) {}

void RequestContext::remember_owner(const proto::InteractionInfo* info, PairIndex pair) {
  if (!info || !info->interaction_id()) return;
  const std::string_view id = info->interaction_id()->string_view();
  if (!wire::cluster_id_tag(id)) cache.remember(std::string(id), pair);
}

void RequestContext::remember_owner(const proto::InteractionInfoT& info) {
  if (wire::cluster_id_tag(info.interaction_id)) return;
  if (std::optional<PairIndex> pair = table->index_of(info.node_id)) cache.remember(info.interaction_id, *pair);
}

bool RequestContext::forward(const Call& call, PairIndex pair, const Outgoing& request, Inspect inspect) {
  auto on_reply = [this, call, inspect = std::move(inspect)](const UpstreamReply& r) {
    if (!r.envelope) return replies.reply_error(call, r.error);
    if (inspect) inspect(*r.envelope);
    replies.reply_readdressed(call, r.payload, r.envelope->body_type() == proto::Message::EventError ? Outcome::kRefused : Outcome::kOk);
  };
  return calls.forward(pair, request, upstream(call), std::move(on_reply));
}

}  // namespace ix::proxy
