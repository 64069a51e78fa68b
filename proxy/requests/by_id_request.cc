#include "proxy/requests/by_id_request.h"

#include "proxy/requests/tenant_pairs.h"
#include "proxy/route/owner_lookup.h"

namespace ix::proxy {

namespace {

void send_to_owner(RequestContext& ctx, const Call& call, const Outgoing& request, PairIndex owner, std::string_view id,
                   bool from_cache) {
  RequestContext::Inspect inspect;
  if (from_cache) {
    // A cached owner that no longer has it: forget, so the next request asks again.
    inspect = [&ctx, id = std::string(id)](const proto::Envelope& reply) {
      const proto::EventError* error = reply.body_as_EventError();
      if (error && error->code() == static_cast<int>(proto::ErrorCode::UnknownInteraction)) ctx.cache.forget(id);
    };
  }
  if (!ctx.forward(call, owner, request, std::move(inspect))) {
    ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::ClusterInteractionNotAccessible,
                                                   "interaction " + std::string(id) + " belongs to node pair " + ctx.table->pair_id(owner) +
                                                       ", which cannot be reached: " + ctx.calls.unreachable_reason(owner)));
  }
}

}  // namespace

void handle_by_interaction_id(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request) {
  const flatbuffers::String* id_attribute = interaction_id_of(envelope);
  if (!id_attribute || id_attribute->size() == 0) return ctx.replies.reply_error(call, missing_attribute(call.type, "interaction_id"));
  // A view into the request's buffer: most requests are routed by the ID's tag without a copy.
  const std::string_view id_view = id_attribute->string_view();
  OwnerPlan plan = plan_owner_lookup(*ctx.table, ctx.cache, id_view);
  if (plan.owner) {
    if (plan.from_cache) ctx.cache_hits.inc();
    return send_to_owner(ctx, call, request, *plan.owner, id_view, plan.from_cache);
  }
  ctx.cache_misses.inc();
  const std::string id(id_view);
  if (call.type == proto::Message::RequestGetProperties) {
    // The request is its own lookup: the owner's answer is the reply.
    return ctx.calls.ask_all(plan.ask, request, ctx.upstream(call), [&ctx, table = ctx.table, call, id](std::vector<PairAnswer> answers) {
      Result<PairIndex> owner = decide_owner(*table, id, answers);
      if (!owner) return ctx.replies.reply_error(call, owner.error());
      ctx.cache.remember(id, *owner);
      for (const PairAnswer& a : answers) {
        if (a.pair == *owner) return ctx.replies.answer(call, a);
      }
    });
  }
  proto::RequestGetPropertiesT properties;
  properties.interaction_id = id;
  request.keep();
  ctx.calls.ask_all(plan.ask, Outgoing::of(std::move(properties)), 0, [&ctx, table = ctx.table, call, request, id](std::vector<PairAnswer> answers) {
    Result<PairIndex> owner = decide_owner(*table, id, answers);
    if (!owner) return ctx.replies.reply_error(call, owner.error());
    ctx.cache.remember(id, *owner);
    send_to_owner(ctx, call, request, *owner, id, false);
  });
}

}  // namespace ix::proxy
