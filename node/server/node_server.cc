#include "node/server/node_server.h"

#include <algorithm>
#include <filesystem>

#include "cluster-config/tls.h"
#include "node/store/store_factory.h"
#include "protocol/http/process_metrics.h"
#include "protocol/log.h"
#include "protocol/wire/client_policy.h"

namespace ix::node {

namespace {

std::string client_type_name(proto::ClientType t) { return proto::EnumNameClientType(t); }

}  // namespace

NodeServer::NodeServer(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, NodeOptions options)
    : loop_(loop),
      config_(std::move(config)),
      options_(std::move(options)),
      admin_(loop, registry_, "ixnode"),
      metrics_(registry_),
      clock_(loop),
      lease_timer_(loop) {}

NodeServer::~NodeServer() { stop(); }

Status NodeServer::start() {
  if (Status s = InteractionService::check_views(*config_); !s) return s;
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
  if (listener_) listener_->close();
  listener_.reset();
  for (auto& [connection, session] : sessions_) {
    session->connection->clear_callbacks();
    session->connection->close("ixnode shutting down");
  }
  sessions_.clear();
  // The service goes first: commits still in flight complete on a later loop turn, find it gone
  // and answer no one (the sessions are closed anyway).
  service_.reset();
  if (store_) store_->close();
  store_.reset();
  lease_.release();
  admin_.close();
}

void NodeServer::reload(std::shared_ptr<const config::ClusterConfig> config) {
  if (config->node_pair(options_.pair_id) == nullptr) {
    spdlog::error("event=reload_refused reason={}", quote("node pair " + options_.pair_id + " is no longer in the configuration"));
    metrics::record_config_reload(registry_, false);
    return;
  }
  if (Status s = service_ ? service_->reload(config) : InteractionService::check_views(*config); !s) {
    spdlog::error("event=reload_refused reason={}", quote(s.error().text));
    metrics::record_config_reload(registry_, false);
    return;
  }
  metrics::record_config_reload(registry_, true);
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
  // Runs on the loop thread; the histograms live in the registry, which outlives the store.
  store_->set_batch_observer([size = batch_size_, seconds = batch_seconds_](size_t n, double s) {
    size->observe(static_cast<double>(n));
    seconds->observe(s);
  });
  auto service = std::make_unique<InteractionService>(loop_, config_, options_.pair_id, *store_, clock_, metrics_);
  if (Status s = service->load(); !s) return s;
  service->set_on_fatal([this](const std::string& why) {
    if (on_fatal_) on_fatal_(why);
  });
  for (auto& [connection, session] : sessions_) service->session_opened(*session);
  service_ = std::move(service);
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
    metrics_.protocol_errors(code).inc();
    spdlog::warn("event=protocol_error code={} text={}", static_cast<int>(code), quote(text));
  });
  connection->set_on_close([this, raw](const std::string&) { on_session_closed(raw); });
  sessions_.emplace(connection.get(), std::move(session));
  if (service_) service_->session_opened(*raw);
  connection->start();
}

void NodeServer::on_session_closed(Session* session) {
  if (service_) service_->session_closed(*session);
  sessions_.erase(session->connection.get());
}

void NodeServer::refuse(Session& s, const proto::Envelope& e, proto::ErrorCode code, std::string text) {
  metrics_.request_errors(code).inc();
  s.channel.send_error(e.ref_id(), e.client_id(), code, std::move(text));
}

void NodeServer::on_message(Session& s, const proto::Envelope& e) {
  const proto::Message type = e.body_type();
  metrics_.requests(type).inc();
  if (type == proto::Message::RequestRegisterClient) {
    proto::EventClientRegisteredT registered;
    registered.server_name = "ixnode " + options_.pair_id + " (" + role_name() + ")";
    registered.node_id = options_.pair_id;
    registered.role = is_primary() ? proto::ServerRole::Primary : proto::ServerRole::Backup;
    registered.protocol_version = wire::kProtocolVersion;
    s.channel.send(wire::encode_frame(e.ref_id(), e.client_id(), registered));
    return;
  }
  if (type == proto::Message::RequestPing) {
    proto::EventPongT pong;
    pong.server_time_us = clock_.now_us();
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
  if (!service_) {
    return refuse(s, e, proto::ErrorCode::NotPrimary,
                  "this node of pair " + options_.pair_id + " is the backup; send requests to the primary");
  }
  service_->handle(s, e);
}

void NodeServer::register_metrics() {
  // Every series names its pair and which configured endpoint this process serves ("primary" or
  // "backup"); the role it holds now is ix_node_primary / ix_node_role.
  registry_.set_const_labels({{"pair", options_.pair_id}, {"node", options_.preferred_primary ? "primary" : "backup"}});
  batch_size_ = &registry_.histogram("ix_node_commit_batch_size", "Transactions per group commit",
                                     {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000});
  batch_seconds_ = &registry_.histogram("ix_node_commit_seconds", "Duration of one group commit", metrics::latency_buckets_seconds());
  registry_.gauge_function("ix_node_primary", "1 while this node holds its pair's lease", {}, [this] { return is_primary() ? 1.0 : 0.0; });
  for (const char* role : {"primary", "backup"}) {
    registry_.gauge_function("ix_node_role", "1 for the role this node holds now (primary: it holds the pair's lease)",
                             {{"role", role}}, [this, role] { return role_name() == role ? 1.0 : 0.0; });
  }
  for (proto::InteractionState state : {proto::InteractionState::Queued, proto::InteractionState::Delivering,
                                        proto::InteractionState::Handling, proto::InteractionState::InWorkbin}) {
    registry_.gauge_function("ix_node_interactions", "Open interactions held in memory, by state",
                             {{"state", proto::EnumNameInteractionState(state)}}, [this, state] {
                               if (!service_) return 0.0;
                               auto counts = service_->interactions().count_by_state();
                               auto it = counts.find(static_cast<int>(state));
                               return it == counts.end() ? 0.0 : static_cast<double>(it->second);
                             });
  }
  registry_.gauge_function("ix_node_event_log_seq", "Last committed reporting sequence number", {},
                           [this] { return service_ ? static_cast<double>(service_->reporting().last_committed_seq()) : 0.0; });
  registry_.gauge_function("ix_node_reporting_subscribers", "Reporting clients subscribed", {},
                           [this] { return service_ ? static_cast<double>(service_->reporting().subscribers()) : 0.0; });
  registry_.gauge_function("ix_node_sessions", "Client connections", {}, [this] { return static_cast<double>(sessions_.size()); });
  registry_.gauge_function("ix_node_agents_logged_in", "Agents logged in on this node", {},
                           [this] { return service_ ? static_cast<double>(service_->agents().logged_in()) : 0.0; });
  for (const char* state : {"ready", "not_ready", "dnd"}) {
    registry_.gauge_function(
        "ix_node_agents", "Agents logged in on this node by state: ready on some media, not ready on any, or do-not-disturb",
        {{"state", state}}, [this, state = std::string(state)] {
          if (!service_) return 0.0;
          double n = 0;
          service_->agents().for_each([&](const AgentState& agent) {
            const bool any_ready = std::any_of(agent.media.begin(), agent.media.end(), [](const auto& m) { return m.second.ready; });
            const char* in = agent.do_not_disturb ? "dnd" : any_ready ? "ready" : "not_ready";
            n += state == in ? 1 : 0;
          });
          return n;
        });
  }
  for (const config::Queue& q : config_->queues) {
    registry_.gauge_function("ix_node_queue_depth", "Interactions waiting in a queue", {{"queue", q.id}}, [this, id = q.id] {
      return service_ ? static_cast<double>(service_->interactions().queue_depth(id)) : 0.0;
    });
  }
  admin_.set_readiness([this] {
    if (service_ && service_->failed()) return http::Readiness{false, "storage failure; shutting down"};
    if (!service_) return http::Readiness{false, "backup of pair " + options_.pair_id + " (the other node holds the lease)"};
    return http::Readiness{};
  });
  admin_.set_status([this] {
    nlohmann::json status{{"pair", options_.pair_id}, {"role", role_name()}, {"sessions", sessions_.size()}};
    if (service_) status.update(service_->status());
    else status.update(InteractionService::empty_status());
    return status;
  });
}

}  // namespace ix::node
