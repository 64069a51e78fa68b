// ProxyWorker: find and workbin content across pairs — fanned out to the candidate pairs and
// merged in the requested order with the limit applied to the merged result
// (proxy/route/ordered_merge.h). When the condition names the media types a match must have,
// only the pairs that can hold those media are asked.
#include "protocol/query/condition.h"
#include "proxy/route/ordered_merge.h"
#include "proxy/server/proxy_worker.h"

namespace ix::proxy {

namespace {

using wire::str;

}  // namespace

void ProxyWorker::handle_find(const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  const proto::RequestFind* r = envelope.body_as_RequestFind();
  const std::string tenant = str(r->tenant_id());
  if (tenant.empty()) {
    return reply_error(call, wire::make_error(proto::ErrorCode::MissingAttribute, "RequestFind.tenant_id is required to route the request"));
  }
  auto condition = query::Condition::parse(str(r->condition()));
  if (!condition) {
    return reply_error(call, wire::make_error(proto::ErrorCode::InvalidCondition, "RequestFind.condition " + condition.error().text));
  }
  auto order = query::Order::parse(str(r->order()));
  if (!order) return reply_error(call, wire::make_error(proto::ErrorCode::InvalidCondition, "RequestFind.order " + order.error().text));
  const uint32_t limit = r->limit() == 0 ? query::kDefaultFindLimit : r->limit();
  if (limit > query::kMaxFindLimit) {
    return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestFind.limit " + std::to_string(limit) +
                                                                                      " exceeds " + std::to_string(query::kMaxFindLimit)));
  }
  PairSet pairs = table_->pairs_for_tenant(tenant);
  if (std::optional<std::vector<std::string>> media = condition->required_values("media_type")) {
    std::erase_if(pairs, [&](PairIndex p) {
      return std::none_of(media->begin(), media->end(), [&](const std::string& m) { return table_->pair(p).serves_media(m); });
    });
  }
  const bool accept_partial = r->accept_partial();
  calls_->ask_all(pairs, request, clients_.upstream(call.session_id, call.client_id),
          [this, call, order = *order, limit, accept_partial](std::vector<PairAnswer> answers) {
            ScatterOutcome outcome = decide_scatter(*table_, answers, accept_partial);
            if (outcome.error) return reply_error(call, *outcome.error);
            proto::EventFindResultT result;
            result.interactions = merge_in_order(interaction_lists(answers, &proto::Envelope::body_as_EventFindResult),
                                                 [&](const auto& a, const auto& b) { return order.less(a, b); }, limit);
            for (const auto& info : result.interactions) remember_owner(*info);
            result.partial = !outcome.missing.empty();
            result.missing_nodes = std::move(outcome.missing);
            reply(call, wire::encode_frame(call.ref_id, call.client_id, result));
            finish(call, Outcome::kOk);
          });
}

void ProxyWorker::handle_workbin_content(const Call& call, const proto::Envelope& envelope, const Outgoing& request) {
  const proto::RequestWorkbinContent* r = envelope.body_as_RequestWorkbinContent();
  const std::string tenant = str(r->tenant_id());
  if (tenant.empty()) {
    return reply_error(call, wire::make_error(proto::ErrorCode::MissingAttribute,
                                              "RequestWorkbinContent.tenant_id is required to route the request"));
  }
  const bool accept_partial = r->accept_partial();
  proto::EventWorkbinContentT reply_body;
  reply_body.workbin_type = str(r->workbin_type());
  reply_body.owner_agent_id = str(r->owner_agent_id());
  reply_body.owner_place_id = str(r->owner_place_id());
  calls_->ask_all(table_->pairs_for_tenant(tenant), request, clients_.upstream(call.session_id, call.client_id),
          [this, call, accept_partial, reply_body = std::make_shared<proto::EventWorkbinContentT>(std::move(reply_body))](
              std::vector<PairAnswer> answers) {
            ScatterOutcome outcome = decide_scatter(*table_, answers, accept_partial);
            if (outcome.error) return reply_error(call, *outcome.error);
            // A workbin lists its interactions in the order they were placed in it, on every node.
            static const query::Order placed = *query::Order::parse("placed asc, interaction_id asc");
            reply_body->interactions = merge_in_order(interaction_lists(answers, &proto::Envelope::body_as_EventWorkbinContent),
                                                      [&](const auto& a, const auto& b) { return placed.less(a, b); }, SIZE_MAX);
            for (const auto& info : reply_body->interactions) remember_owner(*info);
            reply_body->partial = !outcome.missing.empty();
            reply_body->missing_nodes = std::move(outcome.missing);
            reply(call, wire::encode_frame(call.ref_id, call.client_id, *reply_body));
            finish(call, Outcome::kOk);
          });
}

}  // namespace ix::proxy
