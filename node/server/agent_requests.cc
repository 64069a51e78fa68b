// Agent requests: login, logout, ready / not ready, do-not-disturb, media, status,
// and logging out the agents of a desktop that disconnected. Every change is reported on the
// reporting stream and acknowledged only after its events are committed to the event log.
#include <algorithm>

#include "node/server/requests.h"
#include "protocol/wire/kv.h"

namespace ix::node {

namespace {

using wire::str;

std::unique_ptr<proto::KvListT> copy(const proto::KvList* list) {
  return list ? std::unique_ptr<proto::KvListT>(list->UnPack()) : nullptr;
}

bool check_media(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, const std::string& media, const char* what) {
  if (media.empty()) {
    ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".media_type is missing");
    return false;
  }
  if (ctx.config->media_type(media) == nullptr || !ctx.pair().serves_media(media)) {
    ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
           std::string(what) + ".media_type \"" + media + "\" is not a media type of node pair " + ctx.pair_id);
    return false;
  }
  return true;
}

AgentState* owned_agent(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, const flatbuffers::String* tenant,
                                    const flatbuffers::String* agent, const char* what) {
  if (str(agent).empty()) {
    ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".agent_id is missing");
    return nullptr;
  }
  AgentState* state = ctx.agents.find(agent->str());
  if (state == nullptr || (!str(tenant).empty() && state->tenant != tenant->str())) {
    ctx.refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + agent->str() + " is not logged in on node pair " + ctx.pair_id);
    return nullptr;
  }
  const AgentOwner me{&s, e.client_id()};
  if (s.client_type() != proto::ClientType::Proxy &&
      std::find(state->owners.begin(), state->owners.end(), me) == state->owners.end()) {
    ctx.refuse(s, e, proto::ErrorCode::WrongState, "agent " + agent->str() + " is logged in through another connection");
    return nullptr;
  }
  return state;
}

// Whether the agent is logged in at `place` with exactly these media and capacities.
bool same_login(const AgentState& agent, const std::string& place, const flatbuffers::Vector<flatbuffers::Offset<proto::MediaCapacity>>& media) {
  if (agent.place_id != place || agent.media.size() != media.size()) return false;
  for (const proto::MediaCapacity* m : media) {
    auto it = agent.media.find(m->media_type()->str());
    if (it == agent.media.end() || it->second.capacity != m->capacity()) return false;
  }
  return true;
}

RecordedEvent agent_logout_event(ServiceContext& ctx, Transaction& t, const AgentState& agent, std::unique_ptr<proto::KvListT> reason) {
  proto::EventAgentLogoutT logout;
  logout.agent_id = agent.agent_id;
  logout.place_id = agent.place_id;
  logout.reason = std::move(reason);
  return ctx.reporting.record(t, agent, std::move(logout), ctx.now_us());
}

}  // namespace

void handle_agent_login(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAgentLogin* r = e.body_as_RequestAgentLogin();
  const std::string tenant = str(r->tenant_id()), agent = str(r->agent_id()), place = str(r->place_id());
  if (!ctx.check_tenant_request(s, e, "RequestAgentLogin", {{"tenant_id", &tenant}, {"agent_id", &agent}, {"place_id", &place}})) return;
  if (!ctx.config->agents.empty()) {
    auto known = std::find_if(ctx.config->agents.begin(), ctx.config->agents.end(),
                              [&](const config::Agent& a) { return a.id == agent && a.tenant == tenant; });
    if (known == ctx.config->agents.end()) {
      return ctx.refuse(s, e, proto::ErrorCode::UnknownAgent, "agent " + agent + " is not configured for tenant " + tenant);
    }
  }
  if (!r->media() || r->media()->size() == 0) {
    return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestAgentLogin.media lists no media");
  }
  for (const proto::MediaCapacity* m : *r->media()) {
    if (!check_media(ctx, s, e, m->media_type()->str(), "RequestAgentLogin.media")) return;
    if (m->capacity() < 0) {
      return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute, "RequestAgentLogin.media capacity for " +
                                                                  m->media_type()->str() + " is negative");
    }
  }

  const AgentOwner me{&s, e.client_id()};
  Transaction t;
  std::vector<RecordedEvent> events;
  if (AgentState* existing = ctx.agents.find(agent)) {
    const bool same_owner = std::find(existing->owners.begin(), existing->owners.end(), me) != existing->owners.end();
    // Held only for a proxy whose link dropped (proxy_session_holds.h), while the desktop has
    // moved on to another connection (another proxy, or the restarted one): the hold gives the
    // agent up to it. It was never logged out, so this is no new login either.
    const bool only_held = !same_owner && std::none_of(existing->owners.begin(), existing->owners.end(), [&](const AgentOwner& o) {
      return ctx.open_session(o.session) != nullptr;
    });
    if (only_held) existing->owners.clear();
    if ((same_owner || only_held) && same_login(*existing, place, *r->media())) {
      // Logged in so already: by this very client (a proxy logging its agents in again on the
      // session the node held for it while it reconnected), or by the held session it replaces.
      // Nothing changes, so nothing is reported — a second EventAgentLogin would count a login
      // that never happened.
      ctx.agents.login(tenant, agent, place, me);
      s.send(wire::encode_ack(e.ref_id(), e.client_id()));
      return;
    }
    if (!same_owner && !only_held) {
      switch (ctx.pair().settings.allow_multiple_agent_connections) {
        case config::MultipleAgentConnections::kDeny:
          return ctx.refuse(s, e, proto::ErrorCode::AgentAlreadyLoggedIn,
                        "agent " + agent + " is already logged in through another connection (allow-multiple-agent-connections = false)");
        case config::MultipleAgentConnections::kForceLogout: {
          proto::EventAgentStateChangedT forced;
          forced.tenant_id = existing->tenant;
          forced.agent_id = agent;
          forced.logged_in = false;
          forced.reason = wire::kv_list({{"reason", "logged in from another connection"}});
          wire::Frame frame = wire::encode_frame(0, 0, forced);
          for (const AgentOwner& owner : existing->owners) {
            if (ClientSession* session = ctx.open_session(owner.session)) session->send(std::span<const uint8_t>(frame));
          }
          events.push_back(agent_logout_event(ctx, t, *existing, wire::kv_list({{"reason", "forced logout"}})));
          ctx.agents.logout(agent);
          break;
        }
        case config::MultipleAgentConnections::kAllow:
          break;
      }
    }
  } else if (ctx.agents.logged_in() >= ctx.pair().agent_seats) {
    return ctx.refuse(s, e, proto::ErrorCode::NoSeatsAvailable,
                  "node pair " + ctx.pair_id + " has no free agent seat (" + std::to_string(ctx.pair().agent_seats) +
                      " licensed, all in use); agent " + agent + " cannot log in");
  }
  AgentState& state = ctx.agents.login(tenant, agent, place, me);
  proto::EventAgentLoginT login;
  login.agent_id = agent;
  login.place_id = place;
  for (const proto::MediaCapacity* m : *r->media()) {
    MediaStatus& media = state.media[m->media_type()->str()];
    media.capacity = m->capacity();
    login.media.emplace_back(m->UnPack());
  }
  events.push_back(ctx.reporting.record(t, state, std::move(login), ctx.now_us()));
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_agent_logout(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAgentLogout* r = e.body_as_RequestAgentLogout();
  AgentState* agent = owned_agent(ctx, s, e, r->tenant_id(), r->agent_id(), "RequestAgentLogout");
  if (agent == nullptr) return;
  // A proxy may log out only an agent that this very connection logged in (or re-attached): a
  // logout it re-sends after a reconnection must not end a login that another proxy or worker
  // made meanwhile.
  if (s.client_type() == proto::ClientType::Proxy &&
      std::none_of(agent->owners.begin(), agent->owners.end(), [&](const AgentOwner& o) { return o.session == &s; })) {
    return ctx.refuse(s, e, proto::ErrorCode::WrongState,
                      "agent " + agent->agent_id + " is logged in through another proxy connection on node pair " + ctx.pair_id);
  }
  Transaction t;
  std::vector<RecordedEvent> events{agent_logout_event(ctx, t, *agent, copy(r->reason()))};
  ctx.agents.logout(agent->agent_id);
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_agent_readiness(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e, bool ready) {
  const flatbuffers::String* tenant = ready ? e.body_as_RequestAgentReady()->tenant_id() : e.body_as_RequestAgentNotReady()->tenant_id();
  const flatbuffers::String* agent_id = ready ? e.body_as_RequestAgentReady()->agent_id() : e.body_as_RequestAgentNotReady()->agent_id();
  const std::string media = str(ready ? e.body_as_RequestAgentReady()->media_type() : e.body_as_RequestAgentNotReady()->media_type());
  const proto::KvList* reason = ready ? e.body_as_RequestAgentReady()->reason() : e.body_as_RequestAgentNotReady()->reason();
  const char* what = ready ? "RequestAgentReady" : "RequestAgentNotReady";
  AgentState* agent = owned_agent(ctx, s, e, tenant, agent_id, what);
  if (agent == nullptr) return;
  if (!media.empty() && !agent->media.contains(media)) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  std::string(what) + ".media_type \"" + media + "\" is not one of agent " + agent->agent_id + "'s media");
  }
  Transaction t;
  std::vector<RecordedEvent> events;
  for (auto& [name, status] : agent->media) {
    if (!media.empty() && name != media) continue;
    const bool reason_changed = !ready && reason != nullptr;
    if (status.ready == ready && !reason_changed) continue;
    if (status.ready == ready) {
      proto::EventAgentReasonChangedT changed;
      changed.agent_id = agent->agent_id;
      changed.media_type = name;
      changed.reason = copy(reason);
      events.push_back(ctx.reporting.record(t, *agent, std::move(changed), ctx.now_us()));
    } else if (ready) {
      proto::EventAgentReadyT event;
      event.agent_id = agent->agent_id;
      event.media_type = name;
      events.push_back(ctx.reporting.record(t, *agent, std::move(event), ctx.now_us()));
    } else {
      proto::EventAgentNotReadyT event;
      event.agent_id = agent->agent_id;
      event.media_type = name;
      event.reason = copy(reason);
      events.push_back(ctx.reporting.record(t, *agent, std::move(event), ctx.now_us()));
    }
    status.ready = ready;
    status.reason = ready ? nullptr : copy(reason);
  }
  if (events.empty()) {
    s.send(wire::encode_ack(e.ref_id(), e.client_id()));  // already in that state
    return;
  }
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_agent_dnd(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAgentDoNotDisturb* r = e.body_as_RequestAgentDoNotDisturb();
  AgentState* agent = owned_agent(ctx, s, e, r->tenant_id(), r->agent_id(), "RequestAgentDoNotDisturb");
  if (agent == nullptr) return;
  if (agent->do_not_disturb == r->on()) {
    s.send(wire::encode_ack(e.ref_id(), e.client_id()));
    return;
  }
  agent->do_not_disturb = r->on();
  Transaction t;
  std::vector<RecordedEvent> events;
  if (r->on()) {
    proto::EventDoNotDisturbOnT on;
    on.agent_id = agent->agent_id;
    events.push_back(ctx.reporting.record(t, *agent, std::move(on), ctx.now_us()));
  } else {
    proto::EventDoNotDisturbOffT off;
    off.agent_id = agent->agent_id;
    events.push_back(ctx.reporting.record(t, *agent, std::move(off), ctx.now_us()));
  }
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_agent_add_media(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAgentAddMedia* r = e.body_as_RequestAgentAddMedia();
  AgentState* agent = owned_agent(ctx, s, e, r->tenant_id(), r->agent_id(), "RequestAgentAddMedia");
  if (agent == nullptr) return;
  if (r->media() == nullptr) return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestAgentAddMedia.media is missing");
  const std::string media = r->media()->media_type()->str();
  if (!check_media(ctx, s, e, media, "RequestAgentAddMedia.media")) return;
  if (agent->media.contains(media)) {
    return ctx.refuse(s, e, proto::ErrorCode::WrongState, "agent " + agent->agent_id + " already has media " + media);
  }
  agent->media[media].capacity = r->media()->capacity();
  Transaction t;
  proto::EventMediaAddedT added;
  added.agent_id = agent->agent_id;
  added.media.reset(r->media()->UnPack());
  std::vector<RecordedEvent> events{ctx.reporting.record(t, *agent, std::move(added), ctx.now_us())};
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_agent_remove_media(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAgentRemoveMedia* r = e.body_as_RequestAgentRemoveMedia();
  AgentState* agent = owned_agent(ctx, s, e, r->tenant_id(), r->agent_id(), "RequestAgentRemoveMedia");
  if (agent == nullptr) return;
  const std::string media = str(r->media_type());
  if (!agent->media.contains(media)) {
    return ctx.refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestAgentRemoveMedia.media_type \"" + media + "\" is not one of agent " + agent->agent_id + "'s media");
  }
  agent->media.erase(media);
  Transaction t;
  proto::EventMediaRemovedT removed;
  removed.agent_id = agent->agent_id;
  removed.media_type = media;
  std::vector<RecordedEvent> events{ctx.reporting.record(t, *agent, std::move(removed), ctx.now_us())};
  ctx.commit_ack(s, e, std::move(t), std::move(events));
}

void handle_agent_status(ServiceContext& ctx, ClientSession& s, const proto::Envelope& e) {
  const proto::RequestAgentStatus* r = e.body_as_RequestAgentStatus();
  proto::EventAgentStatusT status;
  status.tenant_id = str(r->tenant_id());
  status.agent_id = str(r->agent_id());
  if (status.agent_id.empty()) return ctx.refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestAgentStatus.agent_id is missing");
  if (AgentState* agent = ctx.agents.find(status.agent_id)) {
    status.logged_in = true;
    status.place_id = agent->place_id;
    status.do_not_disturb = agent->do_not_disturb;
    for (const auto& [name, m] : agent->media) {
      auto media = std::make_unique<proto::MediaStateT>();
      media->media_type = name;
      media->capacity = m.capacity;
      media->ready = m.ready;
      if (m.reason) media->reason = std::make_unique<proto::KvListT>(*m.reason);
      status.media.push_back(std::move(media));
    }
  }
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), status));
}

void logout_agents_of(ServiceContext& ctx, ClientSession& closed, const std::string& reason) {
  const ClientSession* session = &closed;
  Transaction t;
  std::vector<RecordedEvent> events;
  for (const std::string& id : ctx.agents.owned_by(session)) {
    AgentState* agent = ctx.agents.find(id);
    std::erase_if(agent->owners, [&](const AgentOwner& o) { return o.session == session; });
    if (!agent->owners.empty()) continue;  // another desktop still speaks for it
    events.push_back(agent_logout_event(ctx, t, *agent, wire::kv_list({{"reason", reason}})));
    ctx.agents.logout(id);
  }
  if (!events.empty()) ctx.commit(nullptr, 0, 0, std::move(t), std::move(events), {});
}

}  // namespace ix::node
