#include "node/server/interaction_service.h"

#include <chrono>

#include "node/server/lease_requests.h"
#include "protocol/log.h"
#include "protocol/wire/client_policy.h"

namespace ix::node {

namespace {

// The /status fields about interactions, agents and reporting.
nlohmann::json status_of(const InteractionRegistry& interactions, const AgentRegistry& agents, uint64_t event_log_seq,
                         size_t subscribers) {
  nlohmann::json queues = nlohmann::json::object();
  for (const auto& [name, depth] : interactions.queue_depths()) queues[name] = depth;
  // Agents by state: ready on some media, not ready on any, or do-not-disturb.
  size_t ready = 0, not_ready = 0, dnd = 0;
  agents.for_each([&](const AgentState& agent) {
    const bool any_ready = std::any_of(agent.media.begin(), agent.media.end(), [](const auto& m) { return m.second.ready; });
    if (agent.do_not_disturb) ++dnd;
    else if (any_ready) ++ready;
    else ++not_ready;
  });
  return nlohmann::json{{"interactions", interactions.size()},
                        {"queues", queues},
                        {"agents_logged_in", agents.logged_in()},
                        {"agents", {{"ready", ready}, {"not_ready", not_ready}, {"dnd", dnd}}},
                        {"event_log_seq", event_log_seq},
                        {"reporting_subscribers", subscribers}};
}

}  // namespace

nlohmann::json InteractionService::status() const {
  return status_of(interactions_, agents_, reporting_.last_committed_seq(), reporting_.subscribers());
}

nlohmann::json InteractionService::empty_status() { return status_of(InteractionRegistry{}, AgentRegistry{}, 0, 0); }

InteractionService::InteractionService(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config,
                                       std::string pair_id, Store& store, Clock& clock, NodeMetrics& metrics)
    : loop_(loop),
      config_(std::move(config)),
      pair_id_(std::move(pair_id)),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      reporting_(loop, pair_id_, store),
      delivery_timers_(clock, [this](const std::string& id) { on_delivery_timeout(id); }),
      transfer_timers_(clock.make_deadlines([this](uint64_t ticket) {
        for (const auto& [interaction_id, transfer] : transfers_) {
          if (transfer.ticket != ticket) continue;
          const std::string id = interaction_id, to = transfer.to;
          fail_transfer(id, "agent " + to + " did not answer the transfer of " + id + " within delivering-timeout", true);
          return;
        }
      })),
      held_pulls_(clock, [this](const ClientSession* s) { return open_session(s) != nullptr; }),
      retention_timer_(clock.make_deadlines([this](uint64_t) { apply_retention(); })) {}

InteractionService::~InteractionService() { stop(); }

Status InteractionService::check_views(const config::ClusterConfig& config) {
  auto views = compile_views(config);
  return views ? Status{} : Status{views.error()};
}

Status InteractionService::load() {
  auto views = compile_views(*config_);
  if (!views) return views.error();
  views_ = std::move(*views);
  auto state = store_.load();
  if (!state) return state.error();
  for (const StoredInteraction& stored : state->interactions) {
    flatbuffers::Verifier verifier(stored.data.data(), stored.data.size());
    if (!verifier.VerifyBuffer<proto::InteractionInfo>(nullptr)) {
      return Error{0, "interaction " + stored.id + " in the database is corrupt"};
    }
    std::unique_ptr<Interaction> interaction(flatbuffers::GetRoot<proto::InteractionInfo>(stored.data.data())->UnPack());
    interaction->locked = false;  // locks belong to client sessions, which did not survive
    interactions_.put(std::move(interaction));
  }
  for (const auto& [name, value] : state->counters) {
    if (name == kInteractionCounter) interaction_counter_ = value;
  }
  // Invitations and handlings that were open when the last primary stopped get fresh timers:
  // their agents must log in again and answer, or the interactions go back to their queues.
  interactions_.for_each([this](const Interaction& i) {
    if (i.agent_id.empty()) return;
    handled_by_[i.agent_id].insert(i.interaction_id);
    delivery_timers_.start(i.interaction_id, i.state == proto::InteractionState::Delivering ? pair().settings.delivering_timeout
                                                                  : pair().settings.handling_timeout);
  });
  reporting_.reset(state->last_seq);
  apply_retention();
  spdlog::info("event=primary pair={} interactions={} last_seq={}", pair_id_, interactions_.size(), state->last_seq);
  return {};
}

void InteractionService::stop() {
  // Delivery, handling, transfer and held-pull deadlines would keep the loop (and the process)
  // alive for as long as handling-timeout; the interactions are stored and outlive us.
  delivery_timers_.clear();
  transfer_timers_->clear();
  held_pulls_.clear();
  retention_timer_->clear();
}

Status InteractionService::reload(std::shared_ptr<const config::ClusterConfig> config) {
  auto views = compile_views(*config);
  if (!views) return views.error();
  // Held pulls point at the compiled views that are about to be replaced: answer them now.
  held_pulls_.answer_all_empty();
  views_ = std::move(*views);
  config_ = std::move(config);
  return {};
}

void InteractionService::handle(ClientSession& s, const proto::Envelope& e) {
  if (failed_) return refuse(s, e, proto::ErrorCode::Internal, "this node is shutting down after a storage failure");
  touch_handling(s, e.client_id());
  dispatch(s, e);
  if (!held_pulls_.empty()) serve_held_pulls();
}

ClientSession* InteractionService::open_session(const void* key) const {
  auto it = sessions_.find(const_cast<ClientSession*>(static_cast<const ClientSession*>(key)));
  return it == sessions_.end() ? nullptr : *it;
}

void InteractionService::session_closed(ClientSession& s) {
  reporting_.unsubscribe(&s);
  snapshot_locks_.release_session(&s);
  std::erase_if(workbin_listeners_, [&](const WorkbinListener& l) { return l.session == &s; });
  if (!failed_) logout_agents_of(&s);
  sessions_.erase(&s);
  if (!held_pulls_.empty()) serve_held_pulls();  // drops this session's pulls; released locks may serve others
}

void InteractionService::refuse(ClientSession& s, const proto::Envelope& e, proto::ErrorCode code, std::string text) {
  metrics_.request_errors(code).inc();
  s.send_error(e.ref_id(), e.client_id(), code, std::move(text));
}

void InteractionService::dispatch(ClientSession& s, const proto::Envelope& e) {
  using M = proto::Message;
  switch (e.body_type()) {
    case M::RequestSubmit: return handle_submit(s, e);
    case M::RequestGetProperties: return handle_get_properties(s, e);
    case M::RequestChangeProperties: return handle_change_properties(s, e);
    case M::RequestPlaceInQueue: return handle_place_in_queue(s, e);
    case M::RequestStopProcessing: return handle_stop_processing(s, e);
    case M::RequestPull: return handle_pull(s, e);
    case M::RequestStartReporting: return handle_start_reporting(s, e);
    case M::RequestReportingState: return handle_reporting_state(s, e);
    case M::RequestAgentLogin: return handle_agent_login(s, e);
    case M::RequestAgentLogout: return handle_agent_logout(s, e);
    case M::RequestAgentReady: return handle_agent_readiness(s, e, true);
    case M::RequestAgentNotReady: return handle_agent_readiness(s, e, false);
    case M::RequestAgentDoNotDisturb: return handle_agent_dnd(s, e);
    case M::RequestAgentAddMedia: return handle_agent_add_media(s, e);
    case M::RequestAgentRemoveMedia: return handle_agent_remove_media(s, e);
    case M::RequestAgentStatus: return handle_agent_status(s, e);
    case M::RequestDeliver: return handle_deliver(s, e);
    case M::RequestAccept: return handle_accept(s, e);
    case M::RequestReject: return handle_reject(s, e);
    case M::RequestTransfer: return handle_transfer(s, e, false);
    case M::RequestConference: return handle_transfer(s, e, true);
    case M::RequestLeaveInteraction: return handle_leave(s, e);
    case M::RequestFind: return handle_find(s, e);
    case M::RequestPlaceInWorkbin: return handle_place_in_workbin(s, e);
    case M::RequestWorkbinContent: return handle_workbin_content(s, e);
    case M::RequestWorkbinSubscribe: return handle_workbin_subscribe(s, e);
    case M::RequestTakeSnapshot: return handle_take_snapshot(s, e);
    case M::RequestSnapshotPage: return handle_snapshot_page(s, e);
    case M::RequestReleaseSnapshot: return handle_release_snapshot(s, e);
    case M::RequestLock: return handle_lock(s, e, true);
    case M::RequestUnlock: return handle_lock(s, e, false);
    case M::RequestLease: return handle_lease(store_, clock_, s, e, [self = std::weak_ptr<InteractionService*>(self_), session = &s] { auto alive = self.lock(); return alive && (*alive)->sessions_.contains(session); });
    case M::RequestStopReporting:
      reporting_.unsubscribe(&s, e.client_id());
      s.send(wire::encode_ack(e.ref_id(), e.client_id()));
      return;
    default:
      return refuse(s, e, proto::ErrorCode::RequestNotAllowed,
                    wire::message_name(e.body_type()) + " is not served by this ixnode version");
  }
}

std::vector<uint8_t> InteractionService::encode_interaction(const Interaction& interaction) const {
  flatbuffers::FlatBufferBuilder builder(512);
  builder.Finish(proto::InteractionInfo::Pack(builder, &interaction));
  return {builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()};
}

void InteractionService::persist(Transaction& t, const Interaction& interaction) const {
  PutInteraction put;
  put.interaction.id = interaction.interaction_id;
  put.interaction.tenant = interaction.tenant_id;
  put.interaction.state = static_cast<int>(interaction.state);
  put.interaction.data = encode_interaction(interaction);
  t.mutations.emplace_back(std::move(put));
}

void InteractionService::commit(ClientSession* session, uint64_t ref_id, uint64_t client_id, Transaction transaction,
                        std::vector<RecordedEvent> events, wire::Frame ok) {
  // The session may be gone by the time the commit completes; on_committed looks it up again.
  store_.commit(std::move(transaction), [self = std::weak_ptr<InteractionService*>(self_), session, ref_id, client_id,
                                          events = std::move(events), ok = std::move(ok)](const Status& status) {
    auto alive = self.lock();
    if (!alive) return;  // stopped since: there is no one left to answer
    (*alive)->on_committed(session, ref_id, client_id, status, events, ok);
  });
}

void InteractionService::on_committed(ClientSession* session, uint64_t ref_id, uint64_t client_id, const Status& status,
                              const std::vector<RecordedEvent>& events, const wire::Frame& ok) {
  ClientSession* s = sessions_.contains(session) ? session : nullptr;
  if (!status) {
    metrics_.commits_failed().inc();
    failed_ = true;
    spdlog::critical("event=commit_failed pair={} error={}", pair_id_, quote(status.error().text));
    if (s) s->send_error(ref_id, client_id, proto::ErrorCode::Internal, "storage failure: " + status.error().text);
    if (on_fatal_) on_fatal_("commit failed: " + status.error().text);
    return;
  }
  if (s && !ok.empty()) s->send(std::span<const uint8_t>(ok));
  reporting_.publish(events);
}

void InteractionService::apply_retention() {
  if (failed_) return;
  Transaction t;
  t.mutations.push_back(TrimEvents{now_us() - std::chrono::duration_cast<std::chrono::microseconds>(
                                                  pair().settings.event_log_retention).count()});
  store_.commit(std::move(t), nullptr);
  // Often enough that the log never holds much more than the retention asks for.
  const auto every = std::clamp<int64_t>(pair().settings.event_log_retention.count() / 10, 1000, 60'000);
  retention_timer_->start(0, static_cast<uint64_t>(every));
}

}  // namespace ix::node
