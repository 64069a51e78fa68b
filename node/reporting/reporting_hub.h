// ReportingHub: the node's reporting stream.
//
// Every state change records its reporting events here while the change is being prepared: the
// hub stamps each with the pair's node ID, the next sequence number and a timestamp, encodes the
// frame once, and adds it to the change's Transaction so that the event log is written in the
// same commit as the state it describes. Only after that commit are the events published to
// live subscribers; a subscriber that resumes from an older sequence number first reads the
// backlog from the event log (in chunks, paced by its connection's output queue) and turns live
// when it has caught up, so it sees every event once, without gap or duplicate. Backlog reads
// are asynchronous (Store::read_events), one in flight per subscriber.
// Owned by the node's loop thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "node/agents/agent_registry.h"
#include "node/model/interaction_registry.h"
#include "node/store/store.h"
#include "node/reporting/reporting_channel.h"
#include "protocol/net/timer.h"
#include "protocol/wire/messages.h"

namespace ix::node {

struct RecordedEvent {
  uint64_t seq;
  std::string tenant;
  bool agent_class;
  std::shared_ptr<const wire::Frame> frame;
};

class ReportingHub {
 public:
  // A subscriber whose queued output passes this many bytes is disconnected as too slow.
  static constexpr size_t kMaxSubscriberBacklogBytes = 64u << 20;
  static constexpr size_t kBacklogChunk = 1000;

  ReportingHub(uv_loop_t* loop, std::string node_id, Store& store);

  void reset(uint64_t last_committed_seq);
  uint64_t last_committed_seq() const { return committed_seq_; }
  uint64_t last_assigned_seq() const { return assigned_seq_; }

  // Stamps `event` (a native reporting event with a `header`) with the node, the next sequence
  // number, the time and what it concerns (tenant, media, agent, place), encodes it and appends
  // it to the transaction; returns the recorded event for publish().
  template <class Event>
  RecordedEvent record(Transaction& transaction, const Interaction& about, Event event, int64_t now_us);
  template <class Event>
  RecordedEvent record(Transaction& transaction, const AgentState& about, Event event, int64_t now_us);

  // Sends committed events to live subscribers.
  void publish(const std::vector<RecordedEvent>& events);

  // Starts (or restarts) a subscription of one logical client on a channel: tenants (empty =
  // all), classes, and the last sequence number the client has seen (0 = from the start of the
  // log; no resume = live only). Events go out with the client's client_id, so one connection
  // (a proxy's) can carry several subscriptions.
  Status subscribe(ReportingChannel* channel, uint64_t client_id, std::set<std::string> tenants, bool interactions,
                   bool agents, std::optional<uint64_t> resume_after);
  // Ends every subscription on the channel, or one client's.
  void unsubscribe(ReportingChannel* channel);
  void unsubscribe(ReportingChannel* channel, uint64_t client_id);
  size_t subscribers() const { return subscribers_.size(); }

 private:
  struct Subscriber {
    ReportingChannel* channel;
    uint64_t client_id;
    std::set<std::string> tenants;
    bool interactions;
    bool agents;
    uint64_t cursor;  // the last seq this subscriber has been sent
    bool live;
    uint64_t generation = 0;  // tells a read's answer which subscription asked
    bool reading = false;     // a backlog read is in flight
  };
  // What every event's header says it concerns; stamp() adds the node, seq and time.
  static std::unique_ptr<proto::ReportingHeaderT> header_about(const std::string& tenant, const std::string& agent,
                                                               const std::string& place);
  template <class Event>
  RecordedEvent stamp(Transaction& transaction, Event event, int64_t now_us);
  bool wants(const Subscriber& s, const std::string& tenant, bool agent_class) const;
  // Sends one event to a subscriber that wants it, or appends it to `batch` (sent by the caller).
  void send(Subscriber& s, uint64_t seq, const std::string& tenant, bool agent_class, std::span<const uint8_t> frame,
            wire::Frame* batch = nullptr);
  void pump();
  void schedule_pump();
  void on_backlog(std::pair<ReportingChannel*, uint64_t> key, uint64_t generation,
                  Result<std::vector<StoredEvent>> events);

  std::string node_id_;
  Store& store_;
  net::Timer pump_timer_;
  uint64_t assigned_seq_ = 0;
  uint64_t committed_seq_ = 0;
  uint64_t next_generation_ = 0;
  // Backlog reads complete after the hub may be gone; they check this first.
  std::shared_ptr<ReportingHub*> self_ = std::make_shared<ReportingHub*>(this);
  std::map<std::pair<ReportingChannel*, uint64_t>, Subscriber> subscribers_;
};

template <class Event>
RecordedEvent ReportingHub::record(Transaction& transaction, const Interaction& about, Event event, int64_t now_us) {
  event.header = header_about(about.tenant_id, about.agent_id, about.place_id);
  event.header->media_type = about.media_type;
  return stamp(transaction, std::move(event), now_us);
}

template <class Event>
RecordedEvent ReportingHub::record(Transaction& transaction, const AgentState& about, Event event, int64_t now_us) {
  event.header = header_about(about.tenant, about.agent_id, about.place_id);
  return stamp(transaction, std::move(event), now_us);
}

template <class Event>
RecordedEvent ReportingHub::stamp(Transaction& transaction, Event event, int64_t now_us) {
  event.header->node_id = node_id_;
  event.header->seq = ++assigned_seq_;
  event.header->timestamp_us = now_us;
  const std::string tenant = event.header->tenant_id;
  auto frame = std::make_shared<const wire::Frame>(wire::encode_frame(0, 0, event));
  transaction.mutations.push_back(AppendEvent{{assigned_seq_, now_us, tenant, *frame}});
  return {assigned_seq_, tenant, wire::is_agent_event(proto::MessageTraits<typename Event::TableType>::enum_value), frame};
}

}  // namespace ix::node
