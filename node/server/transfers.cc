#include "node/server/transfers.h"

#include "node/server/service_context.h"
#include "protocol/wire/kv.h"

namespace ix::node {

using wire::str;

Transfers::Transfers(ServiceContext& ctx)
    : ctx_(ctx), deadlines_(ctx.clock.make_deadlines([this](uint64_t ticket) { on_timeout(ticket); })) {}

void Transfers::on_timeout(uint64_t ticket) {
  for (const auto& [interaction_id, transfer] : pending_) {
    if (transfer.ticket != ticket) continue;
    const std::string id = interaction_id, to = transfer.to;
    fail(id, "agent " + to + " did not answer the transfer of " + id + " within delivering-timeout", true);
    return;
  }
}

void Transfers::invite(ClientSession& s, const proto::Envelope& e, bool conference) {
  // RequestTransfer and RequestConference carry the same attributes.
  const char* what = conference ? "RequestConference" : "RequestTransfer";
  const flatbuffers::String* interaction_id = conference ? e.body_as_RequestConference()->interaction_id()
                                                         : e.body_as_RequestTransfer()->interaction_id();
  const std::string from = str(conference ? e.body_as_RequestConference()->agent_id() : e.body_as_RequestTransfer()->agent_id());
  const std::string to = str(conference ? e.body_as_RequestConference()->target_agent_id()
                                        : e.body_as_RequestTransfer()->target_agent_id());
  const std::string place = str(conference ? e.body_as_RequestConference()->target_place_id()
                                           : e.body_as_RequestTransfer()->target_place_id());
  Interaction* interaction = ctx_.find_interaction(s, e, interaction_id, what);
  if (interaction == nullptr) return;
  if (to.empty()) return ctx_.refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".target_agent_id is missing");
  if (interaction->state != proto::InteractionState::Handling || !InteractionLifecycle::is_party(*interaction, from) ||
      (!conference && interaction->agent_id != from)) {
    return ctx_.refuse(s, e, proto::ErrorCode::WrongState,
                       "interaction " + interaction->interaction_id + " is not being handled by agent " + from);
  }
  if (pending(interaction->interaction_id)) {
    return ctx_.refuse(s, e, proto::ErrorCode::WrongState,
                       "interaction " + interaction->interaction_id + " is already being transferred");
  }
  if (InteractionLifecycle::is_party(*interaction, to)) {
    return ctx_.refuse(s, e, proto::ErrorCode::InvalidAttribute, std::string(what) + ".target_agent_id " + to + " is already a party");
  }
  AgentState* target = ctx_.agents.find(to);
  if (target == nullptr || target->tenant != interaction->tenant_id) {
    return ctx_.refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + to + " is not logged in on node pair " + ctx_.pair_id);
  }
  if (auto why = ctx_.lifecycle.cannot_take(*target, *interaction)) return ctx_.refuse(s, e, proto::ErrorCode::WrongState, *why);

  Pending transfer{interaction->interaction_id, from, to, ++ctx_.last_ticket, &s, e.ref_id(), e.client_id(), conference};
  deadlines_->start(transfer.ticket, static_cast<uint64_t>(ctx_.pair().settings.delivering_timeout.count()));
  pending_.emplace(interaction->interaction_id, transfer);
  Transaction t;
  proto::EventAgentInvitedT invited;
  invited.interaction_id = interaction->interaction_id;
  invited.agent_id = to;
  invited.place_id = place.empty() ? target->place_id : place;
  std::vector<RecordedEvent> events{ctx_.reporting.record(t, *interaction, std::move(invited), ctx_.now_us())};
  proto::EventInviteT invite;
  invite.interaction = std::make_unique<Interaction>(*interaction);
  invite.agent_id = to;
  invite.place_id = invited.place_id;
  invite.ticket_id = transfer.ticket;
  ctx_.notify_agent(to, wire::encode_frame(0, 0, invite));
  // No reply yet: the inviter hears the outcome when the invitee answers or the invitation times out.
  ctx_.commit(nullptr, 0, 0, std::move(t), std::move(events), {});
}

bool Transfers::answer_accept(ClientSession& s, const proto::Envelope& e, Interaction& interaction) {
  auto transfer = pending_.find(interaction.interaction_id);
  if (transfer == pending_.end() || transfer->second.to != str(e.body_as_RequestAccept()->agent_id())) return false;
  const Pending done = transfer->second;
  pending_.erase(transfer);
  deadlines_->cancel(done.ticket);
  complete(s, e, interaction, done);
  return true;
}

void Transfers::complete(ClientSession& s, const proto::Envelope& e, Interaction& interaction, const Pending& done) {
  AgentState* invitee = ctx_.agents.find(done.to);
  if (invitee == nullptr) return ctx_.refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + done.to + " is no longer logged in");
  const int64_t now = ctx_.now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  if (done.conference) {
    ctx_.lifecycle.join(interaction, done.to);
    events.push_back(ctx_.lifecycle.party_added(t, interaction, done.to, invitee->place_id, now));
    // Every party's desktop hears that someone joined (the same event the reporting stream carries).
    ctx_.notify_agent(interaction.agent_id, *events.back().frame);
    for (const std::string& member : interaction.conference) ctx_.notify_agent(member, *events.back().frame);
  } else {
    const std::string from = interaction.agent_id, from_place = interaction.place_id;
    ctx_.lifecycle.unassign(interaction);
    interaction.state = proto::InteractionState::Handling;
    ctx_.lifecycle.hand_to_agent(interaction, *invitee, t, events, now);
    events.push_back(ctx_.lifecycle.party_removed(t, interaction, from, from_place, now));
  }
  ctx_.persist(t, interaction);
  ctx_.commit_ack(s, e, std::move(t), std::move(events));
  // The inviter's request is answered too, once the change is committed (after it, in order).
  if (ClientSession* inviter = ctx_.open_session(done.inviter)) {
    ctx_.commit(inviter, done.ref_id, done.client_id, Transaction{}, {}, wire::encode_ack(done.ref_id, done.client_id));
  }
}

bool Transfers::answer_reject(ClientSession& s, const proto::Envelope& e, Interaction& interaction) {
  const proto::RequestReject* r = e.body_as_RequestReject();
  auto transfer = pending_.find(interaction.interaction_id);
  if (transfer == pending_.end() || transfer->second.to != str(r->agent_id())) return false;
  fail(interaction.interaction_id, "agent " + transfer->second.to + " rejected the transfer of " + interaction.interaction_id,
       false);
  Transaction t;
  std::vector<RecordedEvent> events{
      ctx_.lifecycle.invitation_rejected(t, interaction, str(r->agent_id()), r->reason(), ctx_.now_us())};
  ctx_.commit_ack(s, e, std::move(t), std::move(events));
  return true;
}

void Transfers::fail(const std::string& interaction_id, const std::string& error, bool revoke_invitee) {
  auto it = pending_.find(interaction_id);
  if (it == pending_.end()) return;
  const Pending transfer = it->second;
  pending_.erase(it);
  deadlines_->cancel(transfer.ticket);
  if (ClientSession* inviter = ctx_.open_session(transfer.inviter)) {
    inviter->send_error(transfer.ref_id, transfer.client_id, proto::ErrorCode::WrongState, error);
  }
  if (revoke_invitee) {
    proto::EventRevokedT revoked;
    revoked.interaction_id = interaction_id;
    revoked.agent_id = transfer.to;
    revoked.ticket_id = transfer.ticket;
    revoked.reason = wire::kv_list({{"reason", error}});
    ctx_.notify_agent(transfer.to, wire::encode_frame(0, 0, revoked));
  }
}

}  // namespace ix::node
