// Interaction requests: submit, get and change properties, place in a
// queue, stop processing, pull (with held pulls that wait for an interaction to arrive), and
// reporting subscriptions.
#include <algorithm>
#include <chrono>

#include "node/reporting/reporting_state.h"
#include "node/server/requests.h"
#include "protocol/log.h"
#include "protocol/wire/interaction_id.h"
#include "protocol/wire/kv.h"

namespace ix::node {

namespace {

constexpr uint32_t kMaxPullCount = 1000;

using wire::str;

// Takes interactions for a pull; returns false when there were none.
bool serve_pull(ServiceContext& ctx, ClientSession& s, uint64_t ref_id, uint64_t client_id, const std::vector<std::string>& queues,
                            const CompiledView* view, uint32_t count) {
  const std::vector<Interaction*> pulled =
      view ? select(ctx, queues, *view, count) : ctx.interactions.peek(queues, count);
  if (pulled.empty()) return false;
  const int64_t now = ctx.now_us();
  AgentState* agent = ctx.lifecycle.speaking_agent(s, client_id);  // an agent's pull makes it the handling party
  Transaction t;
  std::vector<RecordedEvent> events;
  proto::EventPulledT reply;
  for (Interaction* interaction : pulled) {
    ctx.lifecycle.take_out_of_queue(*interaction, t, events, now);
    interaction->state = proto::InteractionState::Handling;
    if (agent != nullptr) ctx.lifecycle.hand_to_agent(*interaction, *agent, t, events, now);
    ctx.persist(t, *interaction);
    reply.interactions.push_back(std::make_unique<Interaction>(*interaction));
  }
  ctx.commit(&s, ref_id, client_id, std::move(t), std::move(events), wire::encode_frame(ref_id, client_id, reply));
  return true;
}

}  // namespace

void handle_submit(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestSubmit* r = e.body_as_RequestSubmit();
  const std::string tenant = str(r->tenant_id()), media = str(r->media_type()), queue = str(r->queue());
  if (!ctx.check_tenant_request(s, e, "RequestSubmit", {{"tenant_id", &tenant}, {"media_type", &media}, {"queue", &queue}})) return;
  // A retry of a submit this pair has already applied: the original interaction, answered once
  // the original's commit is durable (commits complete in order).
  const std::string request_id = str(r->request_id());
  if (request_id.size() > SubmitKeys::kMaxRequestIdBytes) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                      "RequestSubmit.request_id is " + std::to_string(request_id.size()) + " bytes long; at most " +
                          std::to_string(SubmitKeys::kMaxRequestIdBytes) + " are allowed");
  }
  const std::string key = request_id.empty() ? "" : SubmitKeys::scoped(tenant, request_id);
  const int64_t window_us = std::chrono::duration_cast<std::chrono::microseconds>(ctx.pair().settings.submit_key_window).count();
  if (!key.empty()) {
    if (const std::string* original = ctx.submit_keys.find(key, ctx.now_us(), window_us)) {
      proto::EventSubmittedT reply;
      reply.interaction_id = *original;
      reply.node_id = ctx.pair_id;
      reply.repeated = true;
      spdlog::debug("event=submit_repeated interaction={}", *original);
      return ctx.commit(&s, e.ref_id(), e.client_id(), Transaction{}, {}, wire::encode_frame(e.ref_id(), e.client_id(), reply));
    }
  }
  const config::MediaType* media_type = ctx.config->media_type(media);
  if (media_type == nullptr) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute, "RequestSubmit.media_type \"" + media + "\" is not a configured media type");
  }
  if (!ctx.pair().serves_media(media)) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestSubmit.media_type \"" + media + "\" is not served by node pair " + ctx.pair_id);
  }
  const config::Queue* q = ctx.queue(queue);
  if (q == nullptr || q->tenant != tenant) {
    return ctx.refuse(s, e, proto::ErrorCode::UnknownQueue, "RequestSubmit.queue \"" + queue + "\" is not a queue of tenant " + tenant);
  }
  // Memory: every open interaction lives in the node; beyond the limit the pair refuses new ones
  // rather than the node being killed for want of memory.
  const uint32_t limit = ctx.pair().settings.max_live_interactions;
  if (ctx.interactions.size() >= limit) {
    return ctx.refuse(s, e, proto::ErrorCode::InteractionLimitReached,
                      "node pair " + ctx.pair_id + " holds " + std::to_string(ctx.interactions.size()) +
                          " open interactions, its max-live-interactions (" + std::to_string(limit) +
                          "); new submits are refused until interactions are stopped or the limit is raised");
  }
  std::string id = str(r->interaction_id());
  const bool generated = id.empty();
  if (generated) {
    id = wire::make_cluster_id(ctx.pair().tag, ++ctx.interaction_counter);
  } else if (wire::cluster_id_tag(id)) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestSubmit.interaction_id \"" + id + "\" has the form of a cluster-generated ID (<tag>-<16 hex digits>); choose another");
  } else if (ctx.interactions.find(id) != nullptr) {
    return ctx.refuse(s, e, proto::ErrorCode::DuplicateInteractionId, "interaction " + id + " already exists on node pair " + ctx.pair_id);
  }

  auto interaction = std::make_unique<Interaction>();
  interaction->interaction_id = id;
  interaction->tenant_id = tenant;
  interaction->media_type = media;
  interaction->interaction_type = str(r->interaction_type());
  interaction->interaction_subtype = str(r->interaction_subtype());
  interaction->parent_id = str(r->parent_id());
  interaction->priority = r->priority();
  interaction->node_id = ctx.pair_id;
  interaction->submitted_at_us = ctx.now_us();
  if (r->user_data()) interaction->user_data.reset(r->user_data()->UnPack());
  Interaction& stored = *interaction;
  ctx.interactions.put(std::move(interaction));
  // An agent's own submit (an outbound e-mail, say) starts in the agent's hands; anything else
  // waits in its queue.
  AgentState* agent = ctx.lifecycle.speaking_agent(s, e.client_id());
  Transaction t;
  std::vector<RecordedEvent> events;
  proto::EventInteractionSubmittedT submitted;
  submitted.interaction = std::make_unique<Interaction>(stored);
  events.push_back(ctx.reporting.record(t, stored, std::move(submitted), stored.submitted_at_us));
  if (agent != nullptr) {
    stored.queue = queue;  // where it goes back to if the agent lets go of it
    stored.state = proto::InteractionState::Handling;
    ctx.lifecycle.hand_to_agent(stored, *agent, t, events, stored.submitted_at_us);
  } else {
    ctx.lifecycle.place_in_queue(stored, queue, "", t, events, stored.submitted_at_us);
  }
  ctx.persist(t, stored);
  if (generated) t.mutations.push_back(SetCounter{ServiceContext::kInteractionCounter, ctx.interaction_counter});
  if (!key.empty()) ctx.submit_keys.record(t, key, id, stored.submitted_at_us, window_us);

  proto::EventSubmittedT reply;
  reply.interaction_id = id;
  reply.node_id = ctx.pair_id;
  ctx.commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void handle_get_properties(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestGetProperties* r = e.body_as_RequestGetProperties();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestGetProperties");
  if (interaction == nullptr) return;
  proto::EventPropertiesT reply;
  reply.interaction = std::make_unique<Interaction>(*interaction);
  if (r->keys() && r->keys()->size() > 0 && reply.interaction->user_data) {
    auto& pairs = reply.interaction->user_data->pairs;
    std::erase_if(pairs, [&](const std::unique_ptr<proto::KvPairT>& p) {
      return std::none_of(r->keys()->begin(), r->keys()->end(), [&](const flatbuffers::String* k) { return k->str() == p->key; });
    });
  }
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void handle_change_properties(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestChangeProperties* r = e.body_as_RequestChangeProperties();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestChangeProperties");
  if (interaction == nullptr) return;
  if (!interaction->user_data) interaction->user_data = std::make_unique<proto::KvListT>();
  proto::KvListT& data = *interaction->user_data;
  auto has = [&](const std::string& key) {
    return std::any_of(data.pairs.begin(), data.pairs.end(), [&](const auto& p) { return p->key == key; });
  };
  // Validate everything first: a refused request changes nothing.
  if (r->changed() && r->changed()->pairs()) {
    for (const proto::KvPair* p : *r->changed()->pairs()) {
      if (!has(p->key()->str())) {
        return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                      "RequestChangeProperties.changed: property \"" + p->key()->str() + "\" does not exist (use added)");
      }
    }
  }
  if (r->added() && r->added()->pairs()) {
    for (const proto::KvPair* p : *r->added()->pairs()) {
      if (has(p->key()->str())) {
        return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                      "RequestChangeProperties.added: property \"" + p->key()->str() + "\" already exists (use changed)");
      }
    }
  }
  if (r->deleted()) {
    for (const flatbuffers::String* key : *r->deleted()) {
      if (!has(key->str())) {
        return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                      "RequestChangeProperties.deleted: property \"" + key->str() + "\" does not exist");
      }
    }
  }
  proto::EventPropertiesChangedT changed;
  changed.interaction_id = interaction->interaction_id;
  auto replace_or_add = [&](const proto::KvPair* incoming) {
    std::unique_ptr<proto::KvPairT> native(incoming->UnPack());
    std::erase_if(data.pairs, [&](const auto& p) { return p->key == native->key; });
    data.pairs.push_back(std::move(native));
  };
  if (r->changed() && r->changed()->pairs()) {
    for (const proto::KvPair* p : *r->changed()->pairs()) replace_or_add(p);
    changed.changed.reset(r->changed()->UnPack());
  }
  if (r->added() && r->added()->pairs()) {
    for (const proto::KvPair* p : *r->added()->pairs()) replace_or_add(p);
    changed.added.reset(r->added()->UnPack());
  }
  if (r->deleted()) {
    for (const flatbuffers::String* key : *r->deleted()) {
      std::erase_if(data.pairs, [&](const auto& p) { return p->key == key->str(); });
      changed.deleted.push_back(key->str());
    }
  }
  Transaction t;
  ctx.persist(t, *interaction);
  std::vector<RecordedEvent> events{ctx.reporting.record(t, *interaction, std::move(changed), ctx.now_us())};
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_place_in_queue(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestPlaceInQueue* r = e.body_as_RequestPlaceInQueue();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestPlaceInQueue");
  if (interaction == nullptr) return;
  const std::string queue = str(r->queue());
  if (queue.empty()) return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestPlaceInQueue.queue is missing");
  const config::Queue* q = ctx.queue(queue);
  if (q == nullptr || q->tenant != interaction->tenant_id) {
    return ctx.refuse(s, e, proto::ErrorCode::UnknownQueue,
                  "RequestPlaceInQueue.queue \"" + queue + "\" is not a queue of tenant " + interaction->tenant_id);
  }
  if (interaction->locked) {
    return ctx.refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is locked");
  }
  const int64_t now = ctx.now_us();
  const std::string previous_queue = interaction->queue;
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->state == proto::InteractionState::Queued) {
    events.push_back(ctx.lifecycle.taken_from_queue(t, *interaction, now));
  } else if (!interaction->agent_id.empty()) {
    ctx.lifecycle.remove_all_parties(*interaction, t, events, now);
  }
  leave_workbin(ctx, *interaction, t, events);
  ctx.lifecycle.place_in_queue(*interaction, queue, previous_queue, t, events, now);
  ctx.persist(t, *interaction);
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_stop_processing(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestStopProcessing* r = e.body_as_RequestStopProcessing();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestStopProcessing");
  if (interaction == nullptr) return;
  const int64_t now = ctx.now_us();
  const std::string id = interaction->interaction_id;
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->state == proto::InteractionState::Queued) events.push_back(ctx.lifecycle.taken_from_queue(t, *interaction, now));
  if (!interaction->agent_id.empty()) {
    // The parties' desktops learn that the interaction is gone (unless they stopped it).
    std::vector<std::string> parties = interaction->conference;
    parties.push_back(interaction->agent_id);
    for (const std::string& party : parties) {
      if (party == str(r->agent_id())) continue;
      proto::EventRevokedT revoked;
      revoked.interaction_id = id;
      revoked.agent_id = party;
      revoked.reason = wire::kv_list({{"reason", "processing stopped"}});
      ctx.notify_agent(party, wire::encode_frame(0, 0, revoked));
    }
    ctx.lifecycle.remove_all_parties(*interaction, t, events, now);
  }
  if (ctx.transfers.pending(id)) ctx.transfers.fail(id, "interaction " + id + " was stopped during its transfer", true);
  leave_workbin(ctx, *interaction, t, events);
  proto::EventProcessingStoppedT stopped;
  stopped.interaction_id = id;
  if (r->reason()) stopped.reason.reset(r->reason()->UnPack());
  events.push_back(ctx.reporting.record(t, *interaction, std::move(stopped), now));
  ctx.interactions.remove(id);
  t.mutations.push_back(DeleteInteraction{id});
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_pull(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestPull* r = e.body_as_RequestPull();
  const std::string view = str(r->view_id()), queue = str(r->queue()), workbin = str(r->workbin_type());
  if (static_cast<int>(!view.empty()) + static_cast<int>(!queue.empty()) + static_cast<int>(!workbin.empty()) != 1) {
    return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestPull needs exactly one of view_id, queue and workbin_type");
  }
  if (r->count() == 0 || r->count() > kMaxPullCount) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestPull.count " + std::to_string(r->count()) + " is out of range 1.." + std::to_string(kMaxPullCount));
  }
  if (!workbin.empty()) return pull_from_workbin(ctx, s, e);
  std::vector<std::string> queues;
  const CompiledView* compiled = nullptr;
  if (!queue.empty()) {
    if (ctx.queue(queue) == nullptr) return ctx.refuse(s, e, proto::ErrorCode::UnknownQueue, "RequestPull.queue \"" + queue + "\" does not exist");
    queues.push_back(queue);
  } else {
    auto v = ctx.views.find(view);
    if (v == ctx.views.end()) return ctx.refuse(s, e, proto::ErrorCode::UnknownView, "RequestPull.view_id \"" + view + "\" does not exist");
    compiled = &v->second;
    queues = v->second.view->queues;
  }
  if (serve_pull(ctx, s, e.ref_id(), e.client_id(), queues, compiled, r->count())) return;
  const uint64_t hold = std::min<uint64_t>(r->hold_time_ms(), static_cast<uint64_t>(ctx.pair().settings.pull_hold_timeout.count()));
  if (hold == 0) {
    s.send(wire::encode_frame(e.ref_id(), e.client_id(), proto::EventPulledT{}));
    return;
  }
  ctx.held_pulls.hold({&s, e.ref_id(), e.client_id(), std::move(queues), compiled, r->count()}, hold);
}

void serve_held_pulls(ServiceContext& ctx) {
  ctx.held_pulls.serve([&ctx](const HeldPulls::Pull& pull) {
    return serve_pull(ctx, *pull.session, pull.ref_id, pull.client_id, pull.queues, pull.view, pull.count);
  });
}

void handle_start_reporting(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestStartReporting* r = e.body_as_RequestStartReporting();
  std::set<std::string> tenants;
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) tenants.insert(t->str());
  }
  Result<wire::ReportingClasses> classes = wire::reporting_classes(*r);
  if (!classes) return ctx.refuse(s, e, static_cast<proto::ErrorCode>(classes.error().code), classes.error().text);
  std::optional<uint64_t> resume;
  if (r->resume()) {
    for (const proto::ResumePosition* p : *r->resume()) {
      if (p->node_id()->str() == ctx.pair_id) resume = p->seq();
    }
  }
  if (Status st = ctx.reporting.subscribe(&s, e.client_id(), std::move(tenants), classes->interactions, classes->agents, resume); !st) {
    return ctx.refuse(s, e, static_cast<proto::ErrorCode>(st.error().code), st.error().text);
  }
  s.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

void handle_stop_reporting(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  ctx.reporting.unsubscribe(&s, e.client_id());
  s.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

void handle_reporting_state(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestReportingState* r = e.body_as_RequestReportingState();
  std::set<std::string> tenants;
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) tenants.insert(t->str());
  }
  Result<query::Condition> condition = query::Condition::parse(wire::str(r->condition()));
  if (!condition) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidCondition, "RequestReportingState.condition " + condition.error().text);
  }
  // Memory holds every change up to the last assigned seq (commits in flight included), so
  // that is the position the state matches.
  s.send(wire::encode_frame(e.ref_id(), e.client_id(),
                            reporting_state(ctx.interactions, ctx.agents, ctx.pair_id, ctx.reporting.last_assigned_seq(), tenants,
                                            *condition)));
}

}  // namespace ix::node
