#include "proxy/requests/submit_request.h"

#include "protocol/wire/interaction_id.h"
#include "proxy/requests/tenant_pairs.h"
#include "proxy/route/owner_lookup.h"

namespace ix::proxy {

namespace {

// Forwards the submit to `pair`; remembers where a client-supplied ID went.
void forward_submit(RequestContext& ctx, const Call& call, const Outgoing& request, Result<PairIndex> pair) {
  if (!pair) return ctx.replies.reply_error(call, pair.error());
  const bool sent = ctx.forward(call, *pair, request, [&ctx, pair = *pair](const proto::Envelope& reply) {
    if (const proto::EventSubmitted* submitted = reply.body_as_EventSubmitted()) {
      const std::string_view id = submitted->interaction_id()->string_view();
      if (!wire::cluster_id_tag(id)) ctx.cache.remember(std::string(id), pair);
    }
  });
  if (!sent) {
    ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::ClusterLostConnection, ctx.calls.unreachable_reason(*pair)));
  }
}

// A new interaction: round robin over the eligible pairs, or — with a request_id — the one pair
// its key routes to on every proxy (SubmitRouter), which answers a retry with the original.
void submit_to_pair(RequestContext& ctx, const Call& call, const Outgoing& request, const std::string& tenant,
                    const std::string& media, const std::string& request_id) {
  forward_submit(ctx, call, request,
                 request_id.empty() ? ctx.submit_router.choose(*ctx.table, tenant, media, ctx.calls.reachable())
                                    : ctx.submit_router.choose_for_key(*ctx.table, tenant, media, request_id, ctx.calls.reachable()));
}

}  // namespace

void handle_submit(RequestContext& ctx, const Call& call, const proto::Envelope& envelope, Outgoing request) {
  const proto::RequestSubmit* r = envelope.body_as_RequestSubmit();
  const std::string tenant = wire::str(r->tenant_id()), media = wire::str(r->media_type()), id = wire::str(r->interaction_id());
  const std::string request_id = wire::str(r->request_id());
  if (tenant.empty()) return ctx.replies.reply_error(call, missing_attribute(call.type, "tenant_id"));
  if (media.empty()) return ctx.replies.reply_error(call, missing_attribute(call.type, "media_type"));
  if (!ctx.table->tenant_known(tenant)) return ctx.replies.reply_error(call, tenant_pairs(*ctx.table, call.type, tenant).error());
  if (id.empty() || wire::cluster_id_tag(id)) return submit_to_pair(ctx, call, request, tenant, media, request_id);

  // A client-supplied ID: ask every pair whether it already has it.
  proto::RequestGetPropertiesT properties;
  properties.interaction_id = id;
  request.keep();
  ctx.calls.ask_all(ctx.table->all_pairs(), Outgoing::of(std::move(properties)), 0,
                    [&ctx, table = ctx.table, call, request, tenant, media, id, request_id](std::vector<PairAnswer> answers) {
    Result<PairIndex> owner = decide_owner(*table, id, answers);
    if (owner) {
      ctx.cache.remember(id, *owner);
      // Perhaps this very submit, retried: its owner answers with the original when the
      // request_id matches, and DuplicateInteractionId otherwise.
      if (!request_id.empty()) return forward_submit(ctx, call, request, *owner);
      return ctx.replies.reply_error(call, wire::make_error(proto::ErrorCode::DuplicateInteractionId,
                                                            "interaction " + id + " already exists on node pair " + table->pair_id(*owner)));
    }
    if (owner.error().code != static_cast<int>(proto::ErrorCode::UnknownInteraction)) {
      Error error = owner.error();
      if (error.code == static_cast<int>(proto::ErrorCode::ClusterInteractionNotAccessible)) {
        error.text = "cannot check that the client-supplied ID is unique: " + error.text;
      }
      return ctx.replies.reply_error(call, error);
    }
    submit_to_pair(ctx, call, request, tenant, media, request_id);
  });
}

}  // namespace ix::proxy
