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
// The worker remembers the agents logged in through it (to log them out when their desktop
// disconnects and to log them in again when a pair fails over) and runs the reporting stream
// (reporting_requests.cc). Nothing else is kept: any proxy can serve any client. Everything
// here runs on the worker's loop thread.
#pragma once

#include <uv.h>

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"
#include "protocol/net/listener.h"
#include "protocol/net/message_channel.h"
#include "protocol/net/timer.h"
#include "proxy/reporting/agent_event_dedupe.h"
#include "proxy/reporting/reporting_feed.h"
#include "proxy/reporting/reporting_merge.h"
#include "proxy/route/interaction_cache.h"
#include "proxy/route/pair_answer.h"
#include "proxy/route/pull_plan.h"
#include "proxy/route/routing_table.h"
#include "proxy/route/snapshot_cursor.h"
#include "proxy/route/submit_router.h"
#include "proxy/route/request_attributes.h"
#include "proxy/requests/agent_requests.h"
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
};

class ProxyWorker : private ReplySink {
 public:
  ProxyWorker(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, WorkerOptions options,
              metrics::Registry& metrics);
  ~ProxyWorker();

  Status start();
  // Stops accepting, logs out the agents of this worker's desktops, closes clients and links.
  void stop();
  // Applies a reloaded configuration: routing table, timeouts, pulls; endpoints need a restart.
  void reload(std::shared_ptr<const config::ClusterConfig> config);

  // Worker 0: streams from the pairs into the feed even without a reporting client (the pacing
  // module's ReportingFeed::start_stream() lands here). Idempotent.
  void start_stream();

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
  void reply_error(const Call& call, const Error& error) override;
  void send_to_session(uint64_t session_id, wire::Frame frame);
  void count(const Call& call, Outcome outcome);
  metrics::Counter& error_counter(int code);  // ix_proxy_errors_total{code}, looked up once per code

  // The merged reporting stream (reporting_requests.cc).
  struct ReportingClient {
    uint64_t client_id = 0;
    std::set<std::string> tenants;  // empty = every tenant
    bool interactions = true, agents = true;
    std::vector<uint64_t> floor;    // per pair: the client has every event up to this seq
    // Events not yet handed to the connection because the client has not read what it has;
    // more than reporting-buffer of them and the client is cut off.
    std::deque<std::shared_ptr<const std::vector<uint8_t>>> backlog;
  };
  // One merged stream: the worker's shared one (upstream client 0, every reporting client that
  // can join it live), or a client's own while it catches up from older resume positions
  // (subscribed on the same node links under the client's upstream client_id).
  struct ReportingState {
    ReportingState(size_t pairs, uv_loop_t* loop);
    ReportingMerge merge;
    AgentEventDedupe dedupe;
    std::map<uint64_t, ReportingClient> clients;  // by session
    net::Timer timer;                             // releases events held for a silent pair
    uint64_t upstream_client = 0;
    bool subscribed = false;                      // shared: from the first reporting client on
    std::vector<bool> resume;                     // per pair: subscribe with a resume position
  };
  // The start request for one pair of a stream, with its resume position if it has one.
  proto::RequestStartReportingT start_request(ReportingState& state, PairIndex pair);
  void subscribe_to_pair(ReportingState& state, PairIndex pair);
  // Worker 0, pacing configured: asks a pair for its state (EventReportingState) right after
  // (re)subscribing to its stream and hands it to the feed's consumers, so the pacing module
  // starts its counts from it. The answer comes on the pair's link before any later event.
  void request_pair_state(PairIndex pair);
  void on_reporting_event(PairIndex pair, const proto::Envelope& envelope, std::span<const uint8_t> payload);
  // Lets the merge release what it can: the shared stream's events go to the feed (worker 0),
  // a catching-up client's straight to it.
  void release_reporting(ReportingState& state);
  // Hands released events to the state's clients, as each one asked (tenants, classes, floor).
  void deliver_reporting(ReportingState& state, const std::vector<FeedEvent>& events);
  void schedule_reporting(ReportingState& state);
  // Worker 0: makes sure it streams from the pairs; done runs (on worker 0) once it does.
  void ensure_shared_stream(std::function<void(std::vector<PairAnswer>)> done);
  // Any worker: the feed has events for this worker's clients.
  void on_feed();
  // Hands a client what its connection can take; false when it was cut off as too slow.
  bool feed_reporting_client(uint64_t session_id, ReportingClient& client);
  void handle_start_reporting(const Call& call, const proto::Envelope& envelope);
  void handle_stop_reporting(const Call& call);
  // Ends a client's reporting: its own stream (if it had one) is unsubscribed on the nodes.
  void end_reporting(uint64_t session_id);

  void build_links();
  void update_upstream_gauges(PairIndex pair);
  uint64_t request_timeout_ms() const;

  uv_loop_t* loop_;
  std::shared_ptr<const config::ClusterConfig> config_;
  const config::Proxy* proxy_ = nullptr;
  WorkerOptions options_;
  metrics::Registry& metrics_;
  std::shared_ptr<const RoutingTable> table_;
  // Declared before the links: destroyed after them, so that requests the links fail on the way
  // out still find their handlers' state.
  ClientIdMap clients_;
  std::unique_ptr<PairCalls> calls_;          // over links_
  std::unique_ptr<RequestContext> requests_;  // the handlers' context (proxy/requests)
  std::unique_ptr<AgentRequests> agents_;     // and the agents logged in through this worker
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
  uint64_t next_session_ = 0;
  std::map<std::string, std::unique_ptr<PairLink>> links_by_id_;
  std::vector<PairLink*> links_;  // by PairIndex of table_ (read by calls_)
  std::unique_ptr<ReportingState> reporting_;
  std::vector<std::function<void(std::vector<PairAnswer>)>> shared_stream_waiters_;  // worker 0
  std::map<uint64_t, std::unique_ptr<ReportingState>> catching_up_;  // by upstream client
  bool stopping_ = false;

  // Metrics looked up once and kept: the registry's lookup takes a lock and builds label strings.
  std::unordered_map<int, std::array<metrics::Counter*, 3>> request_counters_;  // by message type, outcome
  std::unordered_map<int, metrics::Counter*> error_counters_;                     // by code
  std::array<metrics::Histogram*, kRouteKindCount> route_latency_{};              // by RouteKind
  metrics::Counter* reporting_events_;
  metrics::Gauge* sessions_gauge_;
};

}  // namespace ix::proxy
