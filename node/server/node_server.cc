#include "node/server/node_server.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <vector>

#include "cluster-config/proxy_secret.h"
#include "cluster-config/tls.h"
#include "node/store/store_factory.h"
#include "protocol/http/process_metrics.h"
#include "protocol/wire/frame_codec.h"
#include "protocol/log.h"
#include "protocol/wire/heard_role_ping.h"
#include "protocol/wire/kv.h"
#include "protocol/wire/message_table.h"

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
      lease_timer_(loop),
      step_down_timer_(loop),
      confirm_timer_(loop) {}

NodeServer::~NodeServer() {
  *alive_ = nullptr;
  stop();
}

LeaseTiming NodeServer::lease_timing() const {
  return LeaseTiming::from_timeout(static_cast<uint64_t>(pair().settings.lease_timeout.count()));
}

Status NodeServer::start() {
  if (Status s = InteractionService::check_views(*config_); !s) return s;
  const config::ServerEndpoint& endpoint = options_.preferred_primary ? pair().primary : pair().backup;
  net::ListenerOptions listener_options;
  if (pair().tls.enabled) {
    Result<std::shared_ptr<net::TlsContext>> tls = config::server_tls(pair().tls);
    if (!tls) return Error{tls.error().code, "node-pairs[" + options_.pair_id + "].tls: " + tls.error().text};
    listener_options.tls = *tls;
  }
  Result<std::string> proxy_secret = config::load_proxy_secret(*config_);
  if (!proxy_secret) return proxy_secret.error();
  proxy_auth_ = std::make_unique<ProxyAuthenticator>(std::move(proxy_secret.value()));
  // The store comes first: both nodes open it, the backup to compete for the lease in it.
  if (const std::string& db = pair().storage.sqlite_path; !db.empty()) {
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(db).parent_path(), ignored);
  }
  auto store = make_store(loop_, pair(), {options_.group_commit});
  if (!store) return store.error();
  store_ = std::move(store.value());
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  std::random_device random;
  const std::string holder = (options_.preferred_primary ? "primary@" : "backup@") + std::string(host) + ":" +
                             std::to_string(::getpid()) + ":" + std::to_string(random() % 100000);
  lease_ = std::make_unique<PairLease>(loop_, *store_, holder, lease_timing());
  lease_->set_on_lost([this](const std::string& why) {
    losses_->inc();
    step_down("the pair's lease was lost: " + why);
  });
  lease_->set_on_renewed([this] { renewals_->inc(); });

  auto listener = net::Listener::listen(loop_, {endpoint.host, endpoint.port}, listener_options,
                                        [this](std::shared_ptr<net::Connection> c) { on_accept(std::move(c)); });
  if (!listener) return listener.error();
  listener_ = std::move(listener.value());
  register_metrics();
  // Runs on the loop thread; the histograms live in the registry, which outlives the store.
  store_->set_batch_observer([size = batch_size_, seconds = batch_seconds_](size_t n, double s) {
    size->observe(static_cast<double>(n));
    seconds->observe(s);
  });
  admin_.http().route("POST", "/pair/switchover", [this](const http::HttpRequest&) { return start_switchover(); });
  admin_.http().route("POST", "/pair/expect-takeover", [this](const http::HttpRequest&) { return expect_takeover(); });
  if (Status s = admin_.listen({endpoint.host, endpoint.admin_port}); !s) return s;
  spdlog::info("event=listening port={} admin_port={} preferred_role={} holder={}",
               listener_->port(), admin_.port(), options_.preferred_primary ? "primary" : "backup", quote(holder));
  // The preferred backup gives the preferred primary the first chance when both start together.
  if (options_.preferred_primary) try_lease();
  else schedule_lease_try(lease_timing().ttl_ms);
  return {};
}

void NodeServer::stop() {
  lease_timer_.stop();
  step_down_timer_.stop();
  confirm_timer_.stop();
  if (listener_) listener_->close();
  listener_.reset();
  close_sessions("ixnode shutting down");
  // The service goes first: commits still in flight complete on a later loop turn, find it gone
  // and answer no one (the sessions are closed anyway). The release runs after them.
  const bool held = service_ != nullptr && lease_ && lease_->held();
  service_.reset();
  if (held) {
    lease_->release([epoch = lease_->epoch()](const Status& s) {
      if (s) spdlog::info("event=lease_released epoch={}", epoch);
      else spdlog::warn("event=lease_release_failed error={}", quote(s.error().text));
    });
  }
  if (store_) store_->close();
  lease_.reset();
  store_.reset();
  admin_.close();
}

Status NodeServer::reload(std::shared_ptr<const config::ClusterConfig> config) {
  Status s = config->node_pair(options_.pair_id) == nullptr
                 ? Status{Error{1, "node pair " + options_.pair_id + " is no longer in the configuration"}}
                 : service_ ? service_->reload(config) : InteractionService::check_views(*config);
  metrics::record_config_reload(registry_, static_cast<bool>(s));
  if (s) config_ = std::move(config);
  return s;
}

void NodeServer::schedule_lease_try(uint64_t delay_ms) {
  lease_timer_.start(delay_ms, [this] { try_lease(); });
}

void NodeServer::try_lease() {
  if (!lease_ || service_ || taking_over_) return;
  lease_->try_acquire([alive = std::weak_ptr<NodeServer*>(alive_)](Result<LeaseOutcome> outcome) {
    auto self_ptr = alive.lock();
    if (!self_ptr || !*self_ptr) return;
    NodeServer& self = **self_ptr;
    if (!self.lease_ || self.service_) return;
    const bool eager = uv_hrtime() < self.eager_until_ns_;
    const uint64_t retry_ms = eager ? 2 : self.lease_timing().try_ms;
    if (!outcome) {
      spdlog::warn("event=lease_try_failed error={}", quote(outcome.error().text));
      return self.schedule_lease_try(retry_ms);
    }
    if (!outcome->granted) {
      if (!self.said_standing_by_) {
        spdlog::info("event=standing_by detail={}", quote("a backup: serving nothing until it holds the pair's lease"));
        self.said_standing_by_ = true;
      }
      return self.schedule_lease_try(retry_ms);
    }
    self.eager_until_ns_ = 0;
    self.taking_over_ = true;
    // An empty commit under the new fence first: whatever this process queued in an earlier term
    // (a service dropped by a step-down) has then reached the store, or been refused by the
    // fence, before the state is loaded.
    self.store_->commit(Transaction{}, [alive = std::weak_ptr<NodeServer*>(self.alive_), won = *outcome](const Status& drained) {
      auto again = alive.lock();
      if (!again || !*again) return;
      NodeServer& node = **again;
      node.taking_over_ = false;
      if (!node.lease_ || node.service_) return;
      if (!drained) {
        spdlog::warn("event=takeover_failed error={}", quote(drained.error().text));
        return node.schedule_lease_try(node.lease_timing().try_ms);
      }
      if (!node.lease_->valid()) return node.schedule_lease_try(node.lease_timing().try_ms);
      if (Status s = node.become_primary(won); !s) {
        if (node.on_fatal_) node.on_fatal_("cannot become primary: " + s.error().text);
      }
    });
  });
}

Status NodeServer::become_primary(const LeaseOutcome& won) {
  auto service = std::make_unique<InteractionService>(loop_, config_, options_.pair_id, *store_, clock_, metrics_);
  if (Status s = service->load(); !s) return s;
  service->set_on_fatal([this](const std::string& why) {
    if (on_fatal_) on_fatal_(why);
  });
  for (auto& [connection, session] : sessions_) service->session_opened(*session);
  service_ = std::move(service);
  said_standing_by_ = false;  // said again when it is a backup once more
  takeovers_->inc();
  // How long the pair had no primary, at most: since the previous holder's last renewal (its
  // row's expiry minus the lease-timeout), or since it released the lease.
  const LeaseRecord& before = won.previous;
  const int64_t now_ms = clock_.now_us() / 1000;
  const bool released = before.holder.empty();
  const int64_t since_ms = released ? before.expires_ms : before.expires_ms - static_cast<int64_t>(lease_timing().ttl_ms);
  if (before.fencing == 0) {
    spdlog::info("event=primary epoch={} takeover=first", lease_->epoch());
  } else {
    spdlog::info("event=primary epoch={} takeover={} previous_holder={} previous_epoch={} no_primary_ms={}",
                 lease_->epoch(), released ? "released" : "expired",
                 quote(released ? std::string("(released)") : before.holder), before.fencing, std::max<int64_t>(0, now_ms - since_ms));
  }
  announce(proto::ServerRole::Primary);
  return {};
}

void NodeServer::announce(proto::ServerRole role) {
  proto::EventServerRoleChangedT changed;
  changed.node_id = options_.pair_id;
  changed.role = role;
  wire::Frame frame = wire::encode_frame(0, 0, changed);
  for (auto& [connection, session] : sessions_) {
    if (session->channel.registered()) session->channel.send(frame);
  }
}

bool NodeServer::may_answer() {
  if (!service_ || lease_->valid()) return true;
  if (!step_down_timer_.active()) {
    step_down_timer_.start(0, [this] {
      if (service_ && !lease_->valid()) step_down("the lease's serving window closed before this node could answer (a stall?)");
    });
  }
  return false;
}

void NodeServer::step_down(const std::string& why) {
  if (!service_) return;
  spdlog::warn("event=lease_lost epoch={} reason={}", lease_->epoch(), quote(why));
  service_.reset();
  handing_over_ = false;
  close_sessions("this node lost its pair's lease");
  schedule_lease_try(lease_timing().try_ms);
}

void NodeServer::close_sessions(const std::string& why) {
  unconfirmed_proxies_.clear();
  confirm_timer_.stop();
  for (auto& [connection, session] : sessions_) {
    session->connection->clear_callbacks();
    session->connection->close(why);
  }
  sessions_.clear();
}

http::HttpResponse NodeServer::start_switchover() {
  auto refuse = [this](const std::string& why) {
    return http::HttpResponse::json(409, nlohmann::json{{"pair", options_.pair_id}, {"error", why}}.dump());
  };
  if (!service_) return refuse("this node is the backup of pair " + options_.pair_id + "; ask the primary");
  if (handing_over_) return refuse("a switchover of pair " + options_.pair_id + " is already under way");
  if (service_->failed()) return refuse("this node is stopping after a storage failure");
  if (!lease_->valid()) return refuse("this node's lease is not valid");
  handing_over_ = true;
  drain_rounds_ = 0;
  switchovers_->inc();
  // Said first, so that proxies stop sending here and hold the pair's requests for the backup;
  // each pings back once it heard it.
  unconfirmed_proxies_.clear();
  for (const auto& [connection, session] : sessions_) {
    if (session->channel.registered() && session->channel.client_type() == proto::ClientType::Proxy) {
      unconfirmed_proxies_.insert(session.get());
    }
  }
  spdlog::info("event=switchover_started epoch={} proxies={}", lease_->epoch(), unconfirmed_proxies_.size());
  announce(proto::ServerRole::Backup);
  confirm_timer_.start(kProxyConfirmMs, [this] {
    if (unconfirmed_proxies_.empty()) return;
    spdlog::warn("event=switchover_unconfirmed proxies={} waited_ms={}", unconfirmed_proxies_.size(), kProxyConfirmMs);
    unconfirmed_proxies_.clear();
    if (handing_over_ && !draining_) drain_for_switchover();
  });
  drain_for_switchover();
  return http::HttpResponse::json(
      202, nlohmann::json{{"pair", options_.pair_id}, {"epoch", lease_->epoch()}, {"state", "handing over"}}.dump());
}

void NodeServer::proxy_confirmed(const Session& s) {
  if (!unconfirmed_proxies_.erase(&s) || !unconfirmed_proxies_.empty()) return;
  confirm_timer_.stop();
  // The last proxy caught up: a drain waiting for it runs again, for what it sent before its ping.
  if (handing_over_ && !draining_) drain_for_switchover();
}

void NodeServer::drain_for_switchover() {
  draining_ = true;
  served_while_draining_ = 0;
  // An empty commit: its completion follows every commit in flight, whose replies go out first.
  store_->commit(Transaction{}, [alive = std::weak_ptr<NodeServer*>(alive_)](const Status& drained) {
    auto self = alive.lock();
    if (self && *self) (*self)->finish_switchover(drained);
  });
}

void NodeServer::finish_switchover(const Status& drained) {
  draining_ = false;
  if (!service_ || !handing_over_) return;  // stepped down meanwhile
  if (!drained) {
    // The fence refused it: the lease was no longer ours.
    handing_over_ = false;
    return step_down("switchover: " + drained.error().text);
  }
  if (served_while_draining_ > 0) {
    // Requests sent before their sender heard the announcement were served meanwhile: drain
    // their commits too (after kMaxDrainRounds, what still comes is refused).
    ++drain_rounds_;
    return drain_for_switchover();
  }
  if (!unconfirmed_proxies_.empty()) return;  // proxy_confirmed() or the timer drains again
  confirm_timer_.stop();
  handing_over_ = false;
  const uint64_t epoch = lease_->epoch();
  // Nothing may commit after this point: the service goes before the release is queued.
  service_.reset();
  lease_->release([epoch](const Status& s) {
    if (s) spdlog::info("event=lease_released epoch={} reason=switchover", epoch);
    else spdlog::warn("event=lease_release_failed error={}", quote(s.error().text));
  });
  // Give the backup the lease: compete again only after a lease-timeout.
  schedule_lease_try(lease_timing().ttl_ms);
}

http::HttpResponse NodeServer::expect_takeover() {
  if (service_) {
    return http::HttpResponse::json(
        409, nlohmann::json{{"pair", options_.pair_id}, {"error", "this node is the primary of pair " + options_.pair_id}}.dump());
  }
  eager_until_ns_ = uv_hrtime() + 2 * lease_timing().ttl_ms * 1'000'000;
  spdlog::info("event=expecting_takeover for_ms={}", 2 * lease_timing().ttl_ms);
  if (!lease_timer_.active()) try_lease();  // a try in flight reschedules itself eagerly
  else schedule_lease_try(0);
  return http::HttpResponse::json(202, nlohmann::json{{"pair", options_.pair_id}, {"state", "trying the lease"}}.dump());
}

void NodeServer::on_accept(std::shared_ptr<net::Connection> connection) {
  net::ChannelOptions options;
  options.max_frame_size = pair().settings.max_frame_size;
  options.require_registration = true;
  auto session = std::make_unique<Session>(*this, connection, options);
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
  if (service_ && session->proxy) service_->proxy_session_closed(*session, *session->proxy);
  else if (service_) service_->session_closed(*session);
  proxy_confirmed(*session);
  sessions_.erase(session->connection.get());
}

bool NodeServer::adopt_proxy(Session& s, const ProxyIdentity& who) {
  std::vector<Session*> superseded;
  for (auto& [connection, other] : sessions_) {
    if (other.get() != &s && other->proxy && *other->proxy == who) superseded.push_back(other.get());
  }
  for (Session* other : superseded) {
    // Its close is then that of an ordinary client that owns nothing any more.
    other->proxy.reset();
    if (service_) service_->proxy_session_closed(*other, who);
    spdlog::info("event=proxy_session_superseded proxy={} instance={} peer={}", quote(who.name), quote(who.instance),
                 other->connection->peer());
    other->connection->close("superseded by a new registration of the same proxy worker");
  }
  return service_ && service_->proxy_registered(s, who);
}

void NodeServer::refuse(Session& s, const proto::Envelope& e, proto::ErrorCode code, std::string text) {
  metrics_.request_errors(code).inc();
  s.send_error(e.ref_id(), e.client_id(), code, std::move(text));
}

void NodeServer::Session::answered(std::span<const uint8_t> frame) {
  if (unanswered.empty() || frame.size() <= wire::kFrameHeaderSize) return;
  // Our own encoding: the envelope's ids and body are read without verifying it again.
  const proto::Envelope* e = proto::GetEnvelope(frame.data() + wire::kFrameHeaderSize);
  const proto::EventError* error = e->body_as_EventError();
  answered(e->ref_id(), e->client_id(), error ? static_cast<proto::ErrorCode>(error->code()) : proto::ErrorCode::None);
}

void NodeServer::Session::answered(uint64_t ref_id, uint64_t client_id, proto::ErrorCode code) {
  auto it = unanswered.find({client_id, ref_id});
  if (it == unanswered.end()) return;
  server.metrics_.requests(it->second, NodeMetrics::result_of(code)).inc();
  unanswered.erase(it);
}

void NodeServer::on_message(Session& s, const proto::Envelope& e) {
  // A primary whose lease's serving window has closed (it may just have woken from a stall)
  // says nothing at all, not even a pong; it steps down on the next turn.
  if (!may_answer()) return;
  const proto::Message type = e.body_type();
  s.received(e);
  if (type == proto::Message::RequestRegisterClient) return register_client(s, e);
  if (type == proto::Message::RequestPing) {
    proto::EventPongT pong;
    pong.server_time_us = clock_.now_us();
    s.send(wire::encode_frame(e.ref_id(), e.client_id(), pong));
    // A proxy's ping that says it heard the switchover's announcement (a probe's says nothing).
    if (wire::is_heard_backup_ping(e)) proxy_confirmed(s);
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
  if (handing_over_) {
    // Sent before the sender heard that this node hands over: served (and drained) while the
    // hand-over's first rounds last, refused after (the drain must end).
    if (drain_rounds_ >= kMaxDrainRounds) {
      return refuse(s, e, proto::ErrorCode::NotPrimary,
                    "this node of pair " + options_.pair_id + " is handing the pair over to its backup; retry there");
    }
    ++served_while_draining_;
  }
  if (type == proto::Message::RequestLease) {
    const proto::RequestLease* lease = e.body_as_RequestLease();
    if (lease && lease->name() && lease->name()->str() == kPairLeaseName) {
      return refuse(s, e, proto::ErrorCode::InvalidAttribute,
                    std::string("the lease name \"") + kPairLeaseName + "\" is reserved for the node pair's own leadership");
    }
  }
  service_->handle(s, e);
}

void NodeServer::register_client(Session& s, const proto::Envelope& e) {
  const proto::RequestRegisterClient* request = e.body_as_RequestRegisterClient();
  if (request->client_type() == proto::ClientType::Proxy) {
    ProxyCredentials offered;
    offered.tls = s.connection->is_tls();
    offered.certificate_names = s.connection->peer_certificate_names();
    if (std::optional<std::string_view> secret = wire::kv_string(e.extension(), wire::kProxySecretKey)) {
      offered.secret = *secret;
    }
    ProxyAuthResult auth = proxy_auth_->authenticate(*config_, offered);
    const std::string name = request->client_name() ? request->client_name()->str() : "";
    if (auth.refused) {
      // The channel took the registration as done; the connection goes, so nothing sent on it
      // after this frame is ever read as a proxy's.
      metrics_.proxy_refusals(*auth.refused).inc();
      spdlog::warn("event=proxy_refused reason={} peer={} client_name={} text={}", proxy_refusal_name(*auth.refused),
                   s.connection->peer(), quote(name), quote(auth.text));
      s.send_error(e.ref_id(), e.client_id(), proto::ErrorCode::RequestNotAllowed,
                           "registration as a proxy refused by node pair " + options_.pair_id + ": " + auth.text);
      s.connection->close("not an authenticated proxy: " + std::string(proxy_refusal_name(*auth.refused)));
      return;
    }
    ProxyIdentity who{name, std::string(wire::kv_string(e.extension(), wire::kProxyInstanceKey).value_or("")), auth.proxy_id};
    // Without an instance token a reconnection cannot be told from another client of the same
    // name: such a proxy's session is closed as any other's, at once.
    bool reattached = false;
    if (!who.instance.empty()) {
      s.proxy = who;
      reattached = adopt_proxy(s, who);
    }
    spdlog::info("event=proxy_registered peer={} client_name={} instance={} via={} reattached={}", s.connection->peer(),
                 quote(name), quote(who.instance), quote(auth.text), reattached);
  }
  proto::EventClientRegisteredT registered;
  registered.server_name = "ixnode " + options_.pair_id + " (" + role_name() + ")";
  registered.node_id = options_.pair_id;
  registered.role = is_primary() && !handing_over_ ? proto::ServerRole::Primary : proto::ServerRole::Backup;
  registered.protocol_version = wire::kProtocolVersion;
  s.send(wire::encode_frame(e.ref_id(), e.client_id(), registered));
}

void NodeServer::register_metrics() {
  // Every series names its pair and which configured endpoint this process serves ("primary" or
  // "backup"); the role it holds now is ix_node_primary / ix_node_role.
  registry_.set_const_labels({{"pair", options_.pair_id}, {"node", options_.preferred_primary ? "primary" : "backup"}});
  batch_size_ = &registry_.histogram("ix_node_commit_batch_size", "Transactions per group commit",
                                     {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000});
  batch_seconds_ = &registry_.histogram("ix_node_commit_seconds", "Duration of one group commit", metrics::latency_buckets_seconds());
  registry_.gauge_function("ix_node_primary", "1 while this node holds its pair's lease", {}, [this] { return is_primary() ? 1.0 : 0.0; });
  registry_.gauge_function("ix_node_lease_epoch", "The pair's lease epoch this node holds or last held (0: never)", {},
                           [this] { return lease_ ? static_cast<double>(lease_->epoch()) : 0.0; });
  takeovers_ = &registry_.counter("ix_node_lease_takeovers_total", "Terms of the pair's lease this node won and served");
  renewals_ = &registry_.counter("ix_node_lease_renewals_total", "Renewals of the pair's lease confirmed by the store");
  losses_ = &registry_.counter("ix_node_lease_losses_total",
                               "Terms of the pair's lease that ended without a release (a stall, a slow store, a takeover)");
  switchovers_ = &registry_.counter("ix_node_switchovers_total", "Planned switchovers this node handed over");
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
  // Open interactions against the pair's max-live-interactions: a submit is refused (312) once
  // the first reaches the second.
  registry_.gauge_function("ix_node_live_interactions", "Open interactions held in memory (every state)", {},
                           [this] { return service_ ? static_cast<double>(service_->interactions().size()) : 0.0; });
  registry_.gauge_function("ix_node_max_live_interactions",
                           "The pair's max-live-interactions: submits beyond it are refused with 312 InteractionLimitReached", {},
                           [this] { return static_cast<double>(pair().settings.max_live_interactions); });
  registry_.gauge_function("ix_node_event_log_seq", "Last committed reporting sequence number", {},
                           [this] { return service_ ? static_cast<double>(service_->reporting().last_committed_seq()) : 0.0; });
  registry_.gauge_function("ix_node_reporting_subscribers", "Reporting clients subscribed", {},
                           [this] { return service_ ? static_cast<double>(service_->reporting().subscribers()) : 0.0; });
  registry_.gauge_function("ix_node_sessions", "Client connections", {}, [this] { return static_cast<double>(sessions_.size()); });
  registry_.gauge_function("ix_node_proxy_sessions_held",
                           "Closed proxy sessions whose agents, locks and snapshots are held for proxy-session-grace now", {},
                           [this] { return service_ ? static_cast<double>(service_->held_proxy_sessions()) : 0.0; });
  registry_.gauge_function("ix_node_agents_logged_in", "Agents logged in on this node", {},
                           [this] { return service_ ? static_cast<double>(service_->agents().logged_in()) : 0.0; });
  using AgentStates = InteractionService::AgentStates;
  for (auto [state, field] : {std::pair{"ready", &AgentStates::ready}, std::pair{"busy", &AgentStates::busy},
                              std::pair{"not_ready", &AgentStates::not_ready}, std::pair{"dnd", &AgentStates::dnd}}) {
    registry_.gauge_function("ix_node_agents",
                             "Agents logged in on this node by state: busy (an interaction in hand), else do-not-disturb, "
                             "ready on some media, or not ready on any",
                             {{"state", state}}, [this, field] { return service_ ? static_cast<double>(service_->agent_states().*field) : 0.0; });
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
    if (lease_) {
      status["lease"] = {{"holder", lease_->holder()}, {"epoch", lease_->epoch()}, {"valid", lease_->valid()},
                         {"handing_over", handing_over_}, {"renewals", lease_->renewals()}, {"losses", lease_->losses()}};
    }
    if (service_) status.update(service_->status());
    else status.update(InteractionService::empty_status());
    return status;
  });
}

}  // namespace ix::node
