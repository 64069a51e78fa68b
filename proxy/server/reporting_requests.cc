// ProxyWorker: the merged reporting stream (DESIGN.md §7). From the proxy's first reporting
// client on, worker 0 subscribes once to every pair's stream on its node links (re-subscribing
// from the last seq it saw when a pair's primary comes back or its backup takes over, so the
// stream stays gap-free; a proxy without reporting clients does not pay for the stream), merges
// the streams (proxy/reporting/reporting_merge.h), passes one copy of each agent change
// (agent_event_dedupe.h) and publishes the result on the ReportingFeed; every worker feeds its
// own reporting clients from there. The nodes see one subscription per proxy.
//
// A client that resumes from positions the shared stream has already passed (it reconnected,
// here or to another proxy) gets its own stream instead: the same merge, subscribed on the same
// node links under its upstream client_id with its resume positions, so the nodes replay what
// it missed from their event logs and then continue live.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "protocol/log.h"
#include "proxy/server/proxy_worker.h"

namespace ix::proxy {

namespace {

// How long the merge waits for a silent pair before it lets an event go.
constexpr int64_t kMaxMergeDelayUs = 50'000;
// How long copies of one agent change are looked for on the other pairs.
constexpr int64_t kAgentDedupeWindowUs = 10'000'000;
// A client's events go to its connection while less than this is queued there; beyond, they
// wait in the client's backlog (bounded by reporting-buffer).
constexpr size_t kConnectionQueueBytes = 1 << 20;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ProxyWorker::ReportingState::ReportingState(size_t pairs, uv_loop_t* loop)
    : merge(pairs, kMaxMergeDelayUs), dedupe(kAgentDedupeWindowUs), timer(loop), resume(pairs, false) {}

proto::RequestStartReportingT ProxyWorker::start_request(ReportingState& state, PairIndex pair) {
  proto::RequestStartReportingT start;
  // Resume where the stream left off (a client's own stream: from the client's position); a
  // shared stream that has seen nothing yet starts live.
  const uint64_t seen = state.merge.seen_seq(pair);
  if (seen > 0 || state.resume[pair]) {
    auto position = std::make_unique<proto::ResumePositionT>();
    position->node_id = table_->pair_id(pair);
    position->seq = seen;
    start.resume.push_back(std::move(position));
    state.resume[pair] = true;
  }
  return start;
}

void ProxyWorker::subscribe_to_pair(ReportingState& state, PairIndex pair) {
  calls_->ask(pair, Outgoing::of(start_request(state, pair)), state.upstream_client, [this, pair](PairAnswer answer) {
    if (answer.kind == PairAnswer::Kind::kReply) return;
    spdlog::error("event=reporting_subscribe_failed pair={} error={}", table_->pair_id(pair), quote(answer.error.text));
  });
  if (&state == reporting_.get()) request_pair_state(pair);
}

void ProxyWorker::request_pair_state(PairIndex pair) {
  if (!config_->pacing) return;
  proto::RequestReportingStateT request;
  request.tenant_ids.push_back(config_->pacing->tenant);
  request.condition = config_->pacing->proactive_filter;
  calls_->ask(pair, Outgoing::of(request), 0, [this, pair](PairAnswer answer) {
    const proto::Envelope* envelope = answer.envelope();
    if (answer.kind != PairAnswer::Kind::kReply || envelope->body_type() != proto::Message::EventReportingState) {
      spdlog::error("event=pacing_state_failed pair={} error={}", table_->pair_id(pair), quote(answer.error.text));
      return;
    }
    options_.feed->publish_state({pair, envelope->body_as_EventReportingState()->seq(), answer.payload, "", false});
  });
}

void ProxyWorker::on_reporting_event(PairIndex pair, const proto::Envelope& envelope, std::span<const uint8_t> payload) {
  ReportingState* state = reporting_.get();
  if (envelope.client_id() != 0) {
    auto it = catching_up_.find(envelope.client_id());
    if (it == catching_up_.end()) return;  // a stream that just ended
    state = it->second.get();
  }
  const proto::ReportingHeader* header = wire::reporting_header(envelope);
  MergedEvent event{pair, header->seq(), header->timestamp_us(),
                    std::make_shared<const std::vector<uint8_t>>(payload.begin(), payload.end())};
  if (!state->merge.push(std::move(event))) return;  // replayed after a resume: already had it
  release_reporting(*state);
}

void ProxyWorker::release_reporting(ReportingState& state) {
  const int64_t now = now_us();
  std::vector<FeedEvent> released;
  for (MergedEvent& event : state.merge.release(now)) {
    const proto::Envelope* envelope = proto::GetEnvelope(event.payload->data());
    const proto::ReportingHeader* header = wire::reporting_header(*envelope);
    std::string tenant = header->tenant_id() ? header->tenant_id()->str() : "";
    const std::optional<std::string> agent_key = agent_event_key(*envelope);
    if (agent_key && !state.dedupe.pass(*agent_key, event.node, table_->pairs_for_tenant(tenant).size(), now)) continue;
    released.push_back({event.node, event.seq, std::move(event.payload), std::move(tenant), agent_key.has_value()});
    reporting_events_->inc();
  }
  if (&state == reporting_.get()) {
    if (!released.empty()) options_.feed->publish(std::move(released));  // every worker's clients, this one's too
  } else {
    deliver_reporting(state, released);
  }
  schedule_reporting(state);
}

void ProxyWorker::deliver_reporting(ReportingState& state, const std::vector<FeedEvent>& events) {
  for (const FeedEvent& event : events) {
    for (auto it = state.clients.begin(); it != state.clients.end();) {
      ReportingClient& client = it->second;
      const bool wanted = (client.tenants.empty() || client.tenants.contains(event.tenant)) &&
                          (event.agent ? client.agents : client.interactions) && event.pair < client.floor.size() &&
                          event.seq > client.floor[event.pair];
      if (wanted) client.backlog.push_back(event.payload);
      it = !wanted || feed_reporting_client(it->first, client) ? std::next(it) : state.clients.erase(it);
    }
  }
  schedule_reporting(state);
}

void ProxyWorker::schedule_reporting(ReportingState& state) {
  const bool backlog =
      std::any_of(state.clients.begin(), state.clients.end(), [](const auto& c) { return !c.second.backlog.empty(); });
  if ((state.merge.waiting() > 0 || backlog) && !state.timer.active()) {
    // Again soon: for events held for a silent pair, and for clients with a backlog.
    state.timer.start(backlog ? 10 : kMaxMergeDelayUs / 1000 + 1, [this, &state] {
      for (auto it = state.clients.begin(); it != state.clients.end();) {
        it = feed_reporting_client(it->first, it->second) ? std::next(it) : state.clients.erase(it);
      }
      release_reporting(state);
    });
  }
}

void ProxyWorker::on_feed() {
  if (stopping_) return;
  if (std::optional<std::string> why = options_.feed->worker_cut_off(options_.index)) {
    // This worker fell behind the merged stream and its queue was dropped (ReportingFeed's
    // bound): its shared-stream clients missed events, so they are cut off like slow clients
    // and resume from their positions.
    for (auto& [session_id, client] : reporting_->clients) {
      auto session = sessions_.find(session_id);
      if (session == sessions_.end()) continue;
      session->second->channel.send_error(0, client.client_id, proto::ErrorCode::ClusterLostConnection, *why + "; disconnecting");
      session->second->channel.connection().close("reporting feed cut off");
    }
    reporting_->clients.clear();
  }
  deliver_reporting(*reporting_, options_.feed->take(options_.index));
}

void ProxyWorker::ensure_shared_stream(std::function<void(std::vector<PairAnswer>)> done) {
  if (options_.feed->subscribed()) return done({});
  shared_stream_waiters_.push_back(std::move(done));
  if (reporting_->subscribed) return;  // the subscription is on its way
  reporting_->subscribed = true;
  const PairSet pairs = calls_->reachable_pairs();
  calls_->ask_all(pairs, Outgoing::of(proto::RequestStartReportingT{}), 0, [this](std::vector<PairAnswer> answers) {
    options_.feed->set_subscribed();
    auto waiters = std::move(shared_stream_waiters_);
    shared_stream_waiters_.clear();
    for (auto& waiter : waiters) waiter(answers);
  });
  for (PairIndex pair : pairs) request_pair_state(pair);
}

void ProxyWorker::start_stream() {
  if (stopping_) return;
  ensure_shared_stream([](std::vector<PairAnswer> answers) {
    for (const PairAnswer& a : answers) {
      if (a.kind != PairAnswer::Kind::kReply) spdlog::error("event=reporting_subscribe_failed pair_index={} error={}", a.pair, quote(a.error.text));
    }
  });
}

bool ProxyWorker::feed_reporting_client(uint64_t session_id, ReportingClient& client) {
  auto session = sessions_.find(session_id);
  if (session == sessions_.end()) return false;
  net::MessageChannel& channel = session->second->channel;
  while (!client.backlog.empty() && channel.connection().queued_bytes() < kConnectionQueueBytes) {
    channel.send(wire::readdress_envelope(*client.backlog.front(), 0, client.client_id));
    client.backlog.pop_front();
  }
  if (client.backlog.size() <= proxy_->settings.reporting_buffer) return true;
  spdlog::warn("event=reporting_client_too_slow session={} backlog={}", session_id, client.backlog.size());
  channel.send_error(0, client.client_id, proto::ErrorCode::ClusterLostConnection,
                     "reporting client too slow: more than " + std::to_string(proxy_->settings.reporting_buffer) +
                         " events waiting for it to read; disconnecting");
  channel.connection().close("reporting client too slow");
  metrics_.counter("ix_proxy_reporting_clients_dropped_total", "Reporting clients disconnected for reading too slowly").inc();
  return false;
}

void ProxyWorker::handle_start_reporting(const Call& call, const proto::Envelope& envelope) {
  const proto::RequestStartReporting* r = envelope.body_as_RequestStartReporting();
  end_reporting(call.session_id);  // a new start replaces the session's subscription
  ReportingClient client;
  client.client_id = call.client_id;
  client.floor.assign(table_->pair_count(), 0);
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) client.tenants.insert(t->str());
  }
  Result<wire::ReportingClasses> classes = wire::reporting_classes(*r);
  if (!classes) return reply_error(call, classes.error());
  client.interactions = classes->interactions;
  client.agents = classes->agents;
  std::vector<bool> positioned(table_->pair_count(), false);
  if (r->resume()) {
    for (const proto::ResumePosition* p : *r->resume()) {
      std::optional<PairIndex> pair = table_->index_of(p->node_id()->string_view());
      if (!pair) {
        return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute,
                                                  "RequestStartReporting.resume names node \"" + p->node_id()->str() +
                                                      "\", which is not a node pair of this cluster"));
      }
      client.floor[*pair] = p->seq();
      positioned[*pair] = true;
    }
  }
  // Listening before reading the feed's positions: whatever is published from here on reaches
  // this worker, so a client that joins live misses nothing between the check and the join.
  const int me = options_.index;
  options_.feed->listen(me, [post = options_.post, me] { post(me, [](ProxyWorker& w) { w.on_feed(); }); });
  bool behind = false;  // the shared stream has passed (or never carried) something the client lacks
  for (PairIndex pair = 0; pair < positioned.size(); ++pair) {
    if (!positioned[pair]) continue;
    behind = behind || !options_.feed->subscribed() || client.floor[pair] < options_.feed->published_seq(pair);
  }

  const PairSet reachable = calls_->reachable_pairs();
  auto acknowledge = [this, call](std::vector<PairAnswer> answers, bool own_stream) {
    for (const PairAnswer& a : answers) {
      if (a.kind == PairAnswer::Kind::kReply) continue;
      if (own_stream && a.kind == PairAnswer::Kind::kRefused) {
        // A resume position the node cannot serve (ahead of its log, older than its retention).
        end_reporting(call.session_id);
        return reply_error(call, Error{a.error.code, "node pair " + table_->pair_id(a.pair) + " refused: " + a.error.text});
      }
      spdlog::error("event=reporting_subscribe_failed pair={} error={}", table_->pair_id(a.pair), quote(a.error.text));
    }
    ack(call);
  };

  if (behind) {
    // Its own stream: the nodes replay from the client's positions, then go on live.
    const uint64_t upstream = clients_.upstream(call.session_id, call.client_id);
    auto state = std::make_unique<ReportingState>(table_->pair_count(), loop_);
    state->upstream_client = upstream;
    state->subscribed = true;
    for (PairIndex pair = 0; pair < table_->pair_count(); ++pair) {
      if (!positioned[pair]) continue;
      state->merge.start_after(pair, client.floor[pair]);
      state->resume[pair] = true;
    }
    state->clients[call.session_id] = std::move(client);
    ReportingState& own = *state;
    catching_up_[upstream] = std::move(state);
    std::vector<std::pair<PairIndex, Outgoing>> starts;
    for (PairIndex pair : reachable) starts.emplace_back(pair, Outgoing::of(start_request(own, pair)));
    calls_->ask_each(std::move(starts), upstream, [acknowledge](std::vector<PairAnswer> answers) { acknowledge(std::move(answers), true); });
    return;
  }

  reporting_->clients[call.session_id] = std::move(client);
  if (options_.feed->subscribed()) return acknowledge({}, false);
  // The proxy's first reporting client: answer once the pairs stream to worker 0, so that
  // whatever happens after the answer is in the client's stream.
  options_.post(0, [post = options_.post, me, acknowledge](ProxyWorker& first) {
    first.ensure_shared_stream([post, me, acknowledge](std::vector<PairAnswer> answers) {
      post(me, [acknowledge, answers = std::move(answers)](ProxyWorker&) { acknowledge(answers, false); });
    });
  });
}

void ProxyWorker::handle_stop_reporting(const Call& call) {
  end_reporting(call.session_id);
  ack(call);
}

void ProxyWorker::end_reporting(uint64_t session_id) {
  reporting_->clients.erase(session_id);
  // A client's own stream ends with it (or already lost its client, cut off as too slow).
  for (auto it = catching_up_.begin(); it != catching_up_.end();) {
    if (!it->second->clients.empty() && !it->second->clients.contains(session_id)) {
      ++it;
      continue;
    }
    for (PairIndex pair = 0; pair < calls_->pair_count(); ++pair) {
      calls_->ask(pair, Outgoing::of(proto::RequestStopReportingT{}), it->first, [](PairAnswer) {});
    }
    it = catching_up_.erase(it);
  }
}

}  // namespace ix::proxy
