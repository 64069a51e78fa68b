// ProxyWorker: requests about interactions — submit, everything addressed by interaction ID,
// and pulls (DESIGN.md §4–§5).
#include <spdlog/spdlog.h>

#include "protocol/log.h"
#include "protocol/wire/interaction_id.h"
#include "protocol/query/condition.h"
#include "proxy/route/ordered_merge.h"
#include "proxy/route/owner_lookup.h"
#include "proxy/server/proxy_worker.h"

namespace ix::proxy {

namespace {

using wire::str;

Error missing(proto::Message type, const char* attribute) {
  return wire::make_error(proto::ErrorCode::MissingAttribute,
                          wire::message_name(type) + "." + attribute + " is required to route the request");
}

}  // namespace

void ProxyWorker::remember_owner(const proto::InteractionInfo* info, PairIndex pair) {
  if (!info || !info->interaction_id()) return;
  const std::string_view id = info->interaction_id()->string_view();
  if (!wire::cluster_id_tag(id)) cache_.remember(std::string(id), pair);
}

void ProxyWorker::remember_owner(const proto::InteractionInfoT& info) {
  if (wire::cluster_id_tag(info.interaction_id)) return;
  if (std::optional<PairIndex> pair = table_->index_of(info.node_id)) cache_.remember(info.interaction_id, *pair);
}

// ---------------------------------------------------------------------------------------------
// Submit: one eligible pair; a client-supplied ID must not exist anywhere yet.

void ProxyWorker::handle_submit(const Call& call, const proto::Envelope& envelope, Outgoing request) {
  const proto::RequestSubmit* r = envelope.body_as_RequestSubmit();
  const std::string tenant = str(r->tenant_id()), media = str(r->media_type()), id = str(r->interaction_id());
  if (tenant.empty()) return reply_error(call, missing(call.type, "tenant_id"));
  if (media.empty()) return reply_error(call, missing(call.type, "media_type"));
  if (!table_->tenant_known(tenant)) {
    return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute,
                                              "RequestSubmit.tenant_id \"" + tenant + "\" is not a tenant of this cluster"));
  }
  if (id.empty() || wire::cluster_id_tag(id)) return submit_to_pair(call, request, tenant, media);

  // A client-supplied ID: ask every pair whether it already has it.
  proto::RequestGetPropertiesT properties;
  properties.interaction_id = id;
  request.keep();
  calls_->ask_all(table_->all_pairs(), Outgoing::of(std::move(properties)), 0,
          [this, call, request, tenant, media, id](std::vector<PairAnswer> answers) {
    Result<PairIndex> owner = decide_owner(*table_, id, answers);
    if (owner) {
      cache_.remember(id, *owner);
      return reply_error(call, wire::make_error(proto::ErrorCode::DuplicateInteractionId,
                                                "interaction " + id + " already exists on node pair " + table_->pair_id(*owner)));
    }
    if (owner.error().code != static_cast<int>(proto::ErrorCode::UnknownInteraction)) {
      Error error = owner.error();
      if (error.code == static_cast<int>(proto::ErrorCode::ClusterInteractionNotAccessible)) {
        error.text = "cannot check that the client-supplied ID is unique: " + error.text;
      }
      return reply_error(call, error);
    }
    submit_to_pair(call, request, tenant, media);
  });
}

void ProxyWorker::submit_to_pair(const Call& call, const Outgoing& request, const std::string& tenant, const std::string& media) {
  Result<PairIndex> pair = submit_router_.choose(*table_, tenant, media, calls_->reachable());
  if (!pair) return reply_error(call, pair.error());
  const bool sent = forward(call, *pair, request, [this, pair = *pair](const proto::Envelope& reply) {
    if (const proto::EventSubmitted* submitted = reply.body_as_EventSubmitted()) {
      const std::string_view id = submitted->interaction_id()->string_view();
      if (!wire::cluster_id_tag(id)) cache_.remember(std::string(id), pair);
    }
  });
  if (!sent) reply_error(call, wire::make_error(proto::ErrorCode::ClusterLostConnection, calls_->unreachable_reason(*pair)));
}

// ---------------------------------------------------------------------------------------------
// By interaction ID: the owner from the tag, the cache, or by asking every candidate.

void ProxyWorker::handle_by_interaction_id(const Call& call, const std::string& id, Outgoing request) {
  OwnerPlan plan = plan_owner_lookup(*table_, cache_, id);
  if (plan.owner) {
    if (plan.from_cache) cache_hits_->inc();
    return send_to_owner(call, request, *plan.owner, id, plan.from_cache);
  }
  cache_misses_->inc();
  const uint64_t client = clients_.upstream(call.session_id, call.client_id);
  if (call.type == proto::Message::RequestGetProperties) {
    // The request is its own lookup: the owner's answer is the reply.
    return calls_->ask_all(plan.ask, request, client, [this, call, id](std::vector<PairAnswer> answers) {
      Result<PairIndex> owner = decide_owner(*table_, id, answers);
      if (!owner) return reply_error(call, owner.error());
      cache_.remember(id, *owner);
      for (const PairAnswer& a : answers) {
        if (a.pair == *owner) return forward_reply(call, a);
      }
    });
  }
  proto::RequestGetPropertiesT properties;
  properties.interaction_id = id;
  request.keep();
  calls_->ask_all(plan.ask, Outgoing::of(std::move(properties)), 0, [this, call, request, id](std::vector<PairAnswer> answers) {
    Result<PairIndex> owner = decide_owner(*table_, id, answers);
    if (!owner) return reply_error(call, owner.error());
    cache_.remember(id, *owner);
    send_to_owner(call, request, *owner, id, false);
  });
}

void ProxyWorker::send_to_owner(const Call& call, const Outgoing& request, PairIndex owner, const std::string& id,
                                bool from_cache) {
  Inspect inspect;
  if (from_cache) {
    inspect = [this, id](const proto::Envelope& reply) {
      const proto::EventError* error = reply.body_as_EventError();
      if (error && error->code() == static_cast<int>(proto::ErrorCode::UnknownInteraction)) cache_.forget(id);
    };
  }
  if (!forward(call, owner, request, std::move(inspect))) {
    reply_error(call, wire::make_error(proto::ErrorCode::ClusterInteractionNotAccessible,
                                       "interaction " + id + " belongs to node pair " + table_->pair_id(owner) +
                                           ", which cannot be reached: " + calls_->unreachable_reason(owner)));
  }
}

// ---------------------------------------------------------------------------------------------
// Pulls: the pairs serving the tenant one after another (pull_plan.h).

struct ProxyWorker::PullState {
  Call call;
  Outgoing request;
  uint64_t upstream_client = 0;
  PairSet order;
  size_t next = 0;
  bool waiting_pass = false;
  uint32_t remaining = 0;
  uint32_t hold_ms = 0;
  uint64_t hold_until_ms = 0;  // loop time when the client's hold time is over
  std::vector<std::unique_ptr<proto::InteractionInfoT>> pulled;
  std::optional<Error> refusal;
};

void ProxyWorker::handle_pull(const Call& call, const proto::Envelope& envelope, Outgoing request) {
  const proto::RequestPull* r = envelope.body_as_RequestPull();
  const std::string tenant = str(r->tenant_id());
  if (tenant.empty()) return reply_error(call, missing(call.type, "tenant_id"));
  if (r->count() == 0) {
    return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestPull.count must be at least 1"));
  }
  const PairSet serving = table_->pairs_for_tenant(tenant);
  if (serving.empty()) {
    return reply_error(call, wire::make_error(proto::ErrorCode::ClusterNoServerForMedia, "no node pair serves tenant \"" + tenant + "\""));
  }
  auto state = std::make_shared<PullState>();
  state->call = call;
  state->request = std::move(request);
  state->request.native();  // each pair is asked for what is still missing, with its own hold time
  state->upstream_client = clients_.upstream(call.session_id, call.client_id);
  state->order = pull_planner_.order(serving, calls_->reachable());
  state->remaining = r->count();
  state->hold_ms = r->hold_time_ms();
  state->hold_until_ms = uv_now(loop_) + r->hold_time_ms();
  if (state->order.empty()) {
    std::string reasons;
    for (PairIndex p : serving) reasons += (reasons.empty() ? "" : "; ") + calls_->unreachable_reason(p);
    return reply_error(call, wire::make_error(proto::ErrorCode::ClusterLostConnection,
                                              "no node pair serving tenant " + tenant + " can be reached: " + reasons));
  }
  fan_out_width_->observe(static_cast<double>(state->order.size()));
  const std::string view_id = str(r->view_id());
  auto view = std::find_if(config_->views.begin(), config_->views.end(), [&](const config::View& v) { return v.id == view_id; });
  if (view != config_->views.end() && view->ordered_pull) return ordered_pull(std::move(state), *view);
  pull_next(std::move(state));
}

// A view with ordered-pull: look at the head of the view on every pair (a find in the view's
// order), pick the interactions a single server would hand out next, and pull from each pair as
// many as it holds of them. When no pair has anything, the pull waits like any other.
void ProxyWorker::ordered_pull(std::shared_ptr<PullState> state, const config::View& view) {
  std::string queues;
  for (const std::string& q : view.queues) {
    std::string quoted;
    for (char c : q) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    queues += (queues.empty() ? "'" : ", '") + quoted + "'";
  }
  proto::RequestFindT heads;
  heads.tenant_id = view.tenant;
  heads.condition = "state = 'Queued' AND queue IN (" + queues + ")";
  if (!view.condition.empty()) heads.condition = "(" + view.condition + ") AND " + heads.condition;
  heads.order = view.order;
  heads.limit = state->remaining;
  auto order = query::Order::parse(view.order);
  if (!order) return reply_error(state->call, wire::make_error(proto::ErrorCode::InvalidCondition, "view " + view.id + " order " + order.error().text));
  calls_->ask_all(state->order, Outgoing::of(std::move(heads)), 0, [this, state, order = *order](std::vector<PairAnswer> answers) {
    std::vector<InteractionList> lists = interaction_lists(answers, &proto::Envelope::body_as_EventFindResult);
    InteractionList next = merge_in_order(std::move(lists), [&](const auto& a, const auto& b) { return order.less(a, b); },
                                          state->remaining);
    std::map<PairIndex, uint32_t> take;
    for (const auto& info : next) {
      if (std::optional<PairIndex> pair = table_->index_of(info->node_id)) ++take[*pair];
    }
    if (take.empty()) return pull_next(state);  // nothing queued anywhere: wait as usual
    std::vector<std::pair<PairIndex, Outgoing>> pulls;
    for (auto [pair, count] : take) {
      proto::RequestPullT pull = *state->request.native().body.AsRequestPull();
      pull.count = count;
      pull.hold_time_ms = 0;
      pulls.emplace_back(pair, Outgoing::of(std::move(pull)));
    }
    calls_->ask_each(std::move(pulls), state->upstream_client, [this, state, order](std::vector<PairAnswer> pulls_answered) {
      std::vector<InteractionList> pulled_lists;
      for (const PairAnswer& answer : pulls_answered) {
        InteractionList& list = pulled_lists.emplace_back();
        const proto::EventPulled* pulled = answer.kind == PairAnswer::Kind::kReply ? answer.envelope()->body_as_EventPulled() : nullptr;
        if (!pulled || !pulled->interactions()) continue;
        for (const proto::InteractionInfo* info : *pulled->interactions()) {
          remember_owner(info, answer.pair);
          list.emplace_back(info->UnPack());
        }
      }
      // Handed out in the view's order across pairs.
      proto::EventPulledT reply_body;
      reply_body.interactions = merge_in_order(std::move(pulled_lists), [&](const auto& a, const auto& b) { return order.less(a, b); }, SIZE_MAX);
      reply(state->call, wire::encode_frame(state->call.ref_id, state->call.client_id, reply_body));
      finish(state->call, Outcome::kOk);
    }, request_timeout_ms());
  });
}

void ProxyWorker::pull_next(std::shared_ptr<PullState> state) {
  const uint64_t now = uv_now(loop_);
  bool done = state->remaining == 0;
  if (!done && state->next == state->order.size()) {
    // A pass is over. Wait only if nothing was found and the client asked to wait.
    if (state->waiting_pass || !state->pulled.empty() || state->refusal || state->hold_ms == 0 ||
        now >= state->hold_until_ms) {
      done = true;
    } else {
      state->waiting_pass = true;
      state->next = 0;
    }
  }
  if (!done && state->waiting_pass && now >= state->hold_until_ms) done = true;
  if (done) {
    if (state->pulled.empty() && state->refusal) return reply_error(state->call, *state->refusal);
    proto::EventPulledT pulled;
    pulled.interactions = std::move(state->pulled);
    reply(state->call, wire::encode_frame(state->call.ref_id, state->call.client_id, pulled));
    return finish(state->call, Outcome::kOk);
  }
  const PairIndex pair = state->order[state->next++];
  proto::RequestPullT* body = state->request.native().body.AsRequestPull();
  body->count = state->remaining;
  body->hold_time_ms =
      state->waiting_pass
          ? PullPlanner::hold_per_pair(static_cast<uint32_t>(state->hold_until_ms - now), proxy_->settings.pull_hold_timeout)
          : 0;
  const uint64_t timeout = request_timeout_ms() + body->hold_time_ms;
  calls_->ask(pair, state->request, state->upstream_client, [this, state, pair](PairAnswer answer) {
    if (answer.kind == PairAnswer::Kind::kReply) {
      if (const proto::EventPulled* pulled = answer.envelope()->body_as_EventPulled(); pulled && pulled->interactions()) {
        for (const proto::InteractionInfo* info : *pulled->interactions()) {
          remember_owner(info, pair);
          state->pulled.emplace_back(info->UnPack());
        }
        state->remaining -= std::min<uint32_t>(state->remaining, pulled->interactions()->size());
      }
    } else if (answer.kind == PairAnswer::Kind::kRefused && !state->refusal) {
      state->refusal = Error{answer.error.code, "node pair " + table_->pair_id(pair) + " refused: " + answer.error.text};
    } else if (answer.kind == PairAnswer::Kind::kUnreachable) {
      spdlog::debug("event=pull_pair_skipped pair={} reason={}", table_->pair_id(pair), quote(answer.error.text));
    }
    pull_next(state);
  }, timeout);
}

}  // namespace ix::proxy
