// Workbins: an interaction placed in a workbin waits there for a specific agent or
// place (per the workbin type's owner) for later processing. Listeners subscribed to a workbin
// get EventWorkbinChanged when interactions enter or leave it.
#include <algorithm>
#include <optional>

#include "node/server/requests.h"

namespace ix::node {

namespace {

using wire::str;

bool workbin_owner(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, const std::string& tenant, const std::string& type,
                               const std::string& agent, const std::string& place, std::string& owner, const char* what) {
  if (type.empty()) {
    ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".workbin_type is missing");
    return false;
  }
  auto w = std::find_if(ctx.config->workbin_types.begin(), ctx.config->workbin_types.end(),
                        [&](const config::WorkbinType& c) { return c.id == type && (tenant.empty() || c.tenant == tenant); });
  if (w == ctx.config->workbin_types.end()) {
    ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute, std::string(what) + ".workbin_type \"" + type + "\" is not a workbin type" +
                                                         (tenant.empty() ? "" : " of tenant " + tenant));
    return false;
  }
  const bool by_place = w->owner == config::WorkbinOwner::kPlace;
  owner = by_place ? place : agent;
  if (owner.empty()) {
    ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + (by_place ? ".owner_place_id" : ".owner_agent_id") +
                                                         " is missing (workbin type " + type + " belongs to " +
                                                         (by_place ? "places" : "agents") + ")");
    return false;
  }
  return true;
}

// The owner of the workbin a request addressed to a tenant's workbin names (content,
// subscribe, pull: the same attributes), or nothing when it was refused.
template <class Request>
std::optional<std::string> named_workbin_owner(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, const Request* r,
                                               const char* what) {
  std::string owner;
  if (!workbin_owner(ctx, s, e, str(r->tenant_id()), str(r->workbin_type()), str(r->owner_agent_id()), str(r->owner_place_id()),
                     owner, what)) {
    return std::nullopt;
  }
  return owner;
}

// What a workbin holds (only what is not locked, for a pull), in the order it was placed there.
std::vector<Interaction*> workbin_content(ServiceContext& ctx, const std::string& type, const std::string& owner,
                                          bool unlocked_only) {
  std::vector<Interaction*> content;
  ctx.interactions.for_each([&](const Interaction& i) {
    if (i.state == proto::InteractionState::InWorkbin && i.workbin_type == type && i.workbin_owner == owner &&
        !(unlocked_only && i.locked)) {
      content.push_back(ctx.interactions.find(i.interaction_id));
    }
  });
  std::sort(content.begin(), content.end(), [](const Interaction* a, const Interaction* b) {
    return a->placed_at_us != b->placed_at_us ? a->placed_at_us < b->placed_at_us : a->interaction_id < b->interaction_id;
  });
  return content;
}

}  // namespace

void leave_workbin(ServiceContext& ctx, Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events) {
  if (interaction.state != proto::InteractionState::InWorkbin) return;
  proto::EventTakenFromWorkbinT taken;
  taken.interaction_id = interaction.interaction_id;
  taken.workbin_type = interaction.workbin_type;
  taken.owner_agent_id = interaction.workbin_owner;
  events.push_back(ctx.reporting.record(t, interaction, std::move(taken), ctx.now_us()));
  ctx.workbin_listeners.notify(interaction, false);
  interaction.workbin_type.clear();
  interaction.workbin_owner.clear();
}

void handle_place_in_workbin(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestPlaceInWorkbin* r = e.body_as_RequestPlaceInWorkbin();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestPlaceInWorkbin");
  if (interaction == nullptr) return;
  std::string owner;
  if (!workbin_owner(ctx, s, e, interaction->tenant_id, str(r->workbin_type()), str(r->owner_agent_id()), str(r->owner_place_id()),
                     owner, "RequestPlaceInWorkbin")) {
    return;
  }
  if (interaction->locked) {
    return ctx.refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is locked");
  }
  const int64_t now = ctx.now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->state == proto::InteractionState::Queued) {
    ctx.lifecycle.take_out_of_queue(*interaction, t, events, now);
  } else if (!interaction->agent_id.empty()) {
    ctx.lifecycle.remove_all_parties(*interaction, t, events, now);
  }
  leave_workbin(ctx, *interaction, t, events);
  interaction->state = proto::InteractionState::InWorkbin;
  interaction->workbin_type = str(r->workbin_type());
  interaction->workbin_owner = owner;
  interaction->placed_at_us = now;
  proto::EventPlacedInWorkbinT placed;
  placed.interaction_id = interaction->interaction_id;
  placed.workbin_type = interaction->workbin_type;
  placed.owner_agent_id = str(r->owner_agent_id());
  placed.owner_place_id = str(r->owner_place_id());
  events.push_back(ctx.reporting.record(t, *interaction, std::move(placed), now));
  ctx.persist(t, *interaction);
  ctx.workbin_listeners.notify(*interaction, true);
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_workbin_content(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestWorkbinContent* r = e.body_as_RequestWorkbinContent();
  const std::optional<std::string> named = named_workbin_owner(ctx, s, e, r, "RequestWorkbinContent");
  if (!named) return;
  const std::string& owner = *named;
  const std::string type = str(r->workbin_type());
  const std::vector<Interaction*> content = workbin_content(ctx, type, owner, false);
  proto::EventWorkbinContentT reply;
  reply.workbin_type = type;
  reply.owner_agent_id = str(r->owner_agent_id());
  reply.owner_place_id = str(r->owner_place_id());
  for (const Interaction* i : content) reply.interactions.push_back(std::make_unique<Interaction>(*i));
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void handle_workbin_subscribe(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestWorkbinSubscribe* r = e.body_as_RequestWorkbinSubscribe();
  const std::optional<std::string> named = named_workbin_owner(ctx, s, e, r, "RequestWorkbinSubscribe");
  if (!named) return;
  const std::string& owner = *named;
  const std::string type = str(r->workbin_type());
  if (r->subscribe()) {
    ctx.workbin_listeners.subscribe(s, e.client_id(), type, owner);
  } else {
    if (!ctx.workbin_listeners.subscribed(s, e.client_id(), type, owner)) {
      return ctx.refuse(s, e, proto::ErrorCode::WrongState, "not subscribed to workbin " + type + " of " + owner);
    }
    ctx.workbin_listeners.unsubscribe(s, e.client_id(), type, owner);
  }
  s.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

void pull_from_workbin(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestPull* r = e.body_as_RequestPull();
  const std::optional<std::string> named = named_workbin_owner(ctx, s, e, r, "RequestPull");
  if (!named) return;
  const std::string& owner = *named;
  const std::string type = str(r->workbin_type());
  std::vector<Interaction*> content = workbin_content(ctx, type, owner, true);
  content.resize(std::min<size_t>(content.size(), r->count()));
  AgentState* agent = ctx.lifecycle.speaking_agent(s, e.client_id());
  const int64_t now = ctx.now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  proto::EventPulledT reply;
  for (Interaction* interaction : content) {
    leave_workbin(ctx, *interaction, t, events);
    interaction->state = proto::InteractionState::Handling;
    if (agent != nullptr) ctx.lifecycle.hand_to_agent(*interaction, *agent, t, events, now);
    ctx.persist(t, *interaction);
    reply.interactions.push_back(std::make_unique<Interaction>(*interaction));
  }
  wire::Frame frame = wire::encode_frame(e.ref_id(), e.client_id(), reply);
  if (events.empty()) {
    s.send(frame);
    return;
  }
  ctx.commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), std::move(frame));
}

}  // namespace ix::node
