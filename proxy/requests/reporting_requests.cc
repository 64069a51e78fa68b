#include "proxy/requests/reporting_requests.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/log.h"
#include "proxy/route/answer_severity.h"

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

void ReportingRequests::Stream::apply(const PairChanges& changes, size_t slots) {
  merge.resize(slots);
  if (resume.size() < slots) resume.resize(slots, false);
  for (auto& [session, client] : clients) {
    if (client.floor.size() < slots) client.floor.resize(slots, 0);
  }
  for (PairIndex pair : changes.removed) merge.set_retired(pair, true);
  for (PairIndex pair : changes.added) {
    merge.set_retired(pair, false);
    resume[pair] = true;  // from the last seq seen: 0, the start of its log, for a new pair
  }
}

ReportingRequests::ReportingRequests(RequestContext& ctx, ReportingOutlet& outlet, ReportingOptions options, uv_loop_t* loop,
                                     metrics::Registry& metrics)
    : ctx_(ctx),
      outlet_(outlet),
      options_(std::move(options)),
      loop_(loop),
      shared_(std::make_unique<Stream>(ctx.table->slot_count(), loop)),
      refill_timer_(loop),
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
  proto::RequestStartReportingT start = start_request(stream, pair);
  // A pair a reload added, asked for its whole log: if the node has trimmed it, live is the best
  // there is (said in the log).
  const bool from_start = !start.resume.empty() && start.resume.front()->seq == 0;
  const uint64_t upstream = stream.upstream_client;
  ctx_.calls.ask(pair, Outgoing::of(std::move(start)), upstream, [this, pair, from_start, upstream](PairAnswer answer) {
    if (answer.kind == PairAnswer::Kind::kReply) return;
    spdlog::error("event=reporting_subscribe_failed pair={} error={}", table().pair_id(pair), quote(answer.error.text));
    if (!from_start || answer.kind != PairAnswer::Kind::kRefused || stopped_ || !table().has(pair)) return;
    Stream* again = upstream == 0 ? shared_.get() : nullptr;
    if (auto it = catching_up_.find(upstream); upstream != 0 && it != catching_up_.end()) again = it->second.get();
    if (!again || again->merge.seen_seq(pair) != 0) return;
    spdlog::warn("event=reporting_pair_joins_live pair={} reason={}", table().pair_id(pair), quote(answer.error.text));
    again->resume[pair] = false;
    subscribe_to_pair(*again, pair);
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
    options_.feed->publish_state({pair, envelope->body_as_EventReportingState()->seq(), answer.payload, "", false, false, table().pair_id(pair)});
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
    released.push_back({event.node, event.seq, std::move(event.payload), std::move(tenant), agent_key.has_value(), false, table().pair_id(event.node)});
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
      // A pair another worker's reload added before this one's: its floor starts at 0.
      if (event.pair >= client.floor.size()) client.floor.resize(event.pair + 1, 0);
      const bool wanted = (client.tenants.empty() || client.tenants.contains(event.tenant)) &&
                          (event.agent ? client.agents : client.interactions) && event.seq > client.floor[event.pair];
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
  for (PairIndex pair : table().all_pairs()) {
    if (std::find(reachable.begin(), reachable.end(), pair) == reachable.end()) options_.feed->publish_stream_stopped(pair, table().pair_id(pair));
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
  const std::optional<size_t> queued = outlet_.queued_bytes(session_id);
  if (!queued) return false;  // the session is gone
  if (!client.backlog.empty() && *queued < kConnectionQueueBytes) {
    // One buffer for everything the connection takes now: a frame per event, re-addressed to
    // the client, appended in place (no allocation and no write call per event).
    size_t room = kConnectionQueueBytes - *queued, bytes = 0, count = 0;
    for (const auto& payload : client.backlog) {
      if (count > 0 && bytes >= room) break;
      bytes += wire::readdressed_size(payload->size());
      ++count;
    }
    wire::Frame batch;
    batch.reserve(bytes);
    for (size_t i = 0; i < count; ++i) {
      wire::append_readdressed(batch, *client.backlog.front(), 0, client.client_id);
      client.backlog.pop_front();
    }
    outlet_.send(session_id, std::move(batch));
  }
  if (!client.backlog.empty() && awaiting_.insert(session_id).second) {
    outlet_.when_drained(session_id, [self = std::weak_ptr<ReportingRequests*>(self_), session_id] {
      if (auto me = self.lock()) (*me)->on_drained(session_id);
    });
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

void ReportingRequests::on_drained(uint64_t session_id) {
  awaiting_.erase(session_id);
  drained_.insert(session_id);
  // On the next loop turn: the connection may be in the middle of its flush here.
  if (!refill_timer_.active()) refill_timer_.start(0, [this] { refill(); });
}

void ReportingRequests::refill() {
  if (stopped_) return;
  const std::set<uint64_t> drained = std::move(drained_);
  drained_.clear();
  auto feed = [&](Stream& stream) {
    for (uint64_t session_id : drained) {
      auto it = stream.clients.find(session_id);
      if (it != stream.clients.end() && !feed_client(session_id, it->second)) stream.clients.erase(it);
    }
  };
  feed(*shared_);
  for (auto& [upstream, stream] : catching_up_) feed(*stream);
}

void ReportingRequests::handle_start(const Call& call, const proto::Envelope& envelope) {
  const proto::RequestStartReporting* r = envelope.body_as_RequestStartReporting();
  session_closed(call.session_id);  // a new start replaces the session's subscription
  Client client;
  client.client_id = call.client_id;
  client.floor.assign(table().slot_count(), 0);
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) client.tenants.insert(t->str());
  }
  Result<wire::ReportingClasses> classes = wire::reporting_classes(*r);
  if (!classes) return ctx_.replies.reply_error(call, classes.error());
  client.interactions = classes->interactions;
  client.agents = classes->agents;
  std::vector<bool> positioned(table().slot_count(), false);
  if (r->resume()) {
    for (const proto::ResumePosition* p : *r->resume()) {
      std::optional<PairIndex> pair = table().index_of(p->node_id()->string_view());
      // A pair a reload removed: nothing more comes from it, so its position asks for nothing.
      if (!pair && table().slot_of(p->node_id()->string_view())) continue;
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
    std::vector<PairAnswer> refusals;
    for (const PairAnswer& a : answers) {
      if (a.kind == PairAnswer::Kind::kReply) continue;
      if (own_stream && a.kind == PairAnswer::Kind::kRefused) refusals.push_back(a);
      else spdlog::error("event=reporting_subscribe_failed pair={} error={}", table().pair_id(a.pair), quote(a.error.text));
    }
    if (const PairAnswer* a = deciding_failure(refusals)) {
      // A resume position the node cannot serve (ahead of its log, older than its retention).
      session_closed(call.session_id);
      return ctx_.replies.reply_error(call, Error{a->error.code, "node pair " + table().pair_id(a->pair) + " refused: " + a->error.text});
    }
    ctx_.replies.ack(call);
  };

  if (behind) {
    // Its own stream: the nodes replay from the client's positions, then go on live.
    const uint64_t upstream = ctx_.upstream(call);
    auto stream = std::make_unique<Stream>(table().slot_count(), loop_);
    stream->upstream_client = upstream;
    stream->subscribed = true;
    for (PairIndex pair : table().all_pairs()) {
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
  awaiting_.erase(session_id);
  drained_.erase(session_id);
  // A client's own stream ends with it (or already lost its client, cut off as too slow).
  for (auto it = catching_up_.begin(); it != catching_up_.end();) {
    if (!it->second->clients.empty() && !it->second->clients.contains(session_id)) {
      ++it;
      continue;
    }
    for (PairIndex pair : table().all_pairs()) {
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
  if (options_.worker == 0 && shared_->subscribed) options_.feed->publish_stream_stopped(pair, table().pair_id(pair));
}

void ReportingRequests::reload(const PairChanges& changes) {
  const size_t slots = table().slot_count();
  shared_->apply(changes, slots);
  for (auto& [client, stream] : catching_up_) stream->apply(changes, slots);
  if (!changes.empty()) {
    spdlog::info("event=reporting_pairs_changed worker={} added={} removed={}", options_.worker,
                 quote(pair_names(table(), changes.added)), quote(pair_names(table(), changes.removed)));
  }
  // What a removed pair had sent may go out now that it no longer holds the streams back; an
  // added pair joins as it becomes reachable (pair_available).
  release(*shared_);
  for (auto& [client, stream] : catching_up_) release(*stream);
  if (options_.worker == 0 && shared_->subscribed) {
    // The pacing targets or filter may have changed: the pairs' states seed them afresh.
    for (PairIndex pair : ctx_.calls.reachable_pairs()) request_pair_state(pair);
  }
}

void ReportingRequests::stop() {
  stopped_ = true;
  shared_->clients.clear();
  shared_->timer.stop();
  refill_timer_.stop();
  catching_up_.clear();
}

}  // namespace ix::proxy
