// Delivery: a routing engine delivers an interaction to an agent (EventInvite), the agent
// accepts or rejects it, and two deadlines (InteractionLifecycle) guard the agent's side —
// delivering-timeout for an unanswered invitation and handling-timeout (reset by any request
// from the handling agent's desktop) for a forgotten one. Either timeout returns the interaction
// to the queue it came from and tells the desktop with EventRevoked. An accept or reject that
// answers a transfer or conference invitation is Transfers' (transfers.cc).
#include <algorithm>
#include <type_traits>

#include "node/server/requests.h"
#include "protocol/log.h"
#include "protocol/wire/kv.h"

namespace ix::node {

namespace {

using wire::str;

// The interaction a RequestAccept or RequestReject answers the delivery of. Null when the
// request was refused, or when it answers a transfer or conference invitation instead (which
// Transfers then handled).
template <class Answer>
Interaction* answered_delivery(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, const Answer* r, const char* what) {
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), what);
  if (interaction == nullptr) return nullptr;
  constexpr bool kAccept = std::is_same_v<Answer, proto::RequestAccept>;
  if (kAccept ? ctx.transfers.answer_accept(s, e, *interaction) : ctx.transfers.answer_reject(s, e, *interaction)) return nullptr;
  if (interaction->state != proto::InteractionState::Delivering || interaction->agent_id != str(r->agent_id())) {
    ctx.refuse(s, e, proto::ErrorCode::WrongState,
               "interaction " + interaction->interaction_id + " is not being delivered to agent " + str(r->agent_id()));
    return nullptr;
  }
  return interaction;
}

}  // namespace

void on_delivery_timeout(ServiceContext& ctx, const std::string& id) {
  Interaction* interaction = ctx.interactions.find(id);
  if (interaction == nullptr || interaction->agent_id.empty() || ctx.failed) return;
  const bool invitation = interaction->state == proto::InteractionState::Delivering;
  const std::string agent_id = interaction->agent_id;
  const char* why = invitation ? "delivering-timeout" : "handling-timeout";
  spdlog::info("event=revoked interaction={} agent={} reason={}", id, agent_id, why);
  ctx.metrics.revocations(why).inc();
  proto::EventRevokedT revoked;
  revoked.interaction_id = id;
  revoked.agent_id = agent_id;
  revoked.reason = wire::kv_list({{"reason", why}});
  const wire::Frame frame = wire::encode_frame(0, 0, revoked);
  Transaction t;
  std::vector<RecordedEvent> events;
  ctx.lifecycle.return_to_queue(*interaction, t, events, wire::kv_list({{"reason", why}}), invitation, ctx.now_us());
  ctx.persist(t, *interaction);
  ctx.notify_agent(agent_id, frame);
  ctx.commit(nullptr, 0, 0, std::move(t), std::move(events), {});
  if (!ctx.held_pulls.empty()) serve_held_pulls(ctx);
}

void handle_deliver(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestDeliver* r = e.body_as_RequestDeliver();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestDeliver");
  if (interaction == nullptr) return;
  const std::string agent_id = str(r->agent_id());
  if (agent_id.empty()) return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestDeliver.agent_id is missing");
  AgentState* agent = ctx.agents.find(agent_id);
  if (agent == nullptr || agent->tenant != interaction->tenant_id) {
    return ctx.refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + agent_id + " is not logged in on node pair " + ctx.pair_id);
  }
  if (interaction->locked) {
    return ctx.refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is locked");
  }
  if (!interaction->agent_id.empty()) {
    return ctx.refuse(s, e, proto::ErrorCode::WrongState,
                      "interaction " + interaction->interaction_id + " is already with agent " + interaction->agent_id);
  }
  if (auto why = ctx.lifecycle.cannot_take(*agent, *interaction)) return ctx.refuse(s, e, proto::ErrorCode::WrongState, *why);
  // Held for its proxy's reconnection (proxy_session_holds.h): logged in, but no connection
  // would carry the invitation now. Refused, so that the router picks another agent at once
  // instead of waiting out the delivering-timeout.
  if (std::none_of(agent->owners.begin(), agent->owners.end(), [&](const AgentOwner& o) { return ctx.open_session(o.session); })) {
    return ctx.refuse(s, e, proto::ErrorCode::WrongState,
                      "agent " + agent_id + " cannot be reached now: the proxy connection that logged it in is reconnecting");
  }

  const int64_t now = ctx.now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  ctx.lifecycle.take_out_of_queue(*interaction, t, events, now);
  interaction->state = proto::InteractionState::Delivering;
  ctx.lifecycle.assign(*interaction, *agent);
  if (!str(r->place_id()).empty()) interaction->place_id = r->place_id()->str();
  proto::EventAgentInvitedT invited;
  invited.interaction_id = interaction->interaction_id;
  invited.agent_id = agent_id;
  invited.place_id = interaction->place_id;
  events.push_back(ctx.reporting.record(t, *interaction, std::move(invited), now));
  ctx.persist(t, *interaction);
  ctx.lifecycle.start_timer(*interaction);

  proto::EventInviteT invite;
  invite.interaction = std::make_unique<Interaction>(*interaction);
  invite.agent_id = agent_id;
  invite.place_id = interaction->place_id;
  invite.ticket_id = ++ctx.last_ticket;
  ctx.notify_agent(agent_id, wire::encode_frame(0, 0, invite));
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_accept(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  Interaction* interaction = answered_delivery(ctx, s, e, e.body_as_RequestAccept(), "RequestAccept");
  if (interaction == nullptr) return;
  interaction->state = proto::InteractionState::Handling;
  ctx.lifecycle.start_timer(*interaction);
  Transaction t;
  std::vector<RecordedEvent> events{
      ctx.lifecycle.party_added(t, *interaction, interaction->agent_id, interaction->place_id, ctx.now_us())};
  ctx.persist(t, *interaction);
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_reject(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestReject* r = e.body_as_RequestReject();
  Interaction* interaction = answered_delivery(ctx, s, e, r, "RequestReject");
  if (interaction == nullptr) return;
  Transaction t;
  std::vector<RecordedEvent> events{ctx.lifecycle.invitation_rejected(t, *interaction, interaction->agent_id, r->reason(), ctx.now_us())};
  // Back to the queue it was taken from; the rejection itself was reported above.
  const int64_t now = ctx.now_us();
  ctx.lifecycle.unassign(*interaction);
  ctx.lifecycle.place_in_queue(*interaction, interaction->queue, "", t, events, now);
  ctx.persist(t, *interaction);
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_leave(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestLeaveInteraction* r = e.body_as_RequestLeaveInteraction();
  Interaction* interaction = ctx.find_interaction(s, e, r->interaction_id(), "RequestLeaveInteraction");
  if (interaction == nullptr) return;
  const std::string agent = str(r->agent_id());
  if (interaction->state != proto::InteractionState::Handling || !InteractionLifecycle::is_party(*interaction, agent)) {
    return ctx.refuse(s, e, proto::ErrorCode::WrongState,
                      "agent " + agent + " is not a party of interaction " + interaction->interaction_id);
  }
  const int64_t now = ctx.now_us();
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->conference.empty()) {
    // The last party leaves: the interaction returns to the queue it came from.
    std::unique_ptr<proto::KvListT> reason(r->reason() ? r->reason()->UnPack() : nullptr);
    ctx.lifecycle.return_to_queue(*interaction, t, events, std::move(reason), false, now);
  } else {
    ctx.lifecycle.leave_conference(*interaction, agent, t, events, now);
  }
  ctx.persist(t, *interaction);
  ctx.commit_ack(s, e, std::move(t), std::move(events));
  if (!ctx.held_pulls.empty()) serve_held_pulls(ctx);
}

}  // namespace ix::node
