// InteractionService's delivery: a routing engine delivers an interaction to an agent (EventInvite), the
// agent accepts or rejects it, and two timers guard the agent's side — delivering-timeout for an
// unanswered invitation and handling-timeout (reset by any request from the handling agent's
// desktop) for a forgotten one. Either timeout returns the interaction to the queue it came from
// and tells the desktop with EventRevoked.
#include "node/server/interaction_service.h"
#include "protocol/log.h"
#include "protocol/wire/kv.h"

namespace ix::node {

namespace {

using wire::str;

std::unique_ptr<proto::KvListT> copy_reason(const proto::KvList* reason) {
  return reason ? std::unique_ptr<proto::KvListT>(reason->UnPack()) : nullptr;
}

}  // namespace

void InteractionService::notify_agent(const std::string& agent_id, const wire::Frame& frame) {
  AgentState* agent = agents_.find(agent_id);
  if (agent == nullptr) return;
  for (const AgentOwner& owner : agent->owners) {
    ClientSession* session = open_session(owner.session);
    if (session == nullptr) continue;
    // Re-address the frame to the logical client that speaks for this agent.
    auto envelope = wire::verify_envelope(std::span(frame).subspan(wire::kFrameHeaderSize));
    if (!envelope.ok()) continue;
    std::unique_ptr<proto::EnvelopeT> native((*envelope)->UnPack());
    native->client_id = owner.client_id;
    session->send(wire::encode_envelope(*native));
  }
}

RecordedEvent InteractionService::taken_from_queue(Transaction& t, const Interaction& interaction, int64_t now) {
  proto::EventTakenFromQueueT taken;
  taken.interaction_id = interaction.interaction_id;
  taken.queue = interaction.queue;
  return reporting_.record(t, interaction, std::move(taken), now);
}

RecordedEvent InteractionService::party_added(Transaction& t, const Interaction& interaction, const std::string& agent,
                                      const std::string& place, int64_t now) {
  proto::EventPartyAddedT added;
  added.interaction_id = interaction.interaction_id;
  added.agent_id = agent;
  added.place_id = place;
  return reporting_.record(t, interaction, std::move(added), now);
}

RecordedEvent InteractionService::party_removed(Transaction& t, const Interaction& interaction, const std::string& agent,
                                        const std::string& place, int64_t now) {
  proto::EventPartyRemovedT removed;
  removed.interaction_id = interaction.interaction_id;
  removed.agent_id = agent;
  removed.place_id = place;
  return reporting_.record(t, interaction, std::move(removed), now);
}

void InteractionService::remove_all_parties(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                                    int64_t now) {
  events.push_back(party_removed(t, interaction, interaction.agent_id, interaction.place_id, now));
  for (const std::string& member : interaction.conference) {
    const AgentState* agent = agents_.find(member);
    events.push_back(party_removed(t, interaction, member, agent ? agent->place_id : std::string(), now));
  }
  unassign(interaction);
}

void InteractionService::take_out_of_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events, int64_t now) {
  if (interaction.state != proto::InteractionState::Queued) return;
  events.push_back(taken_from_queue(t, interaction, now));
  interactions_.take_from_queue(interaction);
}

void InteractionService::hand_to_agent(Interaction& interaction, const AgentState& agent, Transaction& t,
                               std::vector<RecordedEvent>& events, int64_t now) {
  assign(interaction, agent);
  delivery_timers_.start(interaction.interaction_id, pair().settings.handling_timeout);
  events.push_back(party_added(t, interaction, interaction.agent_id, interaction.place_id, now));
}

void InteractionService::assign(Interaction& interaction, const AgentState& agent) {
  interaction.agent_id = agent.agent_id;
  interaction.place_id = agent.place_id;
  handled_by_[agent.agent_id].insert(interaction.interaction_id);
}

void InteractionService::unassign(Interaction& interaction) {
  delivery_timers_.cancel(interaction.interaction_id);
  std::vector<std::string> parties = interaction.conference;
  parties.push_back(interaction.agent_id);
  for (const std::string& agent : parties) {
    auto it = handled_by_.find(agent);
    if (it == handled_by_.end()) continue;
    it->second.erase(interaction.interaction_id);
    if (it->second.empty()) handled_by_.erase(it);
  }
  interaction.agent_id.clear();
  interaction.place_id.clear();
  interaction.conference.clear();
}

bool InteractionService::is_party(const Interaction& interaction, const std::string& agent_id) {
  return !agent_id.empty() && (interaction.agent_id == agent_id ||
                               std::find(interaction.conference.begin(), interaction.conference.end(), agent_id) !=
                                   interaction.conference.end());
}

AgentState* InteractionService::speaking_agent(ClientSession& s, uint64_t client_id) {
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

void InteractionService::touch_handling(ClientSession& s, uint64_t client_id) {
  const AgentOwner me{&s, client_id};
  for (const std::string& agent_id : agents_.owned_by(&s)) {
    AgentState* agent = agents_.find(agent_id);
    if (std::find(agent->owners.begin(), agent->owners.end(), me) == agent->owners.end()) continue;
    auto handled = handled_by_.find(agent_id);
    if (handled == handled_by_.end()) continue;
    for (const std::string& id : handled->second) {
      Interaction* interaction = interactions_.find(id);
      if (interaction && interaction->state == proto::InteractionState::Handling) {
        delivery_timers_.start(interaction->interaction_id, pair().settings.handling_timeout);
      }
    }
  }
}

void InteractionService::return_to_queue(Interaction& interaction, Transaction& t, std::vector<RecordedEvent>& events,
                                 std::unique_ptr<proto::KvListT> reason, bool invitation) {
  const int64_t now = now_us();
  const std::string agent_id = interaction.agent_id;
  if (invitation) {
    proto::EventInvitationRevokedT revoked;
    revoked.interaction_id = interaction.interaction_id;
    revoked.agent_id = agent_id;
    revoked.reason = reason ? std::make_unique<proto::KvListT>(*reason) : nullptr;
    events.push_back(reporting_.record(t, interaction, std::move(revoked), now));
  } else {
    events.push_back(party_removed(t, interaction, agent_id, interaction.place_id, now));
  }
  unassign(interaction);
  interactions_.place_in_queue(interaction, interaction.queue, now);
  proto::EventPlacedInQueueT placed;
  placed.interaction_id = interaction.interaction_id;
  placed.queue = interaction.queue;
  events.push_back(reporting_.record(t, interaction, std::move(placed), now));
  persist(t, interaction);
}

void InteractionService::on_delivery_timeout(const std::string& id) {
  Interaction* interaction = interactions_.find(id);
  if (interaction == nullptr || interaction->agent_id.empty() || failed_) return;
  const bool invitation = interaction->state == proto::InteractionState::Delivering;
  const std::string agent_id = interaction->agent_id;
  const char* why = invitation ? "delivering-timeout" : "handling-timeout";
  spdlog::info("event=revoked interaction={} agent={} reason={}", id, agent_id, why);
  metrics_.revocations(why).inc();
  proto::EventRevokedT revoked;
  revoked.interaction_id = id;
  revoked.agent_id = agent_id;
  revoked.reason = wire::kv_list({{"reason", why}});
  const wire::Frame frame = wire::encode_frame(0, 0, revoked);
  Transaction t;
  std::vector<RecordedEvent> events;
  return_to_queue(*interaction, t, events, wire::kv_list({{"reason", why}}), invitation);
  notify_agent(agent_id, frame);
  commit(nullptr, 0, 0, std::move(t), std::move(events), {});
  if (!held_pulls_.empty()) serve_held_pulls();
}

bool InteractionService::agent_can_take(ClientSession& s, const proto::Envelope& e, const AgentState& agent, const Interaction& interaction) {
  auto media = agent.media.find(interaction.media_type);
  if (media == agent.media.end() || !media->second.ready || agent.do_not_disturb) {
    refuse(s, e, proto::ErrorCode::WrongState,
           "agent " + agent.agent_id + " is not ready for " + interaction.media_type + (agent.do_not_disturb ? " (do-not-disturb)" : ""));
    return false;
  }
  int in_hand = 0;
  if (auto handled = handled_by_.find(agent.agent_id); handled != handled_by_.end()) {
    for (const std::string& id : handled->second) {
      const Interaction* other = interactions_.find(id);
      if (other && other->media_type == interaction.media_type) ++in_hand;
    }
  }
  if (in_hand >= media->second.capacity) {
    refuse(s, e, proto::ErrorCode::WrongState,
           "agent " + agent.agent_id + " has no capacity left for " + interaction.media_type + " (" + std::to_string(in_hand) +
               " of " + std::to_string(media->second.capacity) + ")");
    return false;
  }
  return true;
}

void InteractionService::handle_deliver(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestDeliver* r = e.body_as_RequestDeliver();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestDeliver");
  if (interaction == nullptr) return;
  const std::string agent_id = str(r->agent_id());
  if (agent_id.empty()) return refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestDeliver.agent_id is missing");
  AgentState* agent = agents_.find(agent_id);
  if (agent == nullptr || agent->tenant != interaction->tenant_id) {
    return refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + agent_id + " is not logged in on node pair " + pair_id_);
  }
  if (interaction->locked) {
    return refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is locked");
  }
  if (!interaction->agent_id.empty()) {
    return refuse(s, e, proto::ErrorCode::WrongState,
                  "interaction " + interaction->interaction_id + " is already with agent " + interaction->agent_id);
  }
  if (!agent_can_take(s, e, *agent, *interaction)) return;

  const int64_t now = now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  take_out_of_queue(*interaction, t, events, now);
  interaction->state = proto::InteractionState::Delivering;
  assign(*interaction, *agent);
  if (!str(r->place_id()).empty()) interaction->place_id = r->place_id()->str();
  proto::EventAgentInvitedT invited;
  invited.interaction_id = interaction->interaction_id;
  invited.agent_id = agent_id;
  invited.place_id = interaction->place_id;
  events.push_back(reporting_.record(t, *interaction, std::move(invited), now));
  persist(t, *interaction);
  delivery_timers_.start(interaction->interaction_id, pair().settings.delivering_timeout);

  proto::EventInviteT invite;
  invite.interaction = std::make_unique<Interaction>(*interaction);
  invite.agent_id = agent_id;
  invite.place_id = interaction->place_id;
  invite.ticket_id = ++next_ticket_;
  notify_agent(agent_id, wire::encode_frame(0, 0, invite));
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void InteractionService::handle_accept(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAccept* r = e.body_as_RequestAccept();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestAccept");
  if (interaction == nullptr) return;
  if (auto transfer = transfers_.find(interaction->interaction_id);
      transfer != transfers_.end() && transfer->second.to == str(r->agent_id())) {
    // The invitee takes the interaction over from the inviter.
    PendingTransfer done = transfer->second;
    transfers_.erase(transfer);
    transfer_timers_->cancel(done.ticket);
    AgentState* invitee = agents_.find(done.to);
    if (invitee == nullptr) return refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + done.to + " is no longer logged in");
    const int64_t now = now_us();
    Transaction t;
    std::vector<RecordedEvent> events;
    ClientSession* inviter_session = sessions_.contains(done.inviter) ? done.inviter : nullptr;
    if (done.conference) {
      interaction->conference.push_back(done.to);
      handled_by_[done.to].insert(interaction->interaction_id);
      events.push_back(party_added(t, *interaction, done.to, invitee->place_id, now));
      // Every party's desktop hears that someone joined (the same event the reporting stream carries).
      notify_agent(interaction->agent_id, *events.back().frame);
      for (const std::string& member : interaction->conference) notify_agent(member, *events.back().frame);
      persist(t, *interaction);
      commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
      if (inviter_session) {
        commit(inviter_session, done.ref_id, done.client_id, Transaction{}, {}, wire::encode_ack(done.ref_id, done.client_id));
      }
      return;
    }
    const std::string from = interaction->agent_id, from_place = interaction->place_id;
    unassign(*interaction);
    interaction->state = proto::InteractionState::Handling;
    hand_to_agent(*interaction, *invitee, t, events, now);
    events.push_back(party_removed(t, *interaction, from, from_place, now));
    persist(t, *interaction);
    // The inviter's RequestTransfer is answered too, once the change is committed.
    commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
    if (inviter_session) {
      commit(inviter_session, done.ref_id, done.client_id, Transaction{}, {}, wire::encode_ack(done.ref_id, done.client_id));
    }
    return;
  }
  if (interaction->state != proto::InteractionState::Delivering || interaction->agent_id != str(r->agent_id())) {
    return refuse(s, e, proto::ErrorCode::WrongState,
                  "interaction " + interaction->interaction_id + " is not being delivered to agent " + str(r->agent_id()));
  }
  interaction->state = proto::InteractionState::Handling;
  delivery_timers_.start(interaction->interaction_id, pair().settings.handling_timeout);
  Transaction t;
  std::vector<RecordedEvent> events{party_added(t, *interaction, interaction->agent_id, interaction->place_id, now_us())};
  persist(t, *interaction);
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void InteractionService::handle_reject(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestReject* r = e.body_as_RequestReject();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestReject");
  if (interaction == nullptr) return;
  if (auto transfer = transfers_.find(interaction->interaction_id);
      transfer != transfers_.end() && transfer->second.to == str(r->agent_id())) {
    fail_transfer(interaction->interaction_id, "agent " + transfer->second.to + " rejected the transfer of " +
                                                   interaction->interaction_id, false);
    Transaction t;
    proto::EventInvitationRejectedT rejected;
    rejected.interaction_id = interaction->interaction_id;
    rejected.agent_id = str(r->agent_id());
    if (r->reason()) rejected.reason.reset(r->reason()->UnPack());
    std::vector<RecordedEvent> events{reporting_.record(t, *interaction, std::move(rejected), now_us())};
    commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
    return;
  }
  if (interaction->state != proto::InteractionState::Delivering || interaction->agent_id != str(r->agent_id())) {
    return refuse(s, e, proto::ErrorCode::WrongState,
                  "interaction " + interaction->interaction_id + " is not being delivered to agent " + str(r->agent_id()));
  }
  Transaction t;
  proto::EventInvitationRejectedT rejected;
  rejected.interaction_id = interaction->interaction_id;
  rejected.agent_id = interaction->agent_id;
  if (r->reason()) rejected.reason.reset(r->reason()->UnPack());
  std::vector<RecordedEvent> events{reporting_.record(t, *interaction, std::move(rejected), now_us())};
  // Back to the queue it was taken from; the rejection itself was reported above.
  const int64_t now = now_us();
  unassign(*interaction);
  interactions_.place_in_queue(*interaction, interaction->queue, now);
  proto::EventPlacedInQueueT placed;
  placed.interaction_id = interaction->interaction_id;
  placed.queue = interaction->queue;
  events.push_back(reporting_.record(t, *interaction, std::move(placed), now));
  persist(t, *interaction);
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void InteractionService::handle_transfer(ClientSession& s, const proto::Envelope& e, bool conference) {
  // RequestTransfer and RequestConference carry the same attributes.
  const char* what = conference ? "RequestConference" : "RequestTransfer";
  const flatbuffers::String* interaction_id = conference ? e.body_as_RequestConference()->interaction_id()
                                                         : e.body_as_RequestTransfer()->interaction_id();
  const std::string from = str(conference ? e.body_as_RequestConference()->agent_id() : e.body_as_RequestTransfer()->agent_id());
  const std::string to = str(conference ? e.body_as_RequestConference()->target_agent_id()
                                        : e.body_as_RequestTransfer()->target_agent_id());
  const std::string place = str(conference ? e.body_as_RequestConference()->target_place_id()
                                           : e.body_as_RequestTransfer()->target_place_id());
  Interaction* interaction = find_interaction(s, e, interaction_id, what);
  if (interaction == nullptr) return;
  if (to.empty()) return refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".target_agent_id is missing");
  if (interaction->state != proto::InteractionState::Handling || !is_party(*interaction, from) ||
      (!conference && interaction->agent_id != from)) {
    return refuse(s, e, proto::ErrorCode::WrongState,
                  "interaction " + interaction->interaction_id + " is not being handled by agent " + from);
  }
  if (transfers_.contains(interaction->interaction_id)) {
    return refuse(s, e, proto::ErrorCode::WrongState, "interaction " + interaction->interaction_id + " is already being transferred");
  }
  if (is_party(*interaction, to)) {
    return refuse(s, e, proto::ErrorCode::InvalidAttribute, std::string(what) + ".target_agent_id " + to + " is already a party");
  }
  AgentState* target = agents_.find(to);
  if (target == nullptr || target->tenant != interaction->tenant_id) {
    return refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + to + " is not logged in on node pair " + pair_id_);
  }
  if (!agent_can_take(s, e, *target, *interaction)) return;

  PendingTransfer transfer{interaction->interaction_id, from, to, ++next_ticket_, &s, e.ref_id(), e.client_id(),
                           conference};
  transfer_timers_->start(transfer.ticket, static_cast<uint64_t>(pair().settings.delivering_timeout.count()));
  transfers_.emplace(interaction->interaction_id, transfer);
  Transaction t;
  proto::EventAgentInvitedT invited;
  invited.interaction_id = interaction->interaction_id;
  invited.agent_id = to;
  invited.place_id = place.empty() ? target->place_id : place;
  std::vector<RecordedEvent> events{reporting_.record(t, *interaction, std::move(invited), now_us())};
  proto::EventInviteT invite;
  invite.interaction = std::make_unique<Interaction>(*interaction);
  invite.agent_id = to;
  invite.place_id = invited.place_id;
  invite.ticket_id = transfer.ticket;
  notify_agent(to, wire::encode_frame(0, 0, invite));
  // No reply yet: the inviter hears the outcome when the invitee answers or the invitation times out.
  commit(nullptr, 0, 0, std::move(t), std::move(events), {});
}

void InteractionService::fail_transfer(const std::string& interaction_id, const std::string& error, bool revoke_invitee) {
  auto it = transfers_.find(interaction_id);
  if (it == transfers_.end()) return;
  PendingTransfer transfer = it->second;
  transfers_.erase(it);
  transfer_timers_->cancel(transfer.ticket);
  if (sessions_.contains(transfer.inviter)) {
    transfer.inviter->send_error(transfer.ref_id, transfer.client_id, proto::ErrorCode::WrongState, error);
  }
  if (revoke_invitee) {
    proto::EventRevokedT revoked;
    revoked.interaction_id = interaction_id;
    revoked.agent_id = transfer.to;
    revoked.ticket_id = transfer.ticket;
    revoked.reason = wire::kv_list({{"reason", error}});
    notify_agent(transfer.to, wire::encode_frame(0, 0, revoked));
  }
}

void InteractionService::handle_leave(ClientSession& s, const proto::Envelope& e) {
  const proto::RequestLeaveInteraction* r = e.body_as_RequestLeaveInteraction();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestLeaveInteraction");
  if (interaction == nullptr) return;
  const std::string agent = str(r->agent_id());
  if (interaction->state != proto::InteractionState::Handling || !is_party(*interaction, agent)) {
    return refuse(s, e, proto::ErrorCode::WrongState, "agent " + agent + " is not a party of interaction " + interaction->interaction_id);
  }
  const int64_t now = now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->conference.empty()) {
    // The last party leaves: the interaction returns to the queue it came from.
    return_to_queue(*interaction, t, events, copy_reason(r->reason()), false);
  } else {
    const std::string place = agent == interaction->agent_id ? interaction->place_id : std::string();
    if (agent == interaction->agent_id) {
      // Another party carries the interaction on.
      interaction->agent_id = interaction->conference.front();
      interaction->conference.erase(interaction->conference.begin());
      if (const AgentState* next = agents_.find(interaction->agent_id)) interaction->place_id = next->place_id;
    } else {
      std::erase(interaction->conference, agent);
    }
    auto handled = handled_by_.find(agent);
    if (handled != handled_by_.end()) {
      handled->second.erase(interaction->interaction_id);
      if (handled->second.empty()) handled_by_.erase(handled);
    }
    events.push_back(party_removed(t, *interaction, agent, place, now));
    persist(t, *interaction);
  }
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
  if (!held_pulls_.empty()) serve_held_pulls();
}

}  // namespace ix::node
