#include "proxy/server/proxy_worker.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "cluster-config/tls.h"
#include "protocol/log.h"
#include "protocol/random_token.h"
#include "protocol/wire/message_table.h"
#include "proxy/requests/by_id_request.h"
#include "proxy/requests/lease_request.h"
#include "proxy/requests/pull_request.h"
#include "proxy/requests/query_requests.h"
#include "proxy/requests/snapshot_requests.h"
#include "proxy/requests/submit_request.h"
#include "proxy/upstream/link_pair_calls.h"

namespace ix::proxy {

namespace {

// This process's instance token (12 hex digits), drawn once: every worker sends it when it
// registers with a node, which re-attaches a worker's held agents to a reconnection of the same
// instance only (node/server/proxy_session_holds.h).
const std::string& process_instance() {
  static const std::string token = random_token();
  return token;
}

// Cut-through toward the nodes (net::ConnectionOptions): a window of requests cut from one read
// leaves in pieces from 16 KiB, so the node starts on the first ones while this loop still works
// on the rest. Not toward clients: a client woken for each piece of its replies reads and sends in
// smaller batches, and the whole exchange slows (perf/RESULTS.md, 2026-12-03 session 8: without
// it on the client side, 1 x 200 in flight went from 0.68 to 0.75 of direct, CPU per request
// 0.72 -> 0.65 us).
constexpr size_t kCutThroughBytes = 16 * 1024;

}  // namespace

ProxyWorker::ProxyWorker(uv_loop_t* loop, std::shared_ptr<const RoutingTable> table, WorkerOptions options,
                         metrics::Registry& metrics)
    : loop_(loop),
      config_(table->config_ptr()),
      proxy_(config_->proxy(options.proxy_id)),
      options_(std::move(options)),
      metrics_(metrics),
      table_(std::move(table)),
      clock_(loop),
      sessions_gauge_(&metrics.gauge("ix_proxy_client_sessions", "Open client connections")) {
  declare_metrics();
  auto links = std::make_unique<LinkPairCalls>(loop_, links_, table_);
  ReplySink& replies = *this;
  requests_ = std::make_unique<RequestContext>(*links, replies, clients_, table_, request_settings(),
                                               proxy_->settings.interaction_cache_size, metrics_,
                                               [loop = loop_] { return uv_now(loop); });
  links->set_fan_out_metric(requests_->fan_out_width);
  agents_ = std::make_unique<AgentRequests>(*requests_, metrics_);
  ReportingOptions reporting;
  reporting.worker = options_.index;
  reporting.feed = options_.feed;
  reporting.post = [post = options_.post](int worker, std::function<void(ReportingRequests&)> fn) {
    post(worker, [fn = std::move(fn)](ProxyWorker& w) { fn(*w.reporting_); });
  };
  reporting.now_us = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  ReportingOutlet& outlet = *this;
  reporting_ = std::make_unique<ReportingRequests>(*requests_, outlet, std::move(reporting), loop_, metrics_);
  calls_ = std::move(links);
}

ProxyWorker::~ProxyWorker() { stop(); }

Status ProxyWorker::start() {
  net::ListenerOptions listen_options;
  listen_options.reuse_port = true;
  if (proxy_->tls.enabled) {
    Result<std::shared_ptr<net::TlsContext>> tls = config::server_tls(proxy_->tls);
    if (!tls) return tls.error();
    listen_options.tls = *tls;
  }
  auto listener = net::Listener::listen(loop_, net::Endpoint{proxy_->endpoint.host, proxy_->endpoint.port}, listen_options,
                                        [this](std::shared_ptr<net::Connection> c) { on_accept(std::move(c)); });
  if (!listener) return listener.error();
  listener_ = std::move(*listener);
  build_links();
  return {};
}

void ProxyWorker::stop() {
  if (stopping_) return;
  stopping_ = true;
  if (listener_) listener_->close();
  // Agents must not stay logged in on the nodes after the proxy that speaks for them is gone.
  std::vector<uint64_t> ids;
  for (auto& [id, session] : sessions_) ids.push_back(id);
  for (uint64_t id : ids) agents_->log_out_agents_of(id);
  for (auto& [id, session] : sessions_) {
    session->connection->clear_callbacks();
    session->connection->close("proxy shutting down");
  }
  sessions_gauge_->add(-static_cast<double>(sessions_.size()));
  sessions_.clear();
  reporting_->stop();
  // The logouts are queued on the links; a link closes gracefully, delivering queued output
  // first (bounded by the connection's linger).
  for (auto& [id, link] : links_by_id_) link->stop();
}

void ProxyWorker::reload(std::shared_ptr<const RoutingTable> table) {
  const PairChanges changes = pair_changes(*table_, *table);
  // Before anything routes by the new table: the removed pairs' links stop, and their requests
  // in flight are answered 2002 saying so (on the next turn, as every answer).
  for (PairIndex pair : changes.removed) retire_link(pair);
  config_ = table->config_ptr();
  proxy_ = config_->proxy(options_.proxy_id);
  table_ = std::move(table);
  requests_->table = table_;
  requests_->settings = request_settings();
  const size_t forgotten = requests_->cache.forget_pairs(changes.removed);
  build_links();
  reporting_->reload(changes);
  spdlog::info("event=worker_reloaded worker={} pairs={} added={} removed={} cache_forgotten={}", options_.index,
               table_->all_pairs().size(), quote(pair_names(*table_, changes.added)), quote(pair_names(*table_, changes.removed)),
               forgotten);
}

void ProxyWorker::retire_link(PairIndex pair) {
  const std::string& id = table_->pair_id(pair);
  auto it = links_by_id_.find(id);
  if (it == links_by_id_.end()) return;
  spdlog::info("event=pair_removed pair={} worker={}", id, options_.index);
  links_[pair] = nullptr;
  // Kept for two more turns: on the next it answers its requests in flight.
  it->second->stop("node pair " + id + " was removed from the configuration");
  calls_->defer([this, retired = std::shared_ptr<PairLink>(std::move(it->second))] { calls_->defer([retired] {}); });
  links_by_id_.erase(it);
  // Its series go with it (the proxy's failovers of the pair are worker 0's to remove).
  const std::string worker = std::to_string(options_.index);
  metrics_.remove("ix_proxy_pair_reachable", {{"pair", id}, {"worker", worker}});
  metrics_.remove(kUpstreamState, {{"pair", id}, {"worker", worker}});
  metrics_.remove(kUpstreamSeconds, {{"pair", id}, {"worker", worker}});
  if (options_.index == 0) metrics_.remove(kFailovers, {{"pair", id}});
}

uint64_t ProxyWorker::request_timeout_ms() const { return static_cast<uint64_t>(proxy_->settings.request_timeout.count()); }

RequestSettings ProxyWorker::request_settings() const {
  return RequestSettings{request_timeout_ms(), proxy_->settings.pull_hold_timeout, proxy_->settings.reporting_buffer};
}

void ProxyWorker::start_stream() {
  if (!stopping_) reporting_->start_stream();
}

void ProxyWorker::reseed_consumers() {
  if (!stopping_) reporting_->reseed_consumers();
}

void ProxyWorker::build_links() {
  NodeLinkOptions link_options;
  link_options.proxy_name = "ixproxy " + options_.proxy_id + " worker " + std::to_string(options_.index);
  link_options.proxy_secret = options_.proxy_secret;
  link_options.proxy_instance = process_instance();
  link_options.max_frame_size = proxy_->settings.max_frame_size;
  link_options.request_timeout_ms = request_timeout_ms();
  link_options.connector.connection.connect_timeout_ms = std::min<uint64_t>(request_timeout_ms(), 5000);
  link_options.connector.connection.flush_at_bytes = kCutThroughBytes;
  link_options.connector.max_backoff_ms = 2000;  // a returning node is used again within two seconds

  std::map<std::string, std::unique_ptr<PairLink>> kept;
  links_.assign(table_->slot_count(), nullptr);
  for (PairIndex i : table_->all_pairs()) {
    const config::NodePair& pair = table_->pair(i);
    auto existing = links_by_id_.find(pair.id);
    std::unique_ptr<PairLink> link;
    if (existing != links_by_id_.end()) {
      link = std::move(existing->second);
      link->set_request_timeout(request_timeout_ms());
    } else {
      NodeLinkOptions options = link_options;
      options.reply_seconds = &metrics_.histogram(
          kUpstreamSeconds, "Time from sending a request to a pair to its reply, per worker (a held pull's excluded)",
          metrics::latency_buckets_seconds(), {{"pair", pair.id}, {"worker", std::to_string(options_.index)}});
      options.clock = &clock_;
      if (pair.tls.enabled) {
        Result<std::shared_ptr<net::TlsContext>> tls = config::client_tls(pair.tls, proxy_->link_tls);
        if (!tls) {
          spdlog::error("event=pair_tls_failed pair={} error={}", pair.id, quote(tls.error().text));
        } else {
          options.connector.tls = *tls;
        }
      }
      link = std::make_unique<PairLink>(loop_, pair, options);
      link->start();
    }
    links_[i] = link.get();
    kept.emplace(pair.id, std::move(link));
  }
  links_by_id_ = std::move(kept);  // retire_link() took the removed pairs' links before
  // Callbacks capture the pair's slot, which names the same pair for the life of the process.
  for (PairIndex i : table_->all_pairs()) {
    links_[i]->set_on_node_state([this, i](const NodeLink& node, const char* endpoint) {
      metrics_.gauge(kUpstreamState, kUpstreamStateHelp, {{"pair", table_->pair_id(i)}, {"endpoint", endpoint}, {"worker", std::to_string(options_.index)}})
          .set(static_cast<double>(node.role()));
    });
    links_[i]->set_on_event([this, i](const proto::Envelope& e, std::span<const uint8_t> payload) { on_node_event(i, e, payload); });
    links_[i]->set_on_serving_changed([this, i](bool available, bool failover) {
      update_upstream_gauges(i);
      if (!available) return reporting_->pair_unavailable(i);
      // Every worker follows the pair's switch; one counts it for the proxy.
      if (failover && options_.index == 0) metrics_.counter(kFailovers, kFailoversHelp, {{"pair", table_->pair_id(i)}}).inc();
      agents_->log_in_again(i);
      reporting_->pair_available(i);
    });
    update_upstream_gauges(i);
    // Exported from the link's creation on (0: down until it registers), like the failovers.
    for (const char* endpoint : {"primary", "backup"}) {
      metrics_.gauge(kUpstreamState, kUpstreamStateHelp, {{"pair", table_->pair_id(i)}, {"endpoint", endpoint}, {"worker", std::to_string(options_.index)}});
    }
    metrics_.counter(kFailovers, kFailoversHelp, {{"pair", table_->pair_id(i)}});
  }
}

void ProxyWorker::update_upstream_gauges(PairIndex pair) {
  metrics_.gauge("ix_proxy_pair_reachable", "1 while the pair has a primary this worker can reach",
                 {{"pair", table_->pair_id(pair)}, {"worker", std::to_string(options_.index)}})
      .set(links_[pair]->reachable() ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Sessions.

void ProxyWorker::on_accept(std::shared_ptr<net::Connection> connection) {
  if (stopping_) {
    connection->close("proxy shutting down");
    return;
  }
  net::ChannelOptions channel_options;
  channel_options.max_frame_size = proxy_->settings.max_frame_size;
  channel_options.require_registration = true;
  const uint64_t id = ++next_session_;
  auto session = std::make_unique<Session>(id, connection, channel_options);
  Session* s = session.get();
  s->channel.set_on_message([this, s](const proto::Envelope& e) { on_client_message(*s, e); });
  s->channel.set_on_protocol_error([this](proto::ErrorCode code, const std::string&) {
    error_counter(static_cast<int>(code)).inc();
  });
  connection->set_on_close([this, id](const std::string&) { on_session_closed(id); });
  sessions_.emplace(id, std::move(session));
  sessions_gauge_->add(1);
  connection->start();
}

void ProxyWorker::on_session_closed(uint64_t session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  agents_->log_out_agents_of(session_id);
  reporting_->session_closed(session_id);
  clients_.forget_session(session_id);
  sessions_.erase(it);
  sessions_gauge_->add(-1);
}

void ProxyWorker::on_client_message(Session& session, const proto::Envelope& envelope) {
  const proto::Message type = envelope.body_type();
  if (type == proto::Message::RequestRegisterClient) return register_client(session, envelope);
  Call call{session.id, envelope.ref_id(), envelope.client_id(), type, RouteKind::kUnsupported, clock_.now_ns()};
  if (!wire::is_request(type)) {
    return reply_error(call, wire::make_error(proto::ErrorCode::RequestNotAllowed, wire::message_name(type) + " is an event, not a request"));
  }
  if (!wire::client_may_send(session.channel.client_type(), type)) {
    return reply_error(call, wire::make_error(proto::ErrorCode::RequestNotAllowed,
                                              std::string(proto::EnumNameClientType(session.channel.client_type())) +
                                                  " clients may not send " + wire::message_name(type)));
  }
  dispatch(call, envelope, Outgoing::borrow(session.channel.current_payload()));
}

void ProxyWorker::register_client(Session& session, const proto::Envelope& envelope) {
  const Call call{session.id, envelope.ref_id(), envelope.client_id(), envelope.body_type(), RouteKind::kUnsupported, clock_.now_ns()};
  const proto::ClientType type = session.channel.client_type();
  if (type == proto::ClientType::Proxy || type == proto::ClientType::Unknown) {
    reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute,
                                       std::string("RequestRegisterClient.client_type ") + proto::EnumNameClientType(type) +
                                           " cannot register with a proxy; use AgentApplication, MediaServer, "
                                           "RoutingEngine or ReportingEngine"));
    session.connection->close("invalid client type");
    return;
  }
  proto::EventClientRegisteredT registered;
  registered.server_name = "ixproxy " + options_.proxy_id;
  registered.node_id = options_.proxy_id;
  registered.role = proto::ServerRole::Primary;
  registered.protocol_version = wire::kProtocolVersion;
  send_to_session(call.session_id, wire::encode_frame(call.ref_id, call.client_id, registered));
  spdlog::debug("event=client_registered session={} type={} name={}", session.id, proto::EnumNameClientType(type),
                quote(session.channel.client_name()));
}

void ProxyWorker::dispatch(Call call, const proto::Envelope& envelope, Outgoing request) {
  call.route = route_kind(call.type);
  RequestContext& ctx = *requests_;
  switch (call.route) {
    case RouteKind::kSubmit:
      return handle_submit(ctx, call, envelope, std::move(request));
    case RouteKind::kByInteraction:
      return handle_by_interaction_id(ctx, call, envelope, std::move(request));
    case RouteKind::kAgent:
      return agents_->handle(call, envelope, std::move(request));
    case RouteKind::kPull:
      return handle_pull(ctx, call, envelope, std::move(request));
    case RouteKind::kWorkbinListen:
      return agents_->handle_workbin_subscribe(call, envelope, request);
    case RouteKind::kReporting:
      if (call.type == proto::Message::RequestStartReporting) return reporting_->handle_start(call, envelope);
      return reporting_->handle_stop(call);
    case RouteKind::kQuery:
      if (call.type == proto::Message::RequestFind) return handle_find(ctx, call, envelope, request);
      return handle_workbin_content(ctx, call, envelope, request);
    case RouteKind::kSnapshot:
      if (call.type == proto::Message::RequestTakeSnapshot) return handle_take_snapshot(ctx, call, envelope, request);
      if (call.type == proto::Message::RequestSnapshotPage) return handle_snapshot_page(ctx, call, envelope);
      return handle_release_snapshot(ctx, call, envelope);
    case RouteKind::kLease:
      return handle_lease(ctx, call, envelope, std::move(request));
    case RouteKind::kUnsupported:
      return reply_error(call, wire::make_error(proto::ErrorCode::ClusterUnsupportedOperation,
                                                wire::message_name(call.type) + " is not supported by the proxy" +
                                                    (call.type == proto::Message::RequestPing ? "; monitor the nodes directly" : "")));
  }
}

void ProxyWorker::on_node_event(PairIndex pair, const proto::Envelope& envelope, std::span<const uint8_t> payload) {
  if (wire::reporting_header(envelope)) return reporting_->on_event(pair, envelope, payload);
  std::optional<ClientIdMap::Downstream> client = clients_.downstream(envelope.client_id());
  if (!client) return;  // its session is gone
  auto session = sessions_.find(client->session_id);
  if (session == sessions_.end()) return;
  if (const proto::EventInvite* invite = envelope.body_as_EventInvite()) requests_->remember_owner(invite->interaction(), pair);
  session->second->channel.send(wire::readdress_envelope(payload, 0, client->client_id));
}

// ---------------------------------------------------------------------------------------------
// Replies.

void ProxyWorker::send_to_session(uint64_t session_id, wire::Frame frame) {
  auto session = sessions_.find(session_id);
  if (session != sessions_.end()) session->second->channel.send(std::move(frame));
}

void ProxyWorker::reply(const Call& call, wire::Frame frame, Outcome outcome) {
  send_to_session(call.session_id, std::move(frame));
  count(call, outcome);
}

void ProxyWorker::reply_readdressed(const Call& call, std::span<const uint8_t> payload, Outcome outcome) {
  auto session = sessions_.find(call.session_id);
  if (session != sessions_.end()) session->second->channel.send_readdressed_in_place(payload, call.ref_id, call.client_id);
  count(call, outcome);
}

void ProxyWorker::reply_error(const Call& call, const Error& error) {
  send_to_session(call.session_id, wire::encode_error(call.ref_id, call.client_id, error));
  error_counter(error.code).inc();
  count(call, Outcome::kError);
  if (error.code >= 2000) spdlog::info("event=cluster_error code={} request={} text={}", error.code, wire::message_name(call.type), quote(error.text));
}

std::optional<size_t> ProxyWorker::queued_bytes(uint64_t session_id) {
  auto session = sessions_.find(session_id);
  if (session == sessions_.end()) return std::nullopt;
  return session->second->channel.connection().queued_bytes();
}

void ProxyWorker::send(uint64_t session_id, wire::Frame frame) { send_to_session(session_id, std::move(frame)); }

void ProxyWorker::when_drained(uint64_t session_id, std::function<void()> fn) {
  auto session = sessions_.find(session_id);
  if (session != sessions_.end()) session->second->channel.connection().when_drained(std::move(fn));
}

void ProxyWorker::cut_off(uint64_t session_id, wire::Frame error, const std::string& reason) {
  auto session = sessions_.find(session_id);
  if (session == sessions_.end()) return;
  session->second->channel.send(std::move(error));
  session->second->channel.connection().close(reason);
}

metrics::Counter& ProxyWorker::error_counter(int code) {
  metrics::Counter*& errors = error_counters_[code];
  if (!errors) errors = &metrics_.counter(kErrors, kErrorsHelp, {{"code", std::to_string(code)}});
  return *errors;
}

void ProxyWorker::count(const Call& call, Outcome outcome) {
  static_assert(sizeof(proto::Message) == 1, "request_counters_ has a row per message type");
  static constexpr const char* kOutcomes[] = {"ok", "refused", "error"};
  const size_t o = static_cast<size_t>(outcome);
  std::array<metrics::Counter*, 3>& counters = request_counters_[static_cast<uint8_t>(call.type)];
  if (!counters[o]) {
    counters[o] = &metrics_.counter(kRequests, kRequestsHelp,
                                    {{"request", wire::message_name(call.type)}, {"route", route_name(call.route)}, {"result", kOutcomes[o]}});
  }
  counters[o]->inc();
  metrics::Histogram*& latency = route_latency_[static_cast<size_t>(call.route)];
  if (!latency) latency = &route_latency(call.route);
  // A pull's time held waiting for work is its own series, so that the latency is the proxy's.
  const uint64_t elapsed = clock_.now_ns() - call.started_ns;
  latency->observe(static_cast<double>(elapsed - std::min(elapsed, call.held_ns)) / 1e9);
  if (call.route == RouteKind::kPull) pull_hold_->observe(static_cast<double>(call.held_ns) / 1e9);
}

metrics::Histogram& ProxyWorker::route_latency(RouteKind route) {
  return metrics_.histogram(kRequestSeconds, kRequestSecondsHelp, metrics::latency_buckets_seconds(), {{"route", route_name(route)}});
}

void ProxyWorker::declare_metrics() {
  // Every series whose labels are known in advance exists at 0 from start-up (the pairs' series
  // are declared as their links are made, in build_links).
  std::vector<std::string> codes;
  for (proto::ErrorCode code : proto::EnumValuesErrorCode()) {
    if (code != proto::ErrorCode::None) codes.push_back(std::to_string(static_cast<int>(code)));
  }
  metrics_.declare_counters(kErrors, kErrorsHelp, {{"code", codes}});
  for (proto::Message type : proto::EnumValuesMessage()) {
    if (!wire::is_request(type) || type == proto::Message::RequestRegisterClient) continue;
    metrics_.declare_counters(kRequests, kRequestsHelp, {{"result", {"ok", "refused", "error"}}},
                              {{"request", wire::message_name(type)}, {"route", route_name(route_kind(type))}});
  }
  for (size_t r = 0; r < kRouteKindCount; ++r) route_latency(static_cast<RouteKind>(r));
  pull_hold_ = &metrics_.histogram("ix_proxy_pull_hold_seconds",
                                   "Time a pull was held waiting for work (up to its hold time); not part of ix_proxy_request_seconds",
                                   metrics::latency_buckets_seconds());
}

// ---------------------------------------------------------------------------------------------
// Operations.

nlohmann::json ProxyWorker::status() {
  nlohmann::json pairs = nlohmann::json::array();
  for (PairIndex i : table_->all_pairs()) pairs.push_back(links_[i]->status());
  return {{"worker", options_.index},
          {"sessions", sessions_.size()},
          {"agents", agents_->logged_in()},
          {"interaction_cache", {{"size", requests_->cache.size()}, {"capacity", requests_->cache.capacity()}, {"hits", requests_->cache.hits()}, {"misses", requests_->cache.misses()}}},
          {"pairs", pairs}};
}

std::vector<std::string> ProxyWorker::unserved_media() {
  std::vector<std::string> out;
  for (const config::MediaType& media : config_->media_types) {
    if (!media.enabled) continue;
    bool listed = false, served = false;
    for (PairIndex i : table_->all_pairs()) {
      if (!table_->pair(i).serves_media(media.name)) continue;
      listed = true;
      served = served || links_[i]->reachable();
    }
    if (listed && !served) out.push_back(media.name);
  }
  return out;
}

}  // namespace ix::proxy
