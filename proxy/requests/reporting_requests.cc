#include "proxy/requests/reporting_requests.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/log.h"

namespace ix::proxy {

namespace {

// How long the merge waits for a silent pair before it lets an event go.
constexpr int64_t kMaxMergeDelayUs = 50'000;
// How long copies of one agent change are looked for on the other pairs.
constexpr int64_t kAgentDedupeWindowUs = 10'000'000;
// A client's events go to its connection while less than this is queued there; beyond, they
// wait in the client's backlog (bounded by reporting-buffer).
constexpr size_t kConnectionQueueBytes = 1 << 20;

}  // namespace

ReportingRequests::Stream::Stream(size_t pairs, uv_loop_t* loop)
    : merge(pairs, kMaxMergeDelayUs), dedupe(kAgentDedupeWindowUs), timer(loop), resume(pairs, false) {}

ReportingRequests::ReportingRequests(RequestContext& ctx, ReportingOutlet& outlet, ReportingOptions options, uv_loop_t* loop,
                                     metrics::Registry& metrics)
    : ctx_(ctx),
      outlet_(outlet),
      options_(std::move(options)),
      loop_(loop),
      shared_(std::make_unique<Stream>(ctx.table->pair_count(), loop)),
      events_(metrics.counter("ix_proxy_reporting_events_total", "Events in the merged reporting stream")),
      dropped_(metrics.counter("ix_proxy_reporting_clients_dropped_total",
                               "Reporting clients disconnected for reading too slowly")) {}

proto::RequestStartReportingT ReportingRequests::start_request(Stream& stream, PairIndex pair) {
  proto::RequestStartReportingT start;
  // Resume where the stream left off (a client's own stream: from the client's position); a
  // shared stream that has seen nothing yet starts live.
  const uint64_t seen = stream.merge.seen_seq(pair);
  if (seen > 0 || stream.resume[pair]) {
    auto position = std::make_unique<proto::ResumePositionT>();
    position->node_id = table().pair_id(pair);
    position->seq = seen;
    start.resume.push_back(std::move(position));
    stream.resume[pair] = true;
  }
  return start;
}

void ReportingRequests::subscribe_to_pair(Stream& stream, PairIndex pair) {
  ctx_.calls.ask(pair, Outgoing::of(start_request(stream, pair)), stream.upstream_client, [this, pair](PairAnswer answer) {
    if (answer.kind == PairAnswer::Kind::kReply) return;
    spdlog::error("event=reporting_subscribe_failed pair={} error={}", table().pair_id(pair), quote(answer.error.text));
  });
  if (&stream == shared_.get()) request_pair_state(pair);
}

void ReportingRequests::request_pair_state(PairIndex pair) {
  const config::ClusterConfig& config = table().config();
  if (!config.pacing) return;
  proto::RequestReportingStateT request;
  request.tenant_ids.push_back(config.pacing->tenant);
  request.condition = config.pacing->proactive_filter;
  ctx_.calls.ask(pair, Outgoing::of(request), 0, [this, pair](PairAnswer answer) {
    const proto::Envelope* envelope = answer.envelope();
    if (answer.kind != PairAnswer::Kind::kReply || envelope->body_type() != proto::Message::EventReportingState) {
      spdlog::error("event=pacing_state_failed pair={} error={}", table().pair_id(pair), quote(answer.error.text));
      return;
    }
    options_.feed->publish_state({pair, envelope->body_as_EventReportingState()->seq(), answer.payload, "", false});
  });
}

void ReportingRequests::on_event(PairIndex pair, const proto::Envelope& envelope, std::span<const uint8_t> payload) {
  Stream* stream = shared_.get();
  if (envelope.client_id() != 0) {
    auto it = catching_up_.find(envelope.client_id());
    if (it == catching_up_.end()) return;  // a stream that just ended
    stream = it->second.get();
  }
  const proto::ReportingHeader* header = wire::reporting_header(envelope);
  MergedEvent event{pair, header->seq(), header->timestamp_us(),
                    std::make_shared<const std::vector<uint8_t>>(payload.begin(), payload.end())};
  if (!stream->merge.push(std::move(event))) return;  // replayed after a resume: already had it
  release(*stream);
}

void ReportingRequests::release(Stream& stream) {
  const int64_t now = options_.now_us();
  std::vector<FeedEvent> released;
  for (MergedEvent& event : stream.merge.release(now)) {
    const proto::Envelope* envelope = proto::GetEnvelope(event.payload->data());
    const proto::ReportingHeader* header = wire::reporting_header(*envelope);
    std::string tenant = header->tenant_id() ? header->tenant_id()->str() : "";
    const std::optional<std::string> agent_key = agent_event_key(*envelope);
    if (agent_key && !stream.dedupe.pass(*agent_key, event.node, table().pairs_for_tenant(tenant).size(), now)) continue;
    released.push_back({event.node, event.seq, std::move(event.payload), std::move(tenant), agent_key.has_value()});
    events_.inc();
  }
  if (&stream == shared_.get()) {
    if (!released.empty()) options_.feed->publish(std::move(released));  // every worker's clients, this one's too
  } else {
    deliver(stream, released);
  }
  schedule(stream);
}

void ReportingRequests::deliver(Stream& stream, const std::vector<FeedEvent>& events) {
  for (const FeedEvent& event : events) {
    for (auto it = stream.clients.begin(); it != stream.clients.end();) {
      Client& client = it->second;
      const bool wanted = (client.tenants.empty() || client.tenants.contains(event.tenant)) &&
                          (event.agent ? client.agents : client.interactions) && event.pair < client.floor.size() &&
                          event.seq > client.floor[event.pair];
      if (wanted) client.backlog.push_back(event.payload);
      it = !wanted || feed_client(it->first, client) ? std::next(it) : stream.clients.erase(it);
    }
  }
  schedule(stream);
}

void ReportingRequests::schedule(Stream& stream) {
  const bool backlog =
      std::any_of(stream.clients.begin(), stream.clients.end(), [](const auto& c) { return !c.second.backlog.empty(); });
  if ((stream.merge.waiting() > 0 || backlog) && !stream.timer.active()) {
    // Again soon: for events held for a silent pair, and for clients with a backlog.
    stream.timer.start(backlog ? 10 : kMaxMergeDelayUs / 1000 + 1, [this, &stream] {
      for (auto it = stream.clients.begin(); it != stream.clients.end();) {
        it = feed_client(it->first, it->second) ? std::next(it) : stream.clients.erase(it);
      }
      release(stream);
    });
  }
}

void ReportingRequests::on_feed() {
  if (stopped_) return;
  if (std::optional<std::string> why = options_.feed->worker_cut_off(options_.worker)) {
    // This worker fell behind the merged stream and its queue was dropped (ReportingFeed's
    // bound): its shared-stream clients missed events, so they are cut off like slow clients
    // and resume from their positions.
    for (const auto& [session_id, client] : shared_->clients) {
      outlet_.cut_off(session_id,
                      wire::encode_error(0, client.client_id, proto::ErrorCode::ClusterLostConnection,
                                         *why + "; disconnecting"),
                      "reporting feed cut off");
      dropped_.inc();
    }
    shared_->clients.clear();
  }
  deliver(*shared_, options_.feed->take(options_.worker));
}

void ReportingRequests::ensure_shared_stream(std::function<void(std::vector<PairAnswer>)> done) {
  if (options_.feed->subscribed()) return done({});
  shared_stream_waiters_.push_back(std::move(done));
  if (shared_->subscribed) return;  // the subscription is on its way
  shared_->subscribed = true;
  const PairSet pairs = ctx_.calls.reachable_pairs();
  ctx_.calls.ask_all(pairs, Outgoing::of(proto::RequestStartReportingT{}), 0, [this](std::vector<PairAnswer> answers) {
    options_.feed->set_subscribed();
    auto waiters = std::move(shared_stream_waiters_);
    shared_stream_waiters_.clear();
    for (auto& waiter : waiters) waiter(answers);
  });
  for (PairIndex pair : pairs) request_pair_state(pair);
  tell_consumers_unreachable(pairs);
}

void ReportingRequests::tell_consumers_unreachable(const PairSet& reachable) {
  // A pair that is down as the stream starts (or restarts for a consumer) has no state to seed
  // the consumers: its part of the stream is stopped until it is back (pair_available).
  for (PairIndex pair = 0; pair < ctx_.calls.pair_count(); ++pair) {
    if (std::find(reachable.begin(), reachable.end(), pair) == reachable.end()) options_.feed->publish_stream_stopped(pair);
  }
}

void ReportingRequests::reseed_consumers() {
  if (stopped_ || options_.worker != 0 || !shared_->subscribed) return;
  const PairSet pairs = ctx_.calls.reachable_pairs();
  for (PairIndex pair : pairs) request_pair_state(pair);
  tell_consumers_unreachable(pairs);
}

void ReportingRequests::start_stream() {
  if (stopped_) return;
  ensure_shared_stream([](std::vector<PairAnswer> answers) {
    for (const PairAnswer& a : answers) {
      if (a.kind != PairAnswer::Kind::kReply) {
        spdlog::error("event=reporting_subscribe_failed pair_index={} error={}", a.pair, quote(a.error.text));
      }
    }
  });
}

bool ReportingRequests::feed_client(uint64_t session_id, Client& client) {
  if (!outlet_.queued_bytes(session_id)) return false;  // the session is gone
  while (!client.backlog.empty() && outlet_.queued_bytes(session_id).value_or(kConnectionQueueBytes) < kConnectionQueueBytes) {
    outlet_.send(session_id, wire::readdress_envelope(*client.backlog.front(), 0, client.client_id));
    client.backlog.pop_front();
  }
  const uint32_t limit = ctx_.settings.reporting_buffer;
  if (client.backlog.size() <= limit) return true;
  spdlog::warn("event=reporting_client_too_slow session={} backlog={}", session_id, client.backlog.size());
  outlet_.cut_off(session_id,
                  wire::encode_error(0, client.client_id, proto::ErrorCode::ClusterLostConnection,
                                     "reporting client too slow: more than " + std::to_string(limit) +
                                         " events waiting for it to read; disconnecting"),
                  "reporting client too slow");
  dropped_.inc();
  return false;
}

void ReportingRequests::handle_start(const Call& call, const proto::Envelope& envelope) {
  const proto::RequestStartReporting* r = envelope.body_as_RequestStartReporting();
  session_closed(call.session_id);  // a new start replaces the session's subscription
  Client client;
  client.client_id = call.client_id;
  client.floor.assign(table().pair_count(), 0);
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) client.tenants.insert(t->str());
  }
  Result<wire::ReportingClasses> classes = wire::reporting_classes(*r);
  if (!classes) return ctx_.replies.reply_error(call, classes.error());
  client.interactions = classes->interactions;
  client.agents = classes->agents;
  std::vector<bool> positioned(table().pair_count(), false);
  if (r->resume()) {
    for (const proto::ResumePosition* p : *r->resume()) {
      std::optional<PairIndex> pair = table().index_of(p->node_id()->string_view());
      if (!pair) {
        return ctx_.replies.reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute,
                                                               "RequestStartReporting.resume names node \"" +
                                                                   p->node_id()->str() +
                                                                   "\", which is not a node pair of this cluster"));
      }
      client.floor[*pair] = p->seq();
      positioned[*pair] = true;
    }
  }
  // Listening before reading the feed's positions: whatever is published from here on reaches
  // this worker, so a client that joins live misses nothing between the check and the join.
  const int me = options_.worker;
  options_.feed->listen(me, [post = options_.post, me] { post(me, [](ReportingRequests& worker) { worker.on_feed(); }); });
  bool behind = false;  // the shared stream has passed (or never carried) something the client lacks
  for (PairIndex pair = 0; pair < positioned.size(); ++pair) {
    if (!positioned[pair]) continue;
    behind = behind || !options_.feed->subscribed() || client.floor[pair] < options_.feed->published_seq(pair);
  }

  const PairSet reachable = ctx_.calls.reachable_pairs();
  auto acknowledge = [this, call](std::vector<PairAnswer> answers, bool own_stream) {
    for (const PairAnswer& a : answers) {
      if (a.kind == PairAnswer::Kind::kReply) continue;
      if (own_stream && a.kind == PairAnswer::Kind::kRefused) {
        // A resume position the node cannot serve (ahead of its log, older than its retention).
        session_closed(call.session_id);
        return ctx_.replies.reply_error(call, Error{a.error.code, "node pair " + table().pair_id(a.pair) + " refused: " + a.error.text});
      }
      spdlog::error("event=reporting_subscribe_failed pair={} error={}", table().pair_id(a.pair), quote(a.error.text));
    }
    ctx_.replies.ack(call);
  };

  if (behind) {
    // Its own stream: the nodes replay from the client's positions, then go on live.
    const uint64_t upstream = ctx_.upstream(call);
    auto stream = std::make_unique<Stream>(table().pair_count(), loop_);
    stream->upstream_client = upstream;
    stream->subscribed = true;
    for (PairIndex pair = 0; pair < table().pair_count(); ++pair) {
      if (!positioned[pair]) continue;
      stream->merge.start_after(pair, client.floor[pair]);
      stream->resume[pair] = true;
    }
    stream->clients[call.session_id] = std::move(client);
    Stream& own = *stream;
    catching_up_[upstream] = std::move(stream);
    std::vector<std::pair<PairIndex, Outgoing>> starts;
    for (PairIndex pair : reachable) starts.emplace_back(pair, Outgoing::of(start_request(own, pair)));
    ctx_.calls.ask_each(std::move(starts), upstream,
                        [acknowledge](std::vector<PairAnswer> answers) { acknowledge(std::move(answers), true); });
    return;
  }

  shared_->clients[call.session_id] = std::move(client);
  if (options_.feed->subscribed()) return acknowledge({}, false);
  // The proxy's first reporting client: answer once the pairs stream to worker 0, so that
  // whatever happens after the answer is in the client's stream.
  options_.post(0, [post = options_.post, me, acknowledge](ReportingRequests& first) {
    first.ensure_shared_stream([post, me, acknowledge](std::vector<PairAnswer> answers) {
      post(me, [acknowledge, answers = std::move(answers)](ReportingRequests&) { acknowledge(answers, false); });
    });
  });
}

void ReportingRequests::handle_stop(const Call& call) {
  session_closed(call.session_id);
  ctx_.replies.ack(call);
}

void ReportingRequests::session_closed(uint64_t session_id) {
  shared_->clients.erase(session_id);
  // A client's own stream ends with it (or already lost its client, cut off as too slow).
  for (auto it = catching_up_.begin(); it != catching_up_.end();) {
    if (!it->second->clients.empty() && !it->second->clients.contains(session_id)) {
      ++it;
      continue;
    }
    for (PairIndex pair = 0; pair < ctx_.calls.pair_count(); ++pair) {
      ctx_.calls.ask(pair, Outgoing::of(proto::RequestStopReportingT{}), it->first, [](PairAnswer) {});
    }
    it = catching_up_.erase(it);
  }
}

void ReportingRequests::pair_available(PairIndex pair) {
  // The streams resume on the new primary from the last seq each has seen.
  if (shared_->subscribed) subscribe_to_pair(*shared_, pair);
  for (auto& [client, stream] : catching_up_) subscribe_to_pair(*stream, pair);
}

void ReportingRequests::pair_unavailable(PairIndex pair) {
  if (options_.worker == 0 && shared_->subscribed) options_.feed->publish_stream_stopped(pair);
}

void ReportingRequests::reload() {
  if (shared_->merge.nodes() != table().pair_count()) {
    // Pairs were added or removed: the merge starts over (clients stay subscribed).
    spdlog::warn("event=reporting_restarted reason={}", quote("the node pairs changed"));
    auto fresh = std::make_unique<Stream>(table().pair_count(), loop_);
    fresh->clients = std::move(shared_->clients);
    for (auto& [id, client] : fresh->clients) client.floor.assign(table().pair_count(), 0);
    shared_ = std::move(fresh);
  }
  if (options_.worker == 0 && options_.feed->subscribed() && !shared_->subscribed) {
    options_.feed->reset_positions(table().pair_count());
    shared_->subscribed = true;
    for (PairIndex pair : ctx_.calls.reachable_pairs()) subscribe_to_pair(*shared_, pair);
  } else if (options_.worker == 0 && shared_->subscribed) {
    // The pacing targets or filter may have changed: the pairs' states seed them afresh.
    for (PairIndex pair : ctx_.calls.reachable_pairs()) request_pair_state(pair);
  }
}

void ReportingRequests::stop() {
  stopped_ = true;
  shared_->clients.clear();
  shared_->timer.stop();
  catching_up_.clear();
}

}  // namespace ix::proxy
