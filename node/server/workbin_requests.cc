// InteractionService's workbins: an interaction placed in a workbin waits there for a specific agent or
// place (per the workbin type's owner) for later processing. Listeners subscribed to a workbin
// get EventWorkbinChanged when interactions enter or leave it.
#include <algorithm>

#include "node/server/interaction_service.h"

namespace ix::node {

namespace {

using wire::str;

}  // namespace

bool InteractionService::workbin_owner(ClientSession& s, const proto::Envelope& e, const std::string& tenant, const std::string& type,
                               const std::string& agent, const std::string& place, std::string& owner, const char* what) {
  if (type.empty()) {
    refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".workbin_type is missing");
    return false;
  }
  auto w = std::find_if(config_->workbin_types.begin(), config_->workbin_types.end(),
                        [&](const config::WorkbinType& c) { return c.id == type && (tenant.empty() || c.tenant == tenant); });
  if (w == config_->workbin_types.end()) {
    refuse(s, e, proto::ErrorCode::InvalidAttribute, std::string(what) + ".workbin_type \"" + type + "\" is not a workbin type" +
                                                         (tenant.empty() ? "" : " of tenant " + tenant));
    return false;
  }
  const bool by_place = w->owner == config::WorkbinOwner::kPlace;
  owner = by_place ? place : agent;
  if (owner.empty()) {
    refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + (by_place ? ".owner_place_id" : ".owner_agent_id") +
                                                         " is missing (workbin type " + type + " belongs to " +
                                                         (by_place ? "places" : "agents") + ")");
    return false;
  }
  return true;
}

void InteractionService::notify_workbin(const Interaction& interaction, bool added) {
  for (const WorkbinListener& l : workbin_listeners_) {
    if (l.workbin_type != interaction.workbin_type || l.owner != interaction.workbin_owner) continue;
    ClientSession* session = open_session(l.session);
    if (session == nullptr) continue;
    proto::EventWorkbinChangedT changed;
    changed.workbin_type = interaction.workbin_type;
    changed.owner_agent_id = interaction.workbin_owner;
    changed.interaction_id = interaction.interaction_id;
    changed.added = added;
    session->send(wire::encode_frame(0, l.client_id, changed));
  }
}

void InteractionService::leave_workbin(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events) {
  if (interaction.state != proto::InteractionState::InWorkbin) return;
  proto::EventTakenFromWorkbinT taken;
  taken.interaction_id = interaction.interaction_id;
  taken.workbin_type = interaction.workbin_type;
  taken.owner_agent_id = interaction.workbin_owner;
  events.push_back(reporting_.record(t, interaction, std::move(taken), now_us()));
  notify_workbin(interaction, false);
  interaction.workbin_type.clear();
  interaction.workbin_owner.clear();
}

void InteractionService::handle_place_in_workbin(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestPlaceInWorkbin* r = e.body_as_RequestPlaceInWorkbin();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestPlaceInWorkbin");
  if (interaction == nullptr) return;
  std::string owner;
  if (!workbin_owner(s, e, interaction->tenant_id, str(r->workbin_type()), str(r->owner_agent_id()), str(r->owner_place_id()),
                     owner, "RequestPlaceInWorkbin")) {
    return;
  }
  if (interaction->locked) {
    return refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is locked");
  }
  const int64_t now = now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->state == proto::InteractionState::Queued) {
    take_out_of_queue(*interaction, t, events, now);
  } else if (!interaction->agent_id.empty()) {
    remove_all_parties(*interaction, t, events, now);
  }
  leave_workbin(*interaction, t, events);
  interaction->state = proto::InteractionState::InWorkbin;
  interaction->workbin_type = str(r->workbin_type());
  interaction->workbin_owner = owner;
  interaction->placed_at_us = now;
  proto::EventPlacedInWorkbinT placed;
  placed.interaction_id = interaction->interaction_id;
  placed.workbin_type = interaction->workbin_type;
  placed.owner_agent_id = str(r->owner_agent_id());
  placed.owner_place_id = str(r->owner_place_id());
  events.push_back(reporting_.record(t, *interaction, std::move(placed), now));
  persist(t, *interaction);
  notify_workbin(*interaction, true);
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void InteractionService::handle_workbin_content(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestWorkbinContent* r = e.body_as_RequestWorkbinContent();
  std::string owner;
  const std::string type = str(r->workbin_type());
  if (!workbin_owner(s, e, str(r->tenant_id()), type, str(r->owner_agent_id()), str(r->owner_place_id()), owner,
                     "RequestWorkbinContent")) {
    return;
  }
  std::vector<const Interaction*> content;
  interactions_.for_each([&](const Interaction& i) {
    if (i.state == proto::InteractionState::InWorkbin && i.workbin_type == type && i.workbin_owner == owner) content.push_back(&i);
  });
  std::sort(content.begin(), content.end(), [](const Interaction* a, const Interaction* b) {
    return a->placed_at_us != b->placed_at_us ? a->placed_at_us < b->placed_at_us : a->interaction_id < b->interaction_id;
  });
  proto::EventWorkbinContentT reply;
  reply.workbin_type = type;
  reply.owner_agent_id = str(r->owner_agent_id());
  reply.owner_place_id = str(r->owner_place_id());
  for (const Interaction* i : content) reply.interactions.push_back(std::make_unique<Interaction>(*i));
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void InteractionService::handle_workbin_subscribe(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestWorkbinSubscribe* r = e.body_as_RequestWorkbinSubscribe();
  std::string owner;
  const std::string type = str(r->workbin_type());
  if (!workbin_owner(s, e, str(r->tenant_id()), type, str(r->owner_agent_id()), str(r->owner_place_id()), owner,
                     "RequestWorkbinSubscribe")) {
    return;
  }
  auto same = [&](const WorkbinListener& l) {
    return l.session == &s && l.client_id == e.client_id() && l.workbin_type == type && l.owner == owner;
  };
  const bool present = std::any_of(workbin_listeners_.begin(), workbin_listeners_.end(), same);
  if (r->subscribe()) {
    if (!present) workbin_listeners_.push_back({&s, e.client_id(), type, owner});
  } else {
    if (!present) {
      return refuse(s, e, proto::ErrorCode::WrongState, "not subscribed to workbin " + type + " of " + owner);
    }
    std::erase_if(workbin_listeners_, same);
  }
  s.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

void InteractionService::pull_from_workbin(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestPull* r = e.body_as_RequestPull();
  std::string owner;
  const std::string type = str(r->workbin_type());
  if (!workbin_owner(s, e, str(r->tenant_id()), type, str(r->owner_agent_id()), str(r->owner_place_id()), owner, "RequestPull")) {
    return;
  }
  std::vector<Interaction*> content;
  interactions_.for_each([&](const Interaction& i) {
    if (i.state == proto::InteractionState::InWorkbin && i.workbin_type == type && i.workbin_owner == owner && !i.locked) {
      content.push_back(interactions_.find(i.interaction_id));
    }
  });
  std::sort(content.begin(), content.end(), [](const Interaction* a, const Interaction* b) {
    return a->placed_at_us != b->placed_at_us ? a->placed_at_us < b->placed_at_us : a->interaction_id < b->interaction_id;
  });
  content.resize(std::min<size_t>(content.size(), r->count()));
  AgentState* agent = speaking_agent(s, e.client_id());
  const int64_t now = now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  proto::EventPulledT reply;
  for (Interaction* interaction : content) {
    leave_workbin(*interaction, t, events);
    interaction->state = proto::InteractionState::Handling;
    if (agent != nullptr) hand_to_agent(*interaction, *agent, t, events, now);
    persist(t, *interaction);
    reply.interactions.push_back(std::make_unique<Interaction>(*interaction));
  }
  wire::Frame frame = wire::encode_frame(e.ref_id(), e.client_id(), reply);
  if (events.empty()) {
    s.send(frame);
    return;
  }
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), std::move(frame));
}

}  // namespace ix::node
