// ProxyWorker: one event loop of ixproxy — it accepts clients on the proxy's port (every worker
// listens on the same port; the kernel spreads connections), keeps its own link to every node
// of every pair, and routes each client request (DESIGN.md §5):
//
//   session ─► dispatch ─► handler (proxy/requests) ─► PairCalls ─► PairLink/NodeLink ─► node
//      ▲                                                                                  │
//      └──────────── ReplySink: reply re-addressed to the client's ref_id ◄───────────────┘
//
// The handlers are free functions over a RequestContext (proxy/requests/request_context.h);
// the worker owns it and is its ReplySink. Clients' client_ids are rewritten toward the nodes
// (ClientIdMap), so agent sessions multiplexed on one desktop connection stay separate on the
// nodes and node-initiated events (invitations, revocations, workbin changes) find their way back.
//
// The worker is the shell: sessions, links, dispatch and replies. What it keeps beyond them
// lives in parts over the same RequestContext — AgentRequests (the agents logged in through
// it, logged out when their desktop disconnects and in again when a pair fails over) and
// ReportingRequests (the reporting subscriptions and the merged stream; the worker is its
// ReportingOutlet). Nothing else is kept: any proxy can serve any client. Everything here runs
// on the worker's loop thread.
#pragma once

#include <uv.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"
#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/timer.h"
#include "protocol/net/turn_clock.h"
#include "proxy/reporting/reporting_feed.h"
#include "proxy/route/pair_answer.h"
#include "proxy/route/routing_table.h"
#include "proxy/requests/agent_requests.h"
#include "proxy/requests/reporting_requests.h"
#include "proxy/requests/request_context.h"
#include "proxy/server/client_id_map.h"
#include "proxy/server/outgoing.h"
#include "proxy/upstream/pair_calls.h"
#include "proxy/upstream/pair_link.h"

namespace ix::proxy {

class ProxyWorker;

struct WorkerOptions {
  std::string proxy_id;
  int index = 0;
  // The proxy's one reporting stream (worker 0 merges, every worker delivers), and how a
  // worker runs something on another worker's loop (ProxyServer provides both).
  std::shared_ptr<ReportingFeed> feed;
  std::function<void(int worker, std::function<void(ProxyWorker&)>)> post;
  // The [proxy-auth] secret sent when registering with a node (empty: none), read at start.
  std::string proxy_secret;
};

class ProxyWorker : private ReplySink, private ReportingOutlet {
 public:
  // table: the proxy's routing table (one for every worker, so that a PairIndex means the same
  // pair on all of them and in the reporting feed).
  ProxyWorker(uv_loop_t* loop, std::shared_ptr<const RoutingTable> table, WorkerOptions options, metrics::Registry& metrics);
  ~ProxyWorker();

  Status start();
  // Stops accepting, logs out the agents of this worker's desktops, closes clients and links.
  void stop();
  // Applies a reloaded configuration (the table built from the previous one): routing, timeouts,
  // pulls; a pair's endpoints need a restart. A removed pair's links stop first (their requests
  // in flight get 2002 naming the removal), its cache entries and series go; an added pair's
  // links start after the swap, and its agents and reporting streams follow once it is reachable.
  // The table's configuration names this worker's proxy (the server checks that first).
  void reload(std::shared_ptr<const RoutingTable> table);

  // Worker 0: streams from the pairs into the feed even without a reporting client (the pacing
  // module's ReportingFeed::start_stream() lands here). Idempotent.
  void start_stream();
  // Worker 0: a feed consumer rejoined after it was cut off; the pairs' states seed it again.
  void reseed_consumers();

  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  // The handlers' context (its pair links, routing table): requests the proxy makes itself.
  RequestContext& requests() { return *requests_; }
  nlohmann::json status();
  // Media types (enabled, with at least one pair listing them) that no reachable pair serves.
  std::vector<std::string> unserved_media();

 private:
  // One client connection and the protocol on it.
  struct Session {
    uint64_t id;
    std::shared_ptr<net::Connection> connection;
    net::MessageChannel channel;
    Session(uint64_t i, std::shared_ptr<net::Connection> c, net::ChannelOptions o) : id(i), connection(c), channel(c, o) {}
  };

  void on_accept(std::shared_ptr<net::Connection> connection);
  void on_session_closed(uint64_t session_id);
  void on_client_message(Session& session, const proto::Envelope& envelope);
  void register_client(Session& session, const proto::Envelope& envelope);
  void dispatch(Call call, const proto::Envelope& envelope, Outgoing request);
  void on_node_event(PairIndex pair, const proto::Envelope& envelope, std::span<const uint8_t> payload);

  // Replies (ReplySink): to the call's session if it is still there, counted by outcome.
  void reply(const Call& call, wire::Frame frame, Outcome outcome) override;
  void reply_readdressed(const Call& call, std::span<const uint8_t> payload, Outcome outcome) override;
  void reply_error(const Call& call, const Error& error) override;
  void send_to_session(uint64_t session_id, wire::Frame frame);
  void count(const Call& call, Outcome outcome);
  metrics::Counter& error_counter(int code);  // ix_proxy_errors_total{code}, looked up once per code
  metrics::Histogram& route_latency(RouteKind route);  // ix_proxy_request_seconds{route}
  void declare_metrics();

  // Names and help texts of the series registered in more than one place.
  static constexpr const char* kErrors = "ix_proxy_errors_total";
  static constexpr const char* kErrorsHelp = "Errors answered to clients, by code";
  static constexpr const char* kRequests = "ix_proxy_requests_total";
  static constexpr const char* kRequestsHelp = "Client requests, by type, route and result";
  static constexpr const char* kRequestSeconds = "ix_proxy_request_seconds";
  static constexpr const char* kRequestSecondsHelp = "Time from a client request to its reply, by route (a pull's time held excluded)";
  static constexpr const char* kFailovers = "ix_proxy_failovers_total";
  static constexpr const char* kFailoversHelp = "Times a pair's backup took over, as this proxy saw it";
  static constexpr const char* kUpstreamState = "ix_proxy_upstream_state";
  static constexpr const char* kUpstreamStateHelp = "A node link's state: 0 down, 1 registering, 2 primary, 3 backup";
  static constexpr const char* kUpstreamSeconds = "ix_proxy_upstream_seconds";

  // Reporting clients' sessions (ReportingOutlet).
  std::optional<size_t> queued_bytes(uint64_t session_id) override;
  void send(uint64_t session_id, wire::Frame frame) override;
  void cut_off(uint64_t session_id, wire::Frame error, const std::string& reason) override;
  void when_drained(uint64_t session_id, std::function<void()> fn) override;

  void build_links();
  // A reload removed the pair: its links stop and are destroyed two turns later.
  void retire_link(PairIndex pair);
  void update_upstream_gauges(PairIndex pair);
  uint64_t request_timeout_ms() const;
  // What the handlers read from the proxy's settings.
  RequestSettings request_settings() const;

  uv_loop_t* loop_;
  std::shared_ptr<const config::ClusterConfig> config_;
  const config::Proxy* proxy_ = nullptr;
  WorkerOptions options_;
  metrics::Registry& metrics_;
  std::shared_ptr<const RoutingTable> table_;
  net::TurnClock clock_;  // stamps requests and their replies (the links hold it: declared before them)
  // Declared before the links: destroyed after them, so that requests the links fail on the way
  // out still find their handlers' state.
  ClientIdMap clients_;
  std::unique_ptr<PairCalls> calls_;          // over links_
  std::unique_ptr<RequestContext> requests_;  // the handlers' context (proxy/requests)
  std::unique_ptr<AgentRequests> agents_;     // and the agents logged in through this worker
  std::unique_ptr<ReportingRequests> reporting_;  // and the reporting subscriptions
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
  uint64_t next_session_ = 0;
  std::map<std::string, std::unique_ptr<PairLink>> links_by_id_;
  std::vector<PairLink*> links_;  // by PairIndex (slot) of table_, null for a removed pair (read by calls_)
  bool stopping_ = false;

  // Metrics looked up once and kept: the registry's lookup takes a lock and builds label strings.
  std::array<std::array<metrics::Counter*, 3>, 256> request_counters_{};  // by message type (a uint8_t), outcome
  std::unordered_map<int, metrics::Counter*> error_counters_;                     // by code
  std::array<metrics::Histogram*, kRouteKindCount> route_latency_{};              // by RouteKind
  metrics::Gauge* sessions_gauge_;
  metrics::Histogram* pull_hold_ = nullptr;  // ix_proxy_pull_hold_seconds
};

}  // namespace ix::proxy
