#include "node/server/node_server.h"

#include <chrono>
#include <filesystem>

#include "cluster-config/tls.h"
#include "protocol/wire/client_policy.h"
#include "protocol/wire/interaction_id.h"
#include "node/store/store_factory.h"
#include "protocol/log.h"
#include "protocol/wire/kv.h"

namespace ix::node {

namespace {

constexpr const char* kInteractionCounter = "interaction";
constexpr uint32_t kMaxPullCount = 1000;

using wire::str;

std::string client_type_name(proto::ClientType t) { return proto::EnumNameClientType(t); }


}  // namespace

NodeServer::NodeServer(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, NodeOptions options)
    : loop_(loop),
      config_(std::move(config)),
      options_(std::move(options)),
      admin_(loop, metrics_, "ixnode"),
      lease_timer_(loop),
      retention_timer_(loop),
      interaction_timers_(loop, [this](uint64_t id) { on_interaction_timer(id); }),
      transfer_timers_(loop, [this](uint64_t ticket) {
        for (const auto& [interaction_id, transfer] : transfers_) {
          if (transfer.ticket != ticket) continue;
          const std::string id = interaction_id, to = transfer.to;
          fail_transfer(id, "agent " + to + " did not answer the transfer of " + id + " within delivering-timeout", true);
          return;
        }
      }),
      held_pull_timers_(loop, [this](uint64_t id) {
        // The hold time passed with nothing to take: answer with an empty result.
        auto it = std::find_if(held_pulls_.begin(), held_pulls_.end(), [&](const HeldPull& p) { return p.timer_id == id; });
        if (it == held_pulls_.end()) return;
        auto session = sessions_.find(it->session_key);
        if (session != sessions_.end()) {
          session->second->channel.send(wire::encode_frame(it->ref_id, it->client_id, proto::EventPulledT{}));
        }
        held_pulls_.erase(it);
      }) {}

NodeServer::~NodeServer() { stop(); }

int64_t NodeServer::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status NodeServer::start() {
  if (Status s = compile_views(*config_); !s) return s;
  const config::ServerEndpoint& endpoint = options_.preferred_primary ? pair().primary : pair().backup;
  net::ListenerOptions listener_options;
  if (pair().tls.enabled) {
    Result<std::shared_ptr<net::TlsContext>> tls = config::server_tls(pair().tls);
    if (!tls) return Error{tls.error().code, "node-pairs[" + options_.pair_id + "].tls: " + tls.error().text};
    listener_options.tls = *tls;
  }
  auto listener = net::Listener::listen(loop_, {endpoint.host, endpoint.port}, listener_options,
                                        [this](std::shared_ptr<net::Connection> c) { on_accept(std::move(c)); });
  if (!listener) return listener.error();
  listener_ = std::move(listener.value());
  register_metrics();
  if (Status s = admin_.listen({endpoint.host, endpoint.admin_port}); !s) return s;
  spdlog::info("event=listening pair={} port={} admin_port={} preferred_role={}", options_.pair_id, listener_->port(),
               admin_.port(), options_.preferred_primary ? "primary" : "backup");
  if (options_.preferred_primary) {
    try_lease();
  } else {
    // Give the preferred primary the first chance when both start together.
    lease_timer_.start(static_cast<uint64_t>(pair().settings.lease_timeout.count()), [this] { try_lease(); });
  }
  return {};
}

void NodeServer::stop() {
  lease_timer_.stop();
  retention_timer_.stop();
  // Delivery, handling, transfer and held-pull deadlines would keep the loop (and the process)
  // alive for as long as handling-timeout; the interactions are stored and outlive us.
  interaction_timers_.clear();
  transfer_timers_.clear();
  held_pull_timers_.clear();
  if (listener_) listener_->close();
  listener_.reset();
  for (auto& [connection, session] : sessions_) {
    session->connection->clear_callbacks();
    session->connection->close("ixnode shutting down");
  }
  sessions_.clear();
  // Commits in flight still finish; their completions come on a later loop turn and, the node
  // being stopped, answer no one.
  if (store_) store_->close();
  reporting_.reset();
  store_.reset();
  lease_.release();
  primary_ = false;
  admin_.close();
}

void NodeServer::reload(std::shared_ptr<const config::ClusterConfig> config) {
  if (config->node_pair(options_.pair_id) == nullptr) {
    spdlog::error("event=reload_refused reason={}", quote("node pair " + options_.pair_id + " is no longer in the configuration"));
    return;
  }
  // Held pulls point at the compiled views that are about to be replaced: answer them now.
  for (const HeldPull& pull : held_pulls_) {
    held_pull_timers_.cancel(pull.timer_id);
    auto session = sessions_.find(pull.session_key);
    if (session != sessions_.end()) {
      session->second->channel.send(wire::encode_frame(pull.ref_id, pull.client_id, proto::EventPulledT{}));
    }
  }
  held_pulls_.clear();
  if (Status s = compile_views(*config); !s) {
    spdlog::error("event=reload_refused reason={}", quote(s.error().text));
    return;
  }
  config_ = std::move(config);
}

void NodeServer::try_lease() {
  const std::string& db = pair().storage.sqlite_path;
  if (db.empty()) {
    if (on_fatal_) on_fatal_("node pair " + options_.pair_id + " has no sqlite-path (PostgreSQL storage is not built yet)");
    return;
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(db).parent_path(), ignored);
  auto lease = Lease::try_acquire(db + ".lease");
  if (!lease) {
    if (on_fatal_) on_fatal_(lease.error().text);
    return;
  }
  if (!lease->held()) {
    lease_timer_.start(static_cast<uint64_t>(pair().settings.lease_timeout.count()), [this] { try_lease(); });
    return;
  }
  lease_ = std::move(lease.value());
  if (Status s = become_primary(); !s) {
    if (on_fatal_) on_fatal_("cannot become primary: " + s.error().text);
  }
}

Status NodeServer::become_primary() {
  auto store = make_store(loop_, pair(), {options_.group_commit});
  if (!store) return store.error();
  store_ = std::move(store.value());
  // The store may finish a batch after stop(), even after this server is gone.
  store_->set_batch_observer([self = std::weak_ptr<NodeServer*>(self_)](size_t size, double seconds) {
    auto alive = self.lock();
    if (!alive) return;
    (*alive)->batch_size_->observe(static_cast<double>(size));
    (*alive)->batch_seconds_->observe(seconds);
  });
  auto state = store_->load();
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
    start_timer(i, i.state == proto::InteractionState::Delivering ? pair().settings.delivering_timeout
                                                                  : pair().settings.handling_timeout);
  });
  reporting_ = std::make_unique<ReportingHub>(loop_, options_.pair_id, *store_);
  reporting_->reset(state->last_seq);
  primary_ = true;
  apply_retention();
  spdlog::info("event=primary pair={} interactions={} last_seq={}", options_.pair_id, interactions_.size(), state->last_seq);
  proto::EventServerRoleChangedT changed;
  changed.node_id = options_.pair_id;
  changed.role = proto::ServerRole::Primary;
  wire::Frame frame = wire::encode_frame(0, 0, changed);
  for (auto& [connection, session] : sessions_) {
    if (session->channel.registered()) session->channel.send(frame);
  }
  return {};
}

void NodeServer::on_accept(std::shared_ptr<net::Connection> connection) {
  net::ChannelOptions options;
  options.max_frame_size = pair().settings.max_frame_size;
  options.require_registration = true;
  auto session = std::make_unique<Session>(connection, options);
  Session* raw = session.get();
  raw->channel.set_on_message([this, raw](const proto::Envelope& e) { on_message(*raw, e); });
  raw->channel.set_on_protocol_error([this](proto::ErrorCode code, const std::string& text) {
    metrics_.counter("ix_node_protocol_errors_total", "Frames refused before dispatch", {{"code", std::to_string(static_cast<int>(code))}}).inc();
    spdlog::warn("event=protocol_error code={} text={}", static_cast<int>(code), quote(text));
  });
  connection->set_on_close([this, raw](const std::string&) { on_session_closed(raw); });
  sessions_.emplace(connection.get(), std::move(session));
  connection->start();
}

void NodeServer::on_session_closed(Session* session) {
  if (reporting_) reporting_->unsubscribe(&session->channel);
  release_session_holds(session);
  std::erase_if(workbin_listeners_, [&](const WorkbinListener& l) { return l.session == session; });
  if (primary_ && !failed_) logout_agents_of(session);
  sessions_.erase(session->connection.get());
  if (!held_pulls_.empty()) serve_held_pulls();  // drops this session's pulls; released locks may serve others
}

void NodeServer::refuse(Session& s, const proto::Envelope& e, proto::ErrorCode code, std::string text) {
  metrics_.counter("ix_node_request_errors_total", "Requests answered with EventError", {{"code", std::to_string(static_cast<int>(code))}}).inc();
  s.channel.send_error(e.ref_id(), e.client_id(), code, std::move(text));
}

void NodeServer::on_message(Session& s, const proto::Envelope& e) {
  const proto::Message type = e.body_type();
  metrics_.counter("ix_node_requests_total", "Requests received, by type", {{"request", wire::message_name(type)}}).inc();
  if (type == proto::Message::RequestRegisterClient) {
    proto::EventClientRegisteredT registered;
    registered.server_name = "ixnode " + options_.pair_id + " (" + role_name() + ")";
    registered.node_id = options_.pair_id;
    registered.role = primary_ ? proto::ServerRole::Primary : proto::ServerRole::Backup;
    registered.protocol_version = wire::kProtocolVersion;
    s.channel.send(wire::encode_frame(e.ref_id(), e.client_id(), registered));
    return;
  }
  if (type == proto::Message::RequestPing) {
    proto::EventPongT pong;
    pong.server_time_us = now_us();
    s.channel.send(wire::encode_frame(e.ref_id(), e.client_id(), pong));
    return;
  }
  if (!wire::is_request(type)) {
    return refuse(s, e, proto::ErrorCode::RequestNotAllowed, wire::message_name(type) + " is an event, not a request");
  }
  if (!wire::client_may_send(s.channel.client_type(), type)) {
    return refuse(s, e, proto::ErrorCode::RequestNotAllowed,
                  client_type_name(s.channel.client_type()) + " clients may not send " + wire::message_name(type));
  }
  if (!primary_) {
    return refuse(s, e, proto::ErrorCode::NotPrimary,
                  "this node of pair " + options_.pair_id + " is the backup; send requests to the primary");
  }
  if (failed_) return refuse(s, e, proto::ErrorCode::Internal, "this node is shutting down after a storage failure");
  touch_handling(s, e.client_id());
  dispatch(s, e);
  if (!held_pulls_.empty()) serve_held_pulls();
}

void NodeServer::dispatch(Session& s, const proto::Envelope& e) {
  using M = proto::Message;
  switch (e.body_type()) {
    case M::RequestSubmit: return handle_submit(s, e);
    case M::RequestGetProperties: return handle_get_properties(s, e);
    case M::RequestChangeProperties: return handle_change_properties(s, e);
    case M::RequestPlaceInQueue: return handle_place_in_queue(s, e);
    case M::RequestStopProcessing: return handle_stop_processing(s, e);
    case M::RequestPull: return handle_pull(s, e);
    case M::RequestStartReporting: return handle_start_reporting(s, e);
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
    case M::RequestStopReporting:
      reporting_->unsubscribe(&s.channel, e.client_id());
      s.channel.send(wire::encode_ack(e.ref_id(), e.client_id()));
      return;
    default:
      return refuse(s, e, proto::ErrorCode::RequestNotAllowed,
                    wire::message_name(e.body_type()) + " is not served by this ixnode version");
  }
}

std::vector<uint8_t> NodeServer::encode_interaction(const Interaction& interaction) const {
  flatbuffers::FlatBufferBuilder builder(512);
  builder.Finish(proto::InteractionInfo::Pack(builder, &interaction));
  return {builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()};
}

void NodeServer::persist(Transaction& t, const Interaction& interaction) const {
  PutInteraction put;
  put.interaction.id = interaction.interaction_id;
  put.interaction.tenant = interaction.tenant_id;
  put.interaction.state = static_cast<int>(interaction.state);
  put.interaction.data = encode_interaction(interaction);
  t.mutations.emplace_back(std::move(put));
}

void NodeServer::commit(Session* session, uint64_t ref_id, uint64_t client_id, Transaction transaction,
                        std::vector<RecordedEvent> events, wire::Frame ok) {
  // The session may be gone by the time the commit completes; look it up again then.
  net::Connection* key = session ? session->connection.get() : nullptr;
  store_->commit(std::move(transaction), [self = std::weak_ptr<NodeServer*>(self_), key, ref_id, client_id,
                                          events = std::move(events), ok = std::move(ok)](const Status& status) {
    auto alive = self.lock();
    if (!alive || !(*alive)->primary_) return;  // stopped since: there is no one left to answer
    (*alive)->on_committed(key, ref_id, client_id, status, events, ok);
  });
}

void NodeServer::on_committed(net::Connection* key, uint64_t ref_id, uint64_t client_id, const Status& status,
                              const std::vector<RecordedEvent>& events, const wire::Frame& ok) {
  auto it = key ? sessions_.find(key) : sessions_.end();
  Session* s = it == sessions_.end() ? nullptr : it->second.get();
  if (!status) {
    commits_failed_->inc();
    failed_ = true;
    spdlog::critical("event=commit_failed pair={} error={}", options_.pair_id, quote(status.error().text));
    if (s) s->channel.send_error(ref_id, client_id, proto::ErrorCode::Internal, "storage failure: " + status.error().text);
    if (on_fatal_) on_fatal_("commit failed: " + status.error().text);
    return;
  }
  if (s && !ok.empty()) s->channel.send(ok);
  if (reporting_) reporting_->publish(events);
}

Interaction* NodeServer::find_interaction(Session& s, const proto::Envelope& e, const flatbuffers::String* id,
                                          const char* what) {
  if (id == nullptr || id->size() == 0) {
    refuse(s, e, proto::ErrorCode::MissingAttribute, std::string(what) + ".interaction_id is missing");
    return nullptr;
  }
  Interaction* interaction = interactions_.find(id->str());
  if (interaction == nullptr) {
    refuse(s, e, proto::ErrorCode::UnknownInteraction,
           "interaction " + id->str() + " does not exist on node pair " + options_.pair_id);
  }
  return interaction;
}

void NodeServer::handle_submit(Session& s, const proto::Envelope& e) {
  const proto::RequestSubmit* r = e.body_as_RequestSubmit();
  const std::string tenant = str(r->tenant_id()), media = str(r->media_type()), queue = str(r->queue());
  for (auto [value, name] : {std::pair{&tenant, "tenant_id"}, std::pair{&media, "media_type"}, std::pair{&queue, "queue"}}) {
    if (value->empty()) return refuse(s, e, proto::ErrorCode::MissingAttribute, std::string("RequestSubmit.") + name + " is missing");
  }
  if (!pair().serves_tenant(tenant)) {
    return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestSubmit.tenant_id \"" + tenant + "\" is not served by node pair " + options_.pair_id);
  }
  const config::MediaType* media_type = config_->media_type(media);
  if (media_type == nullptr) {
    return refuse(s, e, proto::ErrorCode::InvalidAttribute, "RequestSubmit.media_type \"" + media + "\" is not a configured media type");
  }
  if (!pair().serves_media(media)) {
    return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestSubmit.media_type \"" + media + "\" is not served by node pair " + options_.pair_id);
  }
  auto q = std::find_if(config_->queues.begin(), config_->queues.end(), [&](const config::Queue& c) { return c.id == queue; });
  if (q == config_->queues.end() || q->tenant != tenant) {
    return refuse(s, e, proto::ErrorCode::UnknownQueue, "RequestSubmit.queue \"" + queue + "\" is not a queue of tenant " + tenant);
  }
  std::string id = str(r->interaction_id());
  const bool generated = id.empty();
  if (generated) {
    id = wire::make_cluster_id(pair().tag, ++interaction_counter_);
  } else if (wire::cluster_id_tag(id)) {
    return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestSubmit.interaction_id \"" + id + "\" has the form of a cluster-generated ID (<tag>-<16 hex digits>); choose another");
  } else if (interactions_.find(id) != nullptr) {
    return refuse(s, e, proto::ErrorCode::DuplicateInteractionId, "interaction " + id + " already exists on node pair " + options_.pair_id);
  }

  auto interaction = std::make_unique<Interaction>();
  interaction->interaction_id = id;
  interaction->tenant_id = tenant;
  interaction->media_type = media;
  interaction->interaction_type = str(r->interaction_type());
  interaction->interaction_subtype = str(r->interaction_subtype());
  interaction->parent_id = str(r->parent_id());
  interaction->priority = r->priority();
  interaction->node_id = options_.pair_id;
  interaction->submitted_at_us = now_us();
  if (r->user_data()) interaction->user_data.reset(r->user_data()->UnPack());
  Interaction& stored = *interaction;
  interactions_.put(std::move(interaction));
  // An agent's own submit (an outbound e-mail, say) starts in the agent's hands; anything else
  // waits in its queue.
  AgentState* agent = speaking_agent(s, e.client_id());
  Transaction t;
  std::vector<RecordedEvent> events;
  proto::EventInteractionSubmittedT submitted;
  submitted.interaction = std::make_unique<Interaction>(stored);
  events.push_back(reporting_->record(t, stored, std::move(submitted), stored.submitted_at_us));
  if (agent != nullptr) {
    stored.queue = queue;  // where it goes back to if the agent lets go of it
    stored.state = proto::InteractionState::Handling;
    hand_to_agent(stored, *agent, t, events, stored.submitted_at_us);
  } else {
    interactions_.place_in_queue(stored, queue, stored.submitted_at_us);
    proto::EventPlacedInQueueT placed;
    placed.interaction_id = id;
    placed.queue = queue;
    events.push_back(reporting_->record(t, stored, std::move(placed), stored.submitted_at_us));
  }
  persist(t, stored);
  if (generated) t.mutations.push_back(SetCounter{kInteractionCounter, interaction_counter_});

  proto::EventSubmittedT reply;
  reply.interaction_id = id;
  reply.node_id = options_.pair_id;
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void NodeServer::handle_get_properties(Session& s, const proto::Envelope& e) {
  const proto::RequestGetProperties* r = e.body_as_RequestGetProperties();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestGetProperties");
  if (interaction == nullptr) return;
  proto::EventPropertiesT reply;
  reply.interaction = std::make_unique<Interaction>(*interaction);
  if (r->keys() && r->keys()->size() > 0 && reply.interaction->user_data) {
    auto& pairs = reply.interaction->user_data->pairs;
    std::erase_if(pairs, [&](const std::unique_ptr<proto::KvPairT>& p) {
      return std::none_of(r->keys()->begin(), r->keys()->end(), [&](const flatbuffers::String* k) { return k->str() == p->key; });
    });
  }
  s.channel.send(wire::encode_frame(e.ref_id(), e.client_id(), reply));
}

void NodeServer::handle_change_properties(Session& s, const proto::Envelope& e) {
  const proto::RequestChangeProperties* r = e.body_as_RequestChangeProperties();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestChangeProperties");
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
        return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                      "RequestChangeProperties.changed: property \"" + p->key()->str() + "\" does not exist (use added)");
      }
    }
  }
  if (r->added() && r->added()->pairs()) {
    for (const proto::KvPair* p : *r->added()->pairs()) {
      if (has(p->key()->str())) {
        return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                      "RequestChangeProperties.added: property \"" + p->key()->str() + "\" already exists (use changed)");
      }
    }
  }
  if (r->deleted()) {
    for (const flatbuffers::String* key : *r->deleted()) {
      if (!has(key->str())) {
        return refuse(s, e, proto::ErrorCode::InvalidAttribute,
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
  persist(t, *interaction);
  std::vector<RecordedEvent> events{reporting_->record(t, *interaction, std::move(changed), now_us())};
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void NodeServer::handle_place_in_queue(Session& s, const proto::Envelope& e) {
  const proto::RequestPlaceInQueue* r = e.body_as_RequestPlaceInQueue();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestPlaceInQueue");
  if (interaction == nullptr) return;
  const std::string queue = str(r->queue());
  if (queue.empty()) return refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestPlaceInQueue.queue is missing");
  auto q = std::find_if(config_->queues.begin(), config_->queues.end(), [&](const config::Queue& c) { return c.id == queue; });
  if (q == config_->queues.end() || q->tenant != interaction->tenant_id) {
    return refuse(s, e, proto::ErrorCode::UnknownQueue,
                  "RequestPlaceInQueue.queue \"" + queue + "\" is not a queue of tenant " + interaction->tenant_id);
  }
  if (interaction->locked) {
    return refuse(s, e, proto::ErrorCode::InteractionLocked, "interaction " + interaction->interaction_id + " is locked");
  }
  const int64_t now = now_us();
  const std::string previous_queue = interaction->queue;
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->state == proto::InteractionState::Queued) {
    events.push_back(taken_from_queue(t, *interaction, now));
  } else if (!interaction->agent_id.empty()) {
    remove_all_parties(*interaction, t, events, now);
  }
  leave_workbin(*interaction, t, events);
  interactions_.place_in_queue(*interaction, queue, now);
  proto::EventPlacedInQueueT placed;
  placed.interaction_id = interaction->interaction_id;
  placed.queue = queue;
  placed.previous_queue = previous_queue;
  events.push_back(reporting_->record(t, *interaction, std::move(placed), now));
  persist(t, *interaction);
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void NodeServer::handle_stop_processing(Session& s, const proto::Envelope& e) {
  const proto::RequestStopProcessing* r = e.body_as_RequestStopProcessing();
  Interaction* interaction = find_interaction(s, e, r->interaction_id(), "RequestStopProcessing");
  if (interaction == nullptr) return;
  const int64_t now = now_us();
  const std::string id = interaction->interaction_id;
  Transaction t;
  std::vector<RecordedEvent> events;
  if (interaction->state == proto::InteractionState::Queued) events.push_back(taken_from_queue(t, *interaction, now));
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
      notify_agent(party, wire::encode_frame(0, 0, revoked));
    }
    remove_all_parties(*interaction, t, events, now);
  }
  if (transfers_.contains(id)) fail_transfer(id, "interaction " + id + " was stopped during its transfer", true);
  leave_workbin(*interaction, t, events);
  proto::EventProcessingStoppedT stopped;
  stopped.interaction_id = id;
  if (r->reason()) stopped.reason.reset(r->reason()->UnPack());
  events.push_back(reporting_->record(t, *interaction, std::move(stopped), now));
  interactions_.remove(id);
  t.mutations.push_back(DeleteInteraction{id});
  commit(&s, e.ref_id(), e.client_id(), std::move(t), std::move(events), wire::encode_ack(e.ref_id(), e.client_id()));
}

void NodeServer::handle_pull(Session& s, const proto::Envelope& e) {
  const proto::RequestPull* r = e.body_as_RequestPull();
  const std::string view = str(r->view_id()), queue = str(r->queue()), workbin = str(r->workbin_type());
  if (static_cast<int>(!view.empty()) + static_cast<int>(!queue.empty()) + static_cast<int>(!workbin.empty()) != 1) {
    return refuse(s, e, proto::ErrorCode::MissingAttribute, "RequestPull needs exactly one of view_id, queue and workbin_type");
  }
  if (r->count() == 0 || r->count() > kMaxPullCount) {
    return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                  "RequestPull.count " + std::to_string(r->count()) + " is out of range 1.." + std::to_string(kMaxPullCount));
  }
  if (!workbin.empty()) return pull_from_workbin(s, e);
  std::vector<std::string> queues;
  const CompiledView* compiled = nullptr;
  if (!queue.empty()) {
    auto q = std::find_if(config_->queues.begin(), config_->queues.end(), [&](const config::Queue& c) { return c.id == queue; });
    if (q == config_->queues.end()) return refuse(s, e, proto::ErrorCode::UnknownQueue, "RequestPull.queue \"" + queue + "\" does not exist");
    queues.push_back(queue);
  } else {
    auto v = views_.find(view);
    if (v == views_.end()) return refuse(s, e, proto::ErrorCode::UnknownView, "RequestPull.view_id \"" + view + "\" does not exist");
    compiled = &v->second;
    queues = v->second.view->queues;
  }
  if (serve_pull(s, e.ref_id(), e.client_id(), queues, compiled, r->count())) return;
  const uint64_t hold = std::min<uint64_t>(r->hold_time_ms(), static_cast<uint64_t>(pair().settings.pull_hold_timeout.count()));
  if (hold == 0) {
    s.channel.send(wire::encode_frame(e.ref_id(), e.client_id(), proto::EventPulledT{}));
    return;
  }
  const uint64_t timer_id = ++next_held_pull_;
  held_pulls_.push_back({s.connection.get(), e.ref_id(), e.client_id(), std::move(queues), compiled, r->count(), timer_id});
  held_pull_timers_.start(timer_id, hold);
}

bool NodeServer::serve_pull(Session& s, uint64_t ref_id, uint64_t client_id, const std::vector<std::string>& queues,
                            const CompiledView* view, uint32_t count) {
  const std::vector<Interaction*> pulled =
      view ? select(queues, view->condition, view->order, view->default_order, count) : interactions_.peek(queues, count);
  if (pulled.empty()) return false;
  const int64_t now = now_us();
  AgentState* agent = speaking_agent(s, client_id);  // an agent's pull makes it the handling party
  Transaction t;
  std::vector<RecordedEvent> events;
  proto::EventPulledT reply;
  for (Interaction* interaction : pulled) {
    take_out_of_queue(*interaction, t, events, now);
    interaction->state = proto::InteractionState::Handling;
    if (agent != nullptr) hand_to_agent(*interaction, *agent, t, events, now);
    persist(t, *interaction);
    reply.interactions.push_back(std::make_unique<Interaction>(*interaction));
  }
  commit(&s, ref_id, client_id, std::move(t), std::move(events), wire::encode_frame(ref_id, client_id, reply));
  return true;
}

void NodeServer::serve_held_pulls() {
  // Oldest first: a pull that has waited longest gets the first interaction.
  for (size_t i = 0; i < held_pulls_.size();) {
    HeldPull& pull = held_pulls_[i];
    auto session = sessions_.find(pull.session_key);
    if (session == sessions_.end()) {
      held_pull_timers_.cancel(pull.timer_id);
      held_pulls_.erase(held_pulls_.begin() + static_cast<ptrdiff_t>(i));
      continue;
    }
    if (serve_pull(*session->second, pull.ref_id, pull.client_id, pull.queues, pull.view, pull.count)) {
      held_pull_timers_.cancel(pull.timer_id);
      held_pulls_.erase(held_pulls_.begin() + static_cast<ptrdiff_t>(i));
      continue;
    }
    ++i;
  }
}

void NodeServer::handle_start_reporting(Session& s, const proto::Envelope& e) {
  const proto::RequestStartReporting* r = e.body_as_RequestStartReporting();
  std::set<std::string> tenants;
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) tenants.insert(t->str());
  }
  Result<wire::ReportingClasses> classes = wire::reporting_classes(*r);
  if (!classes) return refuse(s, e, static_cast<proto::ErrorCode>(classes.error().code), classes.error().text);
  std::optional<uint64_t> resume;
  if (r->resume()) {
    for (const proto::ResumePosition* p : *r->resume()) {
      if (p->node_id()->str() == options_.pair_id) resume = p->seq();
    }
  }
  if (Status st = reporting_->subscribe(&s.channel, e.client_id(), std::move(tenants), classes->interactions, classes->agents, resume); !st) {
    return refuse(s, e, static_cast<proto::ErrorCode>(st.error().code), st.error().text);
  }
  s.channel.send(wire::encode_ack(e.ref_id(), e.client_id()));
}

void NodeServer::apply_retention() {
  if (!primary_ || failed_) return;
  Transaction t;
  t.mutations.push_back(TrimEvents{now_us() - std::chrono::duration_cast<std::chrono::microseconds>(
                                                  pair().settings.event_log_retention).count()});
  store_->commit(std::move(t), nullptr);
  // Often enough that the log never holds much more than the retention asks for.
  const auto every = std::clamp<int64_t>(pair().settings.event_log_retention.count() / 10, 1000, 60'000);
  retention_timer_.start(static_cast<uint64_t>(every), [this] { apply_retention(); });
}

void NodeServer::register_metrics() {
  commits_failed_ = &metrics_.counter("ix_node_commits_failed_total", "Store commits that failed (the node then stops)");
  batch_size_ = &metrics_.histogram("ix_node_commit_batch_size", "Transactions per group commit",
                                    {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000});
  batch_seconds_ = &metrics_.histogram("ix_node_commit_seconds", "Duration of one group commit", metrics::latency_buckets_seconds());
  metrics_.gauge_function("ix_node_primary", "1 while this node holds its pair's lease", {}, [this] { return primary_ ? 1.0 : 0.0; });
  for (proto::InteractionState state : {proto::InteractionState::Queued, proto::InteractionState::Delivering,
                                        proto::InteractionState::Handling, proto::InteractionState::InWorkbin}) {
    metrics_.gauge_function("ix_node_interactions", "Open interactions held in memory, by state",
                            {{"state", proto::EnumNameInteractionState(state)}}, [this, state] {
                              auto counts = interactions_.count_by_state();
                              auto it = counts.find(static_cast<int>(state));
                              return it == counts.end() ? 0.0 : static_cast<double>(it->second);
                            });
  }
  metrics_.gauge_function("ix_node_event_log_seq", "Last committed reporting sequence number", {},
                          [this] { return reporting_ ? static_cast<double>(reporting_->last_committed_seq()) : 0.0; });
  metrics_.gauge_function("ix_node_reporting_subscribers", "Reporting clients subscribed", {},
                          [this] { return reporting_ ? static_cast<double>(reporting_->subscribers()) : 0.0; });
  metrics_.gauge_function("ix_node_sessions", "Client connections", {}, [this] { return static_cast<double>(sessions_.size()); });
  metrics_.gauge_function("ix_node_agents_logged_in", "Agents logged in on this node", {},
                          [this] { return static_cast<double>(agents_.logged_in()); });
  for (const config::Queue& q : config_->queues) {
    metrics_.gauge_function("ix_node_queue_depth", "Interactions waiting in a queue", {{"queue", q.id}},
                            [this, id = q.id] { return static_cast<double>(interactions_.queue_depth(id)); });
  }
  admin_.set_readiness([this] {
    if (failed_) return http::Readiness{false, "storage failure; shutting down"};
    if (!primary_) return http::Readiness{false, "backup of pair " + options_.pair_id + " (the other node holds the lease)"};
    return http::Readiness{};
  });
  admin_.set_status([this] {
    nlohmann::json queues = nlohmann::json::object();
    for (const auto& [name, depth] : interactions_.queue_depths()) queues[name] = depth;
    // Agents by state: ready on some media, not ready on any, or do-not-disturb.
    size_t ready = 0, not_ready = 0, dnd = 0;
    agents_.for_each([&](const AgentState& agent) {
      const bool any_ready = std::any_of(agent.media.begin(), agent.media.end(), [](const auto& m) { return m.second.ready; });
      if (agent.do_not_disturb) ++dnd;
      else if (any_ready) ++ready;
      else ++not_ready;
    });
    return nlohmann::json{{"pair", options_.pair_id},
                          {"role", role_name()},
                          {"interactions", interactions_.size()},
                          {"queues", queues},
                          {"sessions", sessions_.size()},
                          {"agents_logged_in", agents_.logged_in()},
                          {"agents", {{"ready", ready}, {"not_ready", not_ready}, {"dnd", dnd}}},
                          {"event_log_seq", reporting_ ? reporting_->last_committed_seq() : 0},
                          {"reporting_subscribers", reporting_ ? reporting_->subscribers() : 0}};
  });
}

}  // namespace ix::node
