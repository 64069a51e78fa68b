#include "node/server/interaction_service.h"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <tuple>
#include <unordered_set>

#include "node/server/lease_requests.h"
#include "node/server/requests.h"
#include "protocol/log.h"

namespace ix::node {

namespace {

InteractionService::AgentStates agent_states_of(const InteractionRegistry& interactions, const AgentRegistry& agents) {
  std::unordered_set<std::string_view> in_hand;
  interactions.for_each([&](const Interaction& i) {
    if (i.state != proto::InteractionState::Delivering && i.state != proto::InteractionState::Handling) return;
    if (!i.agent_id.empty()) in_hand.insert(i.agent_id);
    for (const std::string& member : i.conference) in_hand.insert(member);
  });
  InteractionService::AgentStates out;
  agents.for_each([&](const AgentState& agent) {
    const bool any_ready = std::any_of(agent.media.begin(), agent.media.end(), [](const auto& m) { return m.second.ready; });
    if (in_hand.contains(agent.agent_id)) ++out.busy;
    else if (agent.do_not_disturb) ++out.dnd;
    else if (any_ready) ++out.ready;
    else ++out.not_ready;
  });
  return out;
}

// The /status fields about interactions, agents and reporting.
nlohmann::json status_of(const InteractionRegistry& interactions, const AgentRegistry& agents, uint64_t event_log_seq,
                         size_t subscribers) {
  nlohmann::json queues = nlohmann::json::object();
  for (const auto& [name, depth] : interactions.queue_depths()) queues[name] = depth;
  const InteractionService::AgentStates a = agent_states_of(interactions, agents);
  return nlohmann::json{{"interactions", interactions.size()},
                        {"queues", queues},
                        {"agents_logged_in", agents.logged_in()},
                        {"agents", {{"ready", a.ready}, {"busy", a.busy}, {"not_ready", a.not_ready}, {"dnd", a.dnd}}},
                        {"event_log_seq", event_log_seq},
                        {"reporting_subscribers", subscribers}};
}

}  // namespace

nlohmann::json InteractionService::status() const {
  return status_of(ctx_.interactions, ctx_.agents, ctx_.reporting.last_committed_seq(), ctx_.reporting.subscribers());
}

InteractionService::AgentStates InteractionService::agent_states() const { return agent_states_of(ctx_.interactions, ctx_.agents); }

nlohmann::json InteractionService::empty_status() { return status_of(InteractionRegistry{}, AgentRegistry{}, 0, 0); }

InteractionService::InteractionService(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config,
                                       std::string pair_id, Store& store, Clock& clock, NodeMetrics& metrics)
    : ctx_(loop, std::move(config), std::move(pair_id), store, clock, metrics),
      proxy_holds_(
          clock, metrics, [this](const ClientSession& from, const ClientSession& to) { return move_session(from, to); },
          [this](ClientSession& placeholder, const std::string& why) { release_session(placeholder, why); }),
      retention_timer_(clock.make_deadlines([this](uint64_t) { apply_retention(); })) {}

InteractionService::~InteractionService() { stop(); }

Status InteractionService::check_views(const config::ClusterConfig& config) {
  auto views = compile_views(config);
  return views ? Status{} : Status{views.error()};
}

Status InteractionService::load() {
  auto views = compile_views(*ctx_.config);
  if (!views) return views.error();
  ctx_.views = std::move(*views);
  auto state = ctx_.store.load();
  if (!state) return state.error();
  reserve_interactions(state->interactions.size());
  for (const StoredInteraction& stored : state->interactions) {
    flatbuffers::Verifier verifier(stored.data.data(), stored.data.size());
    if (!verifier.VerifyBuffer<proto::InteractionInfo>(nullptr)) {
      return Error{0, "interaction " + stored.id + " in the database is corrupt"};
    }
    std::unique_ptr<Interaction> interaction(flatbuffers::GetRoot<proto::InteractionInfo>(stored.data.data())->UnPack());
    interaction->locked = false;  // locks belong to client sessions, which did not survive
    ctx_.interactions.put(std::move(interaction));
  }
  for (const auto& [name, value] : state->counters) {
    if (name == ServiceContext::kInteractionCounter) ctx_.interaction_counter = value;
  }
  ctx_.submit_keys.load(state->submit_keys);
  // Invitations and handlings that were open when the last primary stopped get fresh timers:
  // their agents must log in again and answer, or the interactions go back to their queues.
  ctx_.lifecycle.restore();
  ctx_.reporting.reset(state->last_seq);
  apply_retention();
  spdlog::info("event=state_loaded interactions={} last_seq={}", ctx_.interactions.size(), state->last_seq);
  return {};
}

void InteractionService::stop() {
  // Delivery, handling, transfer and held-pull deadlines would keep the loop (and the process)
  // alive for as long as handling-timeout; the interactions are stored and outlive us.
  ctx_.lifecycle.clear();
  ctx_.transfers.clear();
  ctx_.held_pulls.clear();
  retention_timer_->clear();
  proxy_holds_.clear();
}

Status InteractionService::reload(std::shared_ptr<const config::ClusterConfig> config) {
  auto views = compile_views(*config);
  if (!views) return views.error();
  // Held pulls point at the compiled views that are about to be replaced: answer them now.
  ctx_.held_pulls.answer_all_empty();
  ctx_.views = std::move(*views);
  ctx_.config = std::move(config);
  reserve_interactions(ctx_.interactions.size());
  return {};
}

void InteractionService::reserve_interactions(size_t at_least) {
  // Up to the pair's max-live-interactions, so that the index never grows (and stalls the loop)
  // while the pair fills; past a cap the memory up front (8 bytes each) is not worth it.
  constexpr size_t kReserveCap = 4'000'000;
  ctx_.interactions.reserve(std::max(at_least, std::min<size_t>(ctx_.pair().settings.max_live_interactions, kReserveCap)));
}

void InteractionService::handle(ClientSession& s, const proto::Envelope& e) {
  if (ctx_.failed) return ctx_.refuse(s, e, proto::ErrorCode::Internal, "this node is shutting down after a storage failure");
  ctx_.lifecycle.touch_handling(s, e.client_id());
  dispatch(s, e);
  if (!ctx_.held_pulls.empty()) serve_held_pulls(ctx_);
}

void InteractionService::session_closed(ClientSession& s) { release_session(s, "desktop disconnected"); }

void InteractionService::release_session(ClientSession& s, const std::string& logout_reason) {
  ctx_.reporting.unsubscribe(&s);
  ctx_.snapshot_locks.release_session(&s);
  ctx_.workbin_listeners.session_closed(s);
  if (!ctx_.failed) logout_agents_of(ctx_, s, logout_reason);
  ctx_.sessions.erase(&s);
  if (!ctx_.held_pulls.empty()) serve_held_pulls(ctx_);  // drops this session's pulls; released locks may serve others
}

void InteractionService::proxy_session_closed(ClientSession& s, const ProxyIdentity& who) {
  const int64_t grace_ms = ctx_.pair().settings.proxy_session_grace.count();
  if (grace_ms <= 0 || ctx_.failed) return session_closed(s);
  // The connection is gone: what was sent on it (its pulls, its reporting feed) ends with it —
  // the proxy resumes reporting by seq and pulls again. What it spoke for is held.
  ctx_.reporting.unsubscribe(&s);
  ctx_.sessions.erase(&s);
  proxy_holds_.hold(s, who, static_cast<uint64_t>(grace_ms));
  if (!ctx_.held_pulls.empty()) serve_held_pulls(ctx_);  // drops this session's pulls
}

bool InteractionService::proxy_registered(ClientSession& s, const ProxyIdentity& who) { return proxy_holds_.reattach(s, who); }

HeldState InteractionService::move_session(const ClientSession& from, const ClientSession& to) {
  HeldState moved;
  moved.agents = ctx_.agents.move_owner(&from, &to);
  std::tie(moved.locks, moved.snapshots) = ctx_.snapshot_locks.move_session(&from, &to);
  ctx_.workbin_listeners.move_session(from, to);
  return moved;
}

void InteractionService::dispatch(ClientSession& s, const proto::Envelope& e) {
  using M = proto::Message;
  ServiceContext& ctx = ctx_;
  switch (e.body_type()) {
    case M::RequestSubmit: return handle_submit(ctx, s, e);
    case M::RequestGetProperties: return handle_get_properties(ctx, s, e);
    case M::RequestChangeProperties: return handle_change_properties(ctx, s, e);
    case M::RequestPlaceInQueue: return handle_place_in_queue(ctx, s, e);
    case M::RequestStopProcessing: return handle_stop_processing(ctx, s, e);
    case M::RequestPull: return handle_pull(ctx, s, e);
    case M::RequestStartReporting: return handle_start_reporting(ctx, s, e);
    case M::RequestStopReporting: return handle_stop_reporting(ctx, s, e);
    case M::RequestReportingState: return handle_reporting_state(ctx, s, e);
    case M::RequestAgentLogin: return handle_agent_login(ctx, s, e);
    case M::RequestAgentLogout: return handle_agent_logout(ctx, s, e);
    case M::RequestAgentReady: return handle_agent_readiness(ctx, s, e, true);
    case M::RequestAgentNotReady: return handle_agent_readiness(ctx, s, e, false);
    case M::RequestAgentDoNotDisturb: return handle_agent_dnd(ctx, s, e);
    case M::RequestAgentAddMedia: return handle_agent_add_media(ctx, s, e);
    case M::RequestAgentRemoveMedia: return handle_agent_remove_media(ctx, s, e);
    case M::RequestAgentStatus: return handle_agent_status(ctx, s, e);
    case M::RequestDeliver: return handle_deliver(ctx, s, e);
    case M::RequestAccept: return handle_accept(ctx, s, e);
    case M::RequestReject: return handle_reject(ctx, s, e);
    case M::RequestTransfer: return ctx.transfers.invite(s, e, false);
    case M::RequestConference: return ctx.transfers.invite(s, e, true);
    case M::RequestLeaveInteraction: return handle_leave(ctx, s, e);
    case M::RequestFind: return handle_find(ctx, s, e);
    case M::RequestPlaceInWorkbin: return handle_place_in_workbin(ctx, s, e);
    case M::RequestWorkbinContent: return handle_workbin_content(ctx, s, e);
    case M::RequestWorkbinSubscribe: return handle_workbin_subscribe(ctx, s, e);
    case M::RequestTakeSnapshot: return handle_take_snapshot(ctx, s, e);
    case M::RequestSnapshotPage: return handle_snapshot_page(ctx, s, e);
    case M::RequestReleaseSnapshot: return handle_release_snapshot(ctx, s, e);
    case M::RequestLock: return handle_lock(ctx, s, e, true);
    case M::RequestUnlock: return handle_lock(ctx, s, e, false);
    case M::RequestLease: return handle_lease(ctx.store, ctx.clock, s, e, ctx.still_open(s));
    default:
      return ctx.refuse(s, e, proto::ErrorCode::RequestNotAllowed,
                        wire::message_name(e.body_type()) + " is not served by this ixnode version");
  }
}

void InteractionService::apply_retention() {
  if (ctx_.failed) return;
  const config::Duration retention = ctx_.pair().settings.event_log_retention;
  Transaction t;
  t.mutations.push_back(
      TrimEvents{ctx_.now_us() - std::chrono::duration_cast<std::chrono::microseconds>(retention).count()});
  ctx_.store.commit(std::move(t), nullptr);
  // Often enough that the log never holds much more than the retention asks for.
  const auto every = std::clamp<int64_t>(retention.count() / 10, 1000, 60'000);
  retention_timer_->start(0, static_cast<uint64_t>(every));
}

}  // namespace ix::node
