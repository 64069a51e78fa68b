#include "proxy/requests/query_requests.h"

#include <algorithm>

#include "protocol/query/condition.h"
#include "proxy/requests/tenant_pairs.h"
#include "proxy/route/ordered_merge.h"

namespace ix::proxy {

namespace {

// The answers merged in `order` into result (EventFindResultT or EventWorkbinContentT), or the
// error when a pair is missing and the client does not accept a partial result.
template <class Result, class Getter>
void merge_answers(RequestContext& ctx, const Call& call, const RoutingTable& table, const std::vector<PairAnswer>& answers,
                   bool accept_partial, Getter getter, const query::Order& order, size_t limit, Result& result) {
  ScatterOutcome outcome = decide_scatter(table, answers, accept_partial);
  if (outcome.error) return ctx.replies.reply_error(call, *outcome.error);
  result.interactions = merge_in_order(interaction_lists(answers, getter), [&](const auto& a, const auto& b) { return order.less(a, b); }, limit);
  for (const auto& info : result.interactions) ctx.remember_owner(*info);
  result.partial = !outcome.missing.empty();
  result.missing_nodes = std::move(outcome.missing);
  ctx.replies.result(call, result);
}

}  // namespace

void handle_find(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  const proto::RequestFind* r = envelope.body_as_RequestFind();
  Result<PairSet> pairs = tenant_pairs(*ctx.table, call.type, wire::str(r->tenant_id()));
  if (!pairs) return ctx.replies.reply_error(call, pairs.error());
  auto condition = query::Condition::parse(wire::str(r->condition()));
  if (!condition) {
    return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidCondition, "RequestFind.condition " + condition.error().text));
  }
  auto order = query::Order::parse(wire::str(r->order()));
  if (!order) return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidCondition, "RequestFind.order " + order.error().text));
  const uint32_t limit = r->limit() == 0 ? query::kDefaultFindLimit : r->limit();
  if (limit > query::kMaxFindLimit) {
    return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestFind.limit " + std::to_string(limit) +
                                                                                                  " exceeds " + std::to_string(query::kMaxFindLimit)));
  }
  if (std::optional<std::vector<std::string>> media = condition->required_values("media_type")) {
    std::erase_if(*pairs, [&](PairIndex p) {
      return std::none_of(media->begin(), media->end(), [&](const std::string& m) { return ctx.table->pair(p).serves_media(m); });
    });
  }
  ctx.calls.ask_all(*pairs, request, ctx.upstream(call),
                    [&ctx, table = ctx.table, call, order = *order, limit, accept_partial = r->accept_partial()](std::vector<PairAnswer> answers) {
    proto::EventFindResultT result;
    merge_answers(ctx, call, *table, answers, accept_partial, &proto::Envelope::body_as_EventFindResult, order, limit, result);
  });
}

void handle_workbin_content(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  const proto::RequestWorkbinContent* r = envelope.body_as_RequestWorkbinContent();
  Result<PairSet> pairs = tenant_pairs(*ctx.table, call.type, wire::str(r->tenant_id()));
  if (!pairs) return ctx.replies.reply_error(call, pairs.error());
  auto result = std::make_shared<proto::EventWorkbinContentT>();
  result->workbin_type = wire::str(r->workbin_type());
  result->owner_agent_id = wire::str(r->owner_agent_id());
  result->owner_place_id = wire::str(r->owner_place_id());
  ctx.calls.ask_all(*pairs, request, ctx.upstream(call),
                    [&ctx, table = ctx.table, call, accept_partial = r->accept_partial(), result](std::vector<PairAnswer> answers) {
    // A workbin lists its interactions in the order they were placed in it, on every node.
    static const query::Order placed = *query::Order::parse("placed asc, interaction_id asc");
    merge_answers(ctx, call, *table, answers, accept_partial, &proto::Envelope::body_as_EventWorkbinContent, placed, SIZE_MAX, *result);
  });
}

}  // namespace ix::proxy
