// ReportingRequests: the proxy's reporting subscriptions (RequestStartReporting,
// RequestStopReporting) and the merged reporting stream behind them (DESIGN.md §7).
//
// From the proxy's first reporting client on, worker 0 subscribes once to every pair's stream
// (re-subscribing from the last seq it saw when a pair's primary comes back or its backup takes
// over, so the stream stays gap-free; a proxy without reporting clients does not pay for it),
// merges the streams (proxy/reporting/reporting_merge.h), passes one copy of each agent change
// (agent_event_dedupe.h) and publishes the result on the ReportingFeed; every worker's
// ReportingRequests feeds its own clients from there. The nodes see one subscription per proxy.
//
// A client that resumes from positions the shared stream has already passed (it reconnected,
// here or to another proxy) gets its own stream instead: the same merge, subscribed on the same
// pairs under its upstream client_id with its resume positions, so the nodes replay what it
// missed from their event logs and then continue live.
//
// Like the other handlers it works over a RequestContext (the pairs through PairCalls, the
// routing table, the client-ID map, the reply sink); events go to a client's session through a
// ReportingOutlet. A ProxyWorker owns one and is its outlet; tests give it fake pairs and a
// recording outlet. Single-threaded on the worker's loop; other workers are reached only
// through ReportingOptions::post.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "protocol/http/metrics.h"
#include "protocol/net/timer.h"
#include "proxy/reporting/agent_event_dedupe.h"
#include "proxy/reporting/reporting_feed.h"
#include "proxy/reporting/reporting_merge.h"
#include "proxy/requests/request_context.h"

namespace ix::proxy {

class ReportingRequests;

// Where a reporting client's events go: its session's connection.
class ReportingOutlet {
 public:
  virtual ~ReportingOutlet() = default;
  // Bytes queued on the session's connection, or nothing when the session is gone.
  virtual std::optional<size_t> queued_bytes(uint64_t session_id) = 0;
  // Sends bytes holding one or more complete frames.
  virtual void send(uint64_t session_id, wire::Frame frames) = 0;
  // Runs fn once, when everything queued on the session's connection has been handed to the
  // socket (nothing when the session is gone): a client whose backlog waits is refilled then.
  virtual void when_drained(uint64_t session_id, std::function<void()> fn) = 0;
  // Sends the client the error, then closes its session's connection.
  virtual void cut_off(uint64_t session_id, wire::Frame error, const std::string& reason) = 0;
};

struct ReportingOptions {
  int worker = 0;  // this worker's index; worker 0 holds the shared stream
  std::shared_ptr<ReportingFeed> feed;
  // Runs fn on a worker's loop with that worker's ReportingRequests (the ProxyServer posts).
  std::function<void(int worker, std::function<void(ReportingRequests&)> fn)> post;
  // Wall-clock time in microseconds: events are merged by the time the nodes stamped on them.
  std::function<int64_t()> now_us;
};

class ReportingRequests {
 public:
  ReportingRequests(RequestContext& ctx, ReportingOutlet& outlet, ReportingOptions options, uv_loop_t* loop,
                    metrics::Registry& metrics);
  ReportingRequests(const ReportingRequests&) = delete;
  ReportingRequests& operator=(const ReportingRequests&) = delete;

  void handle_start(const Call& call, const proto::Envelope& envelope);
  void handle_stop(const Call& call);
  // A reporting event from a pair (on the shared stream, or a client's own by its client_id).
  void on_event(PairIndex pair, const proto::Envelope& envelope, std::span<const uint8_t> payload);
  // The pair has a (new) primary: the streams resume there from the last seq each has seen.
  void pair_available(PairIndex pair);
  // The pair lost its primary: its part of the shared stream stopped, which worker 0 tells the
  // feed's consumers (the pacing module's statistics of that pair are stale until it is back).
  void pair_unavailable(PairIndex pair);
  // After a reload (the context's table replaced, the links rebuilt), with what it changed in
  // the pairs. The streams go on (positions by pair slot, so the pairs that stay have neither
  // gap nor duplicate): a removed pair's events already received are released and nothing more
  // comes from it; an added pair joins each stream when it becomes reachable (pair_available),
  // from the start of its event log, so its events appear from its first one.
  void reload(const PairChanges& changes);
  // Worker 0: streams from the pairs into the feed even without a reporting client (the pacing
  // module's ReportingFeed::start_stream() lands here). Idempotent.
  void start_stream();
  // Worker 0: a consumer rejoined the feed after it was cut off (ReportingFeed::rejoin_consumer):
  // every reachable pair's state is asked for again and published to the consumers, and every
  // other pair is published as stopped, so the consumer rebuilds its counts from there.
  void reseed_consumers();
  // The session closed: its subscription ends (its own stream is unsubscribed on the nodes).
  void session_closed(uint64_t session_id);
  // The worker stops: clients and streams are dropped, nothing is sent any more.
  void stop();

 private:
  struct Client {
    uint64_t client_id = 0;
    std::set<std::string> tenants;  // empty = every tenant
    bool interactions = true, agents = true;
    std::vector<uint64_t> floor;  // per pair: the client has every event up to this seq
    // Events not yet handed to the connection because the client has not read what it has;
    // more than reporting-buffer of them and the client is cut off.
    std::deque<std::shared_ptr<const std::vector<uint8_t>>> backlog;
  };
  // One merged stream: the worker's shared one (upstream client 0, every client that can join
  // it live), or a client's own while it catches up from older resume positions.
  struct Stream {
    Stream(size_t pairs, uv_loop_t* loop);
    // A reload: slots up to `slots`, the removed pairs retired, the added ones joining from the
    // start of their logs.
    void apply(const PairChanges& changes, size_t slots);
    ReportingMerge merge;
    AgentEventDedupe dedupe;
    std::map<uint64_t, Client> clients;  // by session
    net::Timer timer;                    // releases events held for a silent pair
    uint64_t upstream_client = 0;
    bool subscribed = false;             // shared: from the first reporting client on
    std::vector<bool> resume;            // per pair: subscribe with a resume position
  };

  const RoutingTable& table() const { return *ctx_.table; }
  // The start request for one pair of a stream, with its resume position if it has one.
  proto::RequestStartReportingT start_request(Stream& stream, PairIndex pair);
  void subscribe_to_pair(Stream& stream, PairIndex pair);
  // Worker 0, pacing configured: asks a pair for its state (EventReportingState) right after
  // (re)subscribing to its stream and hands it to the feed's consumers, so the pacing module
  // starts its counts from it. The answer comes on the pair's link before any later event.
  void request_pair_state(PairIndex pair);
  // Worker 0: publishes every pair not in `reachable` as stopped, for the feed's consumers.
  void tell_consumers_unreachable(const PairSet& reachable);
  // Lets the merge release what it can: the shared stream's events go to the feed (worker 0),
  // a catching-up client's straight to it.
  void release(Stream& stream);
  // Hands released events to the stream's clients, as each one asked (tenants, classes, floor).
  void deliver(Stream& stream, const std::vector<FeedEvent>& events);
  void schedule(Stream& stream);
  // Worker 0: makes sure it streams from the pairs; done runs (on worker 0) once it does.
  void ensure_shared_stream(std::function<void(std::vector<PairAnswer>)> done);
  // The feed has events for this worker's clients.
  void on_feed();
  // Hands a client what its connection can take, as one batch of frames; what waits is handed
  // on when the connection drains. False when it was cut off as too slow.
  bool feed_client(uint64_t session_id, Client& client);
  // The connections of these sessions drained: their clients' backlogs go on (next loop turn).
  void on_drained(uint64_t session_id);
  void refill();

  RequestContext& ctx_;
  ReportingOutlet& outlet_;
  ReportingOptions options_;
  uv_loop_t* loop_;
  std::unique_ptr<Stream> shared_;
  std::map<uint64_t, std::unique_ptr<Stream>> catching_up_;  // by upstream client
  std::vector<std::function<void(std::vector<PairAnswer>)>> shared_stream_waiters_;  // worker 0
  bool stopped_ = false;
  std::set<uint64_t> drained_;   // sessions whose connection drained since the last refill
  std::set<uint64_t> awaiting_;  // sessions with a when_drained callback outstanding
  net::Timer refill_timer_;
  // Outlives this object in the drain callbacks the connections hold.
  std::shared_ptr<ReportingRequests*> self_ = std::make_shared<ReportingRequests*>(this);
  metrics::Counter& events_;   // ix_proxy_reporting_events_total
  metrics::Counter& dropped_;  // ix_proxy_reporting_clients_dropped_total
};

}  // namespace ix::proxy
