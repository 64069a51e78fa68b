// RequestContext: what a request handler (proxy/requests/*) works with — the client request
// being served (Call), where its reply goes (ReplySink), how it asks the node pairs (PairCalls),
// the routing table, the client-ID map and the per-worker routing state (interaction cache,
// submit balance, pull order, snapshot cursors). The handlers are free functions over it, so
// they run the same in a ProxyWorker and in tests against fake pairs and a recording sink.
//
// Owned by a ProxyWorker (or a test); single-threaded on its loop. Handlers keep a pointer to
// it in their callbacks: it outlives every request in flight.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"
#include "protocol/wire/messages.h"
#include "proxy/route/interaction_cache.h"
#include "proxy/route/pair_answer.h"
#include "proxy/route/pull_plan.h"
#include "proxy/route/request_attributes.h"
#include "proxy/route/routing_table.h"
#include "proxy/route/snapshot_cursor.h"
#include "proxy/route/submit_router.h"
#include "proxy/server/client_id_map.h"
#include "proxy/server/outgoing.h"
#include "proxy/upstream/pair_calls.h"

namespace ix::proxy {

// One client request being served: where its reply goes.
struct Call {
  uint64_t session_id = 0;
  uint64_t ref_id = 0;
  uint64_t client_id = 0;
  proto::Message type = proto::Message::NONE;
  RouteKind route = RouteKind::kUnsupported;
  uint64_t started_ns = 0;
  uint64_t held_ns = 0;  // a pull's time waiting in its holding pass (uv_hrtime), not counted as latency
};

enum class Outcome { kOk, kRefused, kError };

// Where replies go: the worker sends them to the call's session (if it is still there) and
// counts them; a test records them.
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  virtual void reply(const Call& call, wire::Frame frame, Outcome outcome) = 0;
  virtual void reply_error(const Call& call, const Error& error) = 0;
  // A node's verified reply, re-addressed to the call's client. The worker writes it straight
  // into the client's connection, its ids rewritten in place (wire::write_in_place); by default
  // it is re-addressed into a frame of its own.
  virtual void reply_readdressed(const Call& call, std::span<const uint8_t> payload, Outcome outcome) {
    reply(call, wire::readdress_envelope(payload, call.ref_id, call.client_id), outcome);
  }

  void ack(const Call& call) { reply(call, wire::encode_ack(call.ref_id, call.client_id), Outcome::kOk); }
  template <class NativeMessage>
  void result(const Call& call, const NativeMessage& body) {
    reply(call, wire::encode_frame(call.ref_id, call.client_id, body), Outcome::kOk);
  }
  // A pair's answer as the reply, re-addressed to the client.
  void answer(const Call& call, const PairAnswer& answer);
};

// Options the handlers read (from the proxy's settings; replaced on reload).
struct RequestSettings {
  uint64_t request_timeout_ms = 10'000;
  std::chrono::milliseconds pull_hold_timeout{0};
  uint32_t reporting_buffer = 10'000;  // events waiting for a reporting client before it is cut off
};

class RequestContext {
 public:
  RequestContext(PairCalls& calls, ReplySink& replies, ClientIdMap& clients, std::shared_ptr<const RoutingTable> table,
                 RequestSettings settings, size_t cache_capacity, metrics::Registry& metrics,
                 std::function<uint64_t()> now_ms);

  PairCalls& calls;
  ReplySink& replies;
  ClientIdMap& clients;
  // The table a new request routes by; a request in flight keeps the one it started with.
  std::shared_ptr<const RoutingTable> table;
  RequestSettings settings;
  InteractionCache cache;
  SubmitRouter submit_router;
  PullPlanner pull_planner;
  // Cursors of the snapshots this worker pages, most recently used last (a bounded number):
  // the next page of a snapshot read in order continues where the previous one ended.
  std::deque<std::pair<std::string, std::unique_ptr<SnapshotCursor>>> snapshot_cursors;
  // Loop time in milliseconds (uv_now in a worker).
  std::function<uint64_t()> now_ms;
  // Looked up once: the registry's lookup takes a lock and builds label strings.
  metrics::Counter& cache_hits;
  metrics::Counter& cache_misses;
  metrics::Histogram& fan_out_width;
  metrics::Gauge& pulls_waiting;  // pulls in their holding pass (nothing found yet, the client waits)

  uint64_t upstream(const Call& call) { return clients.upstream(call.session_id, call.client_id); }
  // The owner of a client-supplied interaction ID, learnt from a pair's answer (a cluster
  // generated ID routes by its tag and is not cached).
  void remember_owner(const proto::InteractionInfo* info, PairIndex pair);
  // From an interaction's node_id (the pair that reported it).
  void remember_owner(const proto::InteractionInfoT& info);
  // The single-pair fast path: the node's answer goes straight back to the client, re-addressed;
  // inspect (if any) sees it first. Returns false, without sending, when the pair has no primary.
  using Inspect = std::function<void(const proto::Envelope& reply)>;
  bool forward(const Call& call, PairIndex pair, const Outgoing& request, Inspect inspect = nullptr);
};

}  // namespace ix::proxy
