// ProxyWorker: the merged reporting stream (DESIGN.md §7). From its first reporting client on,
// the worker subscribes once to every pair's stream on its node links (re-subscribing from the
// last seq it saw when a pair's primary comes back or its backup takes over, so the stream
// stays gap-free; a worker without reporting clients does not pay for the stream), merges the
// streams (proxy/reporting/reporting_merge.h), passes one copy of each agent change
// (agent_event_dedupe.h), and feeds every reporting client of the worker from the one stream.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "protocol/log.h"
#include "proxy/reporting/agent_event_dedupe.h"
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
    : merge(pairs, kMaxMergeDelayUs), dedupe(kAgentDedupeWindowUs), timer(loop) {}

void ProxyWorker::subscribe_to_pair(PairIndex pair) {
  proto::RequestStartReportingT start;
  // Resume where this worker's stream left off; a worker that has seen nothing yet starts live.
  if (const uint64_t seen = reporting_->merge.seen_seq(pair); seen > 0) {
    auto position = std::make_unique<proto::ResumePositionT>();
    position->node_id = table_->pair_id(pair);
    position->seq = seen;
    start.resume.push_back(std::move(position));
  }
  ask(pair, Outgoing::of(std::move(start)), 0, [this, pair](PairAnswer answer) {
    if (answer.kind == PairAnswer::Kind::kReply) return;
    spdlog::error("event=reporting_subscribe_failed pair={} error={}", table_->pair_id(pair), quote(answer.error.text));
  });
}

void ProxyWorker::subscribe_to_all_pairs() {
  reporting_->subscribed = true;
  for (PairIndex pair = 0; pair < links_.size(); ++pair) {
    if (links_[pair]->reachable()) subscribe_to_pair(pair);
  }
}

void ProxyWorker::on_reporting_event(PairIndex pair, const proto::ReportingHeader& header, std::span<const uint8_t> payload) {
  MergedEvent event{pair, header.seq(), header.timestamp_us(),
                    std::make_shared<const std::vector<uint8_t>>(payload.begin(), payload.end())};
  if (!reporting_->merge.push(std::move(event))) return;  // replayed after a resume: already had it
  release_reporting();
}

void ProxyWorker::release_reporting() {
  const int64_t now = now_us();
  for (const MergedEvent& event : reporting_->merge.release(now)) {
    const proto::Envelope* envelope = proto::GetEnvelope(event.payload->data());
    const proto::ReportingHeader* header = wire::reporting_header(*envelope);
    const std::string tenant = header->tenant_id() ? header->tenant_id()->str() : "";
    const std::optional<std::string> agent_key = agent_event_key(*envelope);
    if (agent_key && !reporting_->dedupe.pass(*agent_key, event.node, table_->pairs_for_tenant(tenant).size(), now)) continue;
    for (auto it = reporting_->clients.begin(); it != reporting_->clients.end();) {
      ReportingClient& client = it->second;
      const bool wanted = (client.tenants.empty() || client.tenants.contains(tenant)) &&
                          (agent_key ? client.agents : client.interactions) && event.seq > client.floor[event.node];
      if (wanted) client.backlog.push_back(event.payload);
      it = !wanted || feed_reporting_client(it->first, client) ? std::next(it) : reporting_->clients.erase(it);
    }
    reporting_events_->inc();
  }
  const bool backlog = std::any_of(reporting_->clients.begin(), reporting_->clients.end(),
                                   [](const auto& c) { return !c.second.backlog.empty(); });
  if ((reporting_->merge.waiting() > 0 || backlog) && !reporting_->timer.active()) {
    // Again soon: for events held for a silent pair, and for clients with a backlog.
    reporting_->timer.start(backlog ? 10 : kMaxMergeDelayUs / 1000 + 1, [this] {
      for (auto it = reporting_->clients.begin(); it != reporting_->clients.end();) {
        it = feed_reporting_client(it->first, it->second) ? std::next(it) : reporting_->clients.erase(it);
      }
      release_reporting();
    });
  }
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
  ReportingClient client;
  client.client_id = call.client_id;
  client.floor.assign(table_->pair_count(), 0);
  if (r->tenant_ids()) {
    for (const flatbuffers::String* t : *r->tenant_ids()) client.tenants.insert(t->str());
  }
  if (r->classes() && r->classes()->size() > 0) {
    client.interactions = client.agents = false;
    for (proto::ReportingClass c : *r->classes()) {
      if (c == proto::ReportingClass::Interaction) {
        client.interactions = true;
      } else if (c == proto::ReportingClass::Agent) {
        client.agents = true;
      } else {
        return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute, "RequestStartReporting.classes has an unknown class " +
                                                                                          std::to_string(static_cast<int>(c))));
      }
    }
  }
  if (r->resume()) {
    for (const proto::ResumePosition* p : *r->resume()) {
      std::optional<PairIndex> pair = table_->index_of(p->node_id()->string_view());
      if (!pair) {
        return reply_error(call, wire::make_error(proto::ErrorCode::InvalidAttribute,
                                                  "RequestStartReporting.resume names node \"" + p->node_id()->str() +
                                                      "\", which is not a node pair of this cluster"));
      }
      // Events the client already has are not sent again. Older positions than this proxy's
      // stream need a replay from the node's event log, which comes with the merges issue.
      if (p->seq() < reporting_->merge.released_seq(*pair)) {
        return reply_error(call, wire::make_error(proto::ErrorCode::ClusterUnsupportedOperation,
                                                  "resume position " + std::to_string(p->seq()) + " for " + p->node_id()->str() +
                                                      " is older than this proxy's stream (" +
                                                      std::to_string(reporting_->merge.released_seq(*pair)) +
                                                      "); replay through the proxy is not supported yet"));
      }
      client.floor[*pair] = p->seq();
    }
  }
  reporting_->clients[call.session_id] = std::move(client);
  if (reporting_->subscribed) {
    reply(call, wire::encode_ack(call.ref_id, call.client_id));
    return finish(call, Outcome::kOk);
  }
  // The worker's first reporting client: answer once the pairs stream to the worker, so that
  // whatever happens after the answer is in the client's stream.
  reporting_->subscribed = true;
  PairSet reachable_pairs;
  for (PairIndex pair = 0; pair < links_.size(); ++pair) {
    if (links_[pair]->reachable()) reachable_pairs.push_back(pair);  // the others subscribe when their primary appears
  }
  ask_all(reachable_pairs, Outgoing::of(proto::RequestStartReportingT{}), 0, [this, call](std::vector<PairAnswer> answers) {
    for (const PairAnswer& a : answers) {
      if (a.kind != PairAnswer::Kind::kReply) {
        spdlog::error("event=reporting_subscribe_failed pair={} error={}", table_->pair_id(a.pair), quote(a.error.text));
      }
    }
    reply(call, wire::encode_ack(call.ref_id, call.client_id));
    finish(call, Outcome::kOk);
  });
}

void ProxyWorker::handle_stop_reporting(const Call& call) {
  reporting_->clients.erase(call.session_id);
  reply(call, wire::encode_ack(call.ref_id, call.client_id));
  finish(call, Outcome::kOk);
}

}  // namespace ix::proxy
