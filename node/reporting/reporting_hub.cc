#include "node/reporting/reporting_hub.h"

#include <algorithm>

namespace ix::node {

ReportingHub::ReportingHub(uv_loop_t* loop, std::string node_id, Store& store)
    : node_id_(std::move(node_id)), store_(store), pump_timer_(loop) {}

void ReportingHub::reset(uint64_t last_committed_seq) {
  assigned_seq_ = committed_seq_ = last_committed_seq;
}

bool ReportingHub::wants(const Subscriber& s, const std::string& tenant, bool agent_class) const {
  if (agent_class ? !s.agents : !s.interactions) return false;
  return s.tenants.empty() || s.tenants.contains(tenant);
}

void ReportingHub::send(Subscriber& s, uint64_t seq, const std::string& tenant, bool agent_class,
                        std::span<const uint8_t> frame, wire::Frame* batch) {
  if (seq <= s.cursor) return;  // already sent from the backlog
  s.cursor = seq;
  if (!wants(s, tenant, agent_class)) return;
  if (s.client_id == 0) {
    if (batch == nullptr) return s.channel->send(frame);
    batch->insert(batch->end(), frame.begin(), frame.end());
    return;
  }
  // Re-addressed to the subscriber's logical client. Re-addressing reads only the envelope's
  // root and offsets (4-byte fields), which stay aligned 4 bytes into the frame.
  const std::span<const uint8_t> payload = frame.subspan(wire::kFrameHeaderSize);
  if (batch != nullptr) return wire::append_readdressed(*batch, payload, 0, s.client_id);
  s.channel->send(wire::readdress_envelope(payload, 0, s.client_id));
}

std::unique_ptr<proto::ReportingHeaderT> ReportingHub::header_about(const std::string& tenant, const std::string& agent,
                                                                    const std::string& place) {
  auto header = std::make_unique<proto::ReportingHeaderT>();
  header->tenant_id = tenant;
  header->agent_id = agent;
  header->place_id = place;
  return header;
}

void ReportingHub::publish(const std::vector<RecordedEvent>& events) {
  if (events.empty()) return;
  committed_seq_ = std::max(committed_seq_, events.back().seq);
  std::vector<ReportingChannel*> too_slow;
  for (auto& [key, s] : subscribers_) {
    if (!s.live) continue;
    for (const RecordedEvent& e : events) send(s, e.seq, e.tenant, e.agent_class, *e.frame);
    if (s.channel->queued_bytes() > kMaxSubscriberBacklogBytes) too_slow.push_back(s.channel);
  }
  std::sort(too_slow.begin(), too_slow.end());
  too_slow.erase(std::unique(too_slow.begin(), too_slow.end()), too_slow.end());
  for (ReportingChannel* channel : too_slow) {
    channel->send_error(0, 0, proto::ErrorCode::WrongState,
                        "reporting client reads too slowly: more than " + std::to_string(kMaxSubscriberBacklogBytes) +
                            " bytes queued; disconnecting (resume from the last sequence number seen)");
    unsubscribe(channel);
    channel->disconnect("reporting client too slow");
  }
}

Status ReportingHub::subscribe(ReportingChannel* channel, uint64_t client_id, std::set<std::string> tenants,
                               bool interactions, bool agents, std::optional<uint64_t> resume_after) {
  Subscriber s{channel, client_id, std::move(tenants), interactions, agents, committed_seq_, true};
  if (resume_after) {
    if (*resume_after > committed_seq_) {
      return Error{static_cast<int>(proto::ErrorCode::InvalidAttribute),
                   "resume position " + std::to_string(*resume_after) + " for node " + node_id_ +
                       " is ahead of the event log (last sequence number " + std::to_string(committed_seq_) + ")"};
    }
    const uint64_t first = store_.first_seq();
    if (first > 0 && *resume_after + 1 < first) {
      return Error{static_cast<int>(proto::ErrorCode::InvalidAttribute),
                   "resume position " + std::to_string(*resume_after) + " for node " + node_id_ +
                       " is older than the event log's retention (first sequence number " + std::to_string(first) + ")"};
    }
    s.cursor = *resume_after;
    s.live = s.cursor >= committed_seq_;
  }
  s.generation = ++next_generation_;
  subscribers_[{channel, client_id}] = std::move(s);
  schedule_pump();
  return {};
}

void ReportingHub::unsubscribe(ReportingChannel* channel) {
  subscribers_.erase(subscribers_.lower_bound({channel, 0}), subscribers_.upper_bound({channel, UINT64_MAX}));
}

void ReportingHub::unsubscribe(ReportingChannel* channel, uint64_t client_id) { subscribers_.erase({channel, client_id}); }

void ReportingHub::schedule_pump() {
  if (!pump_timer_.active()) pump_timer_.start(0, [this] { pump(); });
}

void ReportingHub::pump() {
  bool more = false;
  for (auto& [key, s] : subscribers_) {
    if (s.live || s.reading) continue;
    if (s.channel->queued_bytes() > (4u << 20)) {
      more = true;  // let the client read what it has first
      continue;
    }
    s.reading = true;
    store_.read_events(s.cursor, kBacklogChunk,
                       [self = std::weak_ptr<ReportingHub*>(self_), key = key, generation = s.generation](
                           Result<std::vector<StoredEvent>> events) {
                         if (auto hub = self.lock()) (*hub)->on_backlog(key, generation, std::move(events));
                       });
  }
  if (more) pump_timer_.start(1, [this] { pump(); });
}

void ReportingHub::on_backlog(std::pair<ReportingChannel*, uint64_t> key, uint64_t generation,
                              Result<std::vector<StoredEvent>> events) {
  auto it = subscribers_.find(key);
  if (it == subscribers_.end() || it->second.generation != generation) return;  // unsubscribed meanwhile
  Subscriber& s = it->second;
  s.reading = false;
  if (!events) {
    s.channel->send_error(0, s.client_id, proto::ErrorCode::Internal, "reading the event log failed: " + events.error().text);
    s.live = true;
    return;
  }
  // One write for the chunk: its frames (re-addressed to the subscriber's client) in one buffer.
  wire::Frame batch;
  size_t bytes = 0;
  for (const StoredEvent& e : *events) bytes += wire::readdressed_size(e.frame.size());
  batch.reserve(bytes);
  for (const StoredEvent& e : *events) {
    auto envelope = wire::verify_envelope(std::span(e.frame).subspan(wire::kFrameHeaderSize));
    bool agent_class = envelope.ok() && wire::is_agent_event((*envelope)->body_type());
    send(s, e.seq, e.tenant, agent_class, e.frame, &batch);
  }
  if (!batch.empty()) s.channel->send(std::move(batch));
  if (s.cursor >= committed_seq_) {
    s.live = true;
  } else {
    schedule_pump();
  }
}

}  // namespace ix::node
