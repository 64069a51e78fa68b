#include "node/server/interaction_lifecycle.h"

#include <algorithm>

namespace ix::node {

InteractionLifecycle::InteractionLifecycle(InteractionRegistry& interactions, AgentRegistry& agents, ReportingHub& reporting,
                                           Clock& clock, PairOf pair, TimeoutCallback on_timeout)
    : interactions_(interactions),
      agents_(agents),
      reporting_(reporting),
      pair_(std::move(pair)),
      timers_(clock, std::move(on_timeout)) {}

void InteractionLifecycle::restore() {
  interactions_.for_each([this](const Interaction& i) {
    if (i.agent_id.empty()) return;
    handled_by_[i.agent_id].insert(i.interaction_id);
    start_timer(i);
  });
}

void InteractionLifecycle::start_timer(const Interaction& interaction) {
  const config::NodeSettings& settings = pair_().settings;
  timers_.start(interaction.interaction_id, interaction.state == proto::InteractionState::Delivering ? settings.delivering_timeout
                                                                                                     : settings.handling_timeout);
}

void InteractionLifecycle::assign(Interaction& interaction, const AgentState& agent) {
  interaction.agent_id = agent.agent_id;
  interaction.place_id = agent.place_id;
  handled_by_[agent.agent_id].insert(interaction.interaction_id);
}

void InteractionLifecycle::join(Interaction& interaction, const std::string& agent) {
  interaction.conference.push_back(agent);
  handled_by_[agent].insert(interaction.interaction_id);
}

void InteractionLifecycle::forget(const std::string& agent, const std::string& interaction_id) {
  auto it = handled_by_.find(agent);
  if (it == handled_by_.end()) return;
  it->second.erase(interaction_id);
  if (it->second.empty()) handled_by_.erase(it);
}

void InteractionLifecycle::unassign(Interaction& interaction) {
  timers_.cancel(interaction.interaction_id);
  for (const std::string& agent : interaction.conference) forget(agent, interaction.interaction_id);
  forget(interaction.agent_id, interaction.interaction_id);
  interaction.agent_id.clear();
  interaction.place_id.clear();
  interaction.conference.clear();
}

bool InteractionLifecycle::is_party(const Interaction& interaction, const std::string& agent_id) {
  return !agent_id.empty() && (interaction.agent_id == agent_id ||
                               std::find(interaction.conference.begin(), interaction.conference.end(), agent_id) !=
                                   interaction.conference.end());
}

void InteractionLifecycle::hand_to_agent(Interaction& interaction, const AgentState& agent, Transaction& t,
                                         std::vector<RecordedEvent>& events, int64_t now) {
  assign(interaction, agent);
  timers_.start(interaction.interaction_id, pair_().settings.handling_timeout);
  events.push_back(party_added(t, interaction, interaction.agent_id, interaction.place_id, now));
}

void InteractionLifecycle::remove_all_parties(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                                              int64_t now) {
  events.push_back(party_removed(t, interaction, interaction.agent_id, interaction.place_id, now));
  for (const std::string& member : interaction.conference) {
    const AgentState* agent = agents_.find(member);
    events.push_back(party_removed(t, interaction, member, agent ? agent->place_id : std::string(), now));
  }
  unassign(interaction);
}

void InteractionLifecycle::leave_conference(Interaction& interaction, const std::string& agent, Transaction& t,
                                            std::vector<RecordedEvent>& events, int64_t now) {
  const std::string place = agent == interaction.agent_id ? interaction.place_id : std::string();
  if (agent == interaction.agent_id) {
    // Another party carries the interaction on.
    interaction.agent_id = interaction.conference.front();
    interaction.conference.erase(interaction.conference.begin());
    if (const AgentState* next = agents_.find(interaction.agent_id)) interaction.place_id = next->place_id;
  } else {
    std::erase(interaction.conference, agent);
  }
  forget(agent, interaction.interaction_id);
  events.push_back(party_removed(t, interaction, agent, place, now));
}

void InteractionLifecycle::take_out_of_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                                             int64_t now) {
  if (interaction.state != proto::InteractionState::Queued) return;
  events.push_back(taken_from_queue(t, interaction, now));
  interactions_.take_from_queue(interaction);
}

void InteractionLifecycle::place_in_queue(Interaction& interaction, const std::string& queue, const std::string& previous_queue,
                                          Transaction& t, std::vector<RecordedEvent>& events, int64_t now) {
  interactions_.place_in_queue(interaction, queue, now);
  proto::EventPlacedInQueueT placed;
  placed.interaction_id = interaction.interaction_id;
  placed.queue = queue;
  placed.previous_queue = previous_queue;
  events.push_back(reporting_.record(t, interaction, std::move(placed), now));
}

void InteractionLifecycle::return_to_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                                           std::unique_ptr<proto::KvListT> reason, bool invitation, int64_t now) {
  if (invitation) {
    proto::EventInvitationRevokedT revoked;
    revoked.interaction_id = interaction.interaction_id;
    revoked.agent_id = interaction.agent_id;
    revoked.reason = std::move(reason);
    events.push_back(reporting_.record(t, interaction, std::move(revoked), now));
  } else {
    events.push_back(party_removed(t, interaction, interaction.agent_id, interaction.place_id, now));
  }
  unassign(interaction);
  place_in_queue(interaction, interaction.queue, "", t, events, now);
}

RecordedEvent InteractionLifecycle::taken_from_queue(Transaction& t, const Interaction& interaction, int64_t now) {
  proto::EventTakenFromQueueT taken;
  taken.interaction_id = interaction.interaction_id;
  taken.queue = interaction.queue;
  return reporting_.record(t, interaction, std::move(taken), now);
}

namespace {

// PartyAdded and PartyRemoved carry the same fields.
template <class Event>
Event party_event(const Interaction& interaction, const std::string& agent, const std::string& place) {
  Event event;
  event.interaction_id = interaction.interaction_id;
  event.agent_id = agent;
  event.place_id = place;
  return event;
}

}  // namespace

RecordedEvent InteractionLifecycle::party_added(Transaction& t, const Interaction& interaction, const std::string& agent,
                                                const std::string& place, int64_t now) {
  return reporting_.record(t, interaction, party_event<proto::EventPartyAddedT>(interaction, agent, place), now);
}

RecordedEvent InteractionLifecycle::party_removed(Transaction& t, const Interaction& interaction, const std::string& agent,
                                                  const std::string& place, int64_t now) {
  return reporting_.record(t, interaction, party_event<proto::EventPartyRemovedT>(interaction, agent, place), now);
}

RecordedEvent InteractionLifecycle::invitation_rejected(Transaction& t, const Interaction& interaction, const std::string& agent,
                                                        const proto::KvList* reason, int64_t now) {
  proto::EventInvitationRejectedT rejected;
  rejected.interaction_id = interaction.interaction_id;
  rejected.agent_id = agent;
  if (reason) rejected.reason.reset(reason->UnPack());
  return reporting_.record(t, interaction, std::move(rejected), now);
}

std::optional<std::string> InteractionLifecycle::cannot_take(const AgentState& agent, const Interaction& interaction) const {
  auto media = agent.media.find(interaction.media_type);
  if (media == agent.media.end() || !media->second.ready || agent.do_not_disturb) {
    return "agent " + agent.agent_id + " is not ready for " + interaction.media_type +
           (agent.do_not_disturb ? " (do-not-disturb)" : "");
  }
  int in_hand = 0;
  if (auto handled = handled_by_.find(agent.agent_id); handled != handled_by_.end()) {
    for (const std::string& id : handled->second) {
      const Interaction* other = interactions_.find(id);
      if (other && other->media_type == interaction.media_type) ++in_hand;
    }
  }
  if (in_hand >= media->second.capacity) {
    return "agent " + agent.agent_id + " has no capacity left for " + interaction.media_type + " (" + std::to_string(in_hand) +
           " of " + std::to_string(media->second.capacity) + ")";
  }
  return std::nullopt;
}

AgentState* InteractionLifecycle::speaking_agent(ClientSession& s, uint64_t client_id) {
  if (s.client_type() != proto::ClientType::AgentApplication) return nullptr;
  AgentState* found = nullptr;
  const AgentOwner me{&s, client_id};
  for (const std::string& id : agents_.owned_by(&s)) {
    AgentState* agent = agents_.find(id);
    if (std::find(agent->owners.begin(), agent->owners.end(), me) == agent->owners.end()) continue;
    if (found != nullptr) return nullptr;  // several agents on one logical client: no single party
    found = agent;
  }
  return found;
}

void InteractionLifecycle::touch_handling(ClientSession& s, uint64_t client_id) {
  const AgentOwner me{&s, client_id};
  for (const std::string& agent_id : agents_.owned_by(&s)) {
    AgentState* agent = agents_.find(agent_id);
    if (std::find(agent->owners.begin(), agent->owners.end(), me) == agent->owners.end()) continue;
    auto handled = handled_by_.find(agent_id);
    if (handled == handled_by_.end()) continue;
    for (const std::string& id : handled->second) {
      Interaction* interaction = interactions_.find(id);
      if (interaction && interaction->state == proto::InteractionState::Handling) start_timer(*interaction);
    }
  }
}

}  // namespace ix::node
