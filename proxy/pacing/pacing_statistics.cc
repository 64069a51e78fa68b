#include "proxy/pacing/pacing_statistics.h"

#include <algorithm>

#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"

namespace ix::pacing {

namespace {

// 15-second buckets over the longest window.
constexpr int64_t kBucketUs = 15'000'000;
constexpr size_t kBuckets = static_cast<size_t>(kWindowsUs.back() / kBucketUs);

std::array<WindowCounts, 3> windows(const SlidingWindow& w, int64_t now_us) {
  const std::array<SlidingWindow::Sum, 3> sums = w.sums(now_us, kWindowsUs);
  std::array<WindowCounts, 3> out;
  for (size_t i = 0; i < sums.size(); ++i) out[i] = {sums[i].count, sums[i].total};
  return out;
}

double seconds(int64_t us) { return static_cast<double>(us) / 1e6; }

}  // namespace

PacingStatistics::Target::Target()
    : accepted(kBucketUs, kBuckets), abandoned(kBucketUs, kBuckets), handled(kBucketUs, kBuckets) {}

PacingStatistics::ReactiveQueue::ReactiveQueue() : arrivals(kBucketUs, kBuckets) {}

std::string PacingStatistics::agent_key(std::string_view tenant, std::string_view agent) {
  std::string key(tenant);
  key += '\n';
  key += agent;
  return key;
}

PacingStatistics::PacingStatistics(const config::ClusterConfig& config) { reconfigure(config); }

std::vector<std::optional<size_t>> PacingStatistics::reconfigure(const config::ClusterConfig& config) {
  vq_key_.clear();
  filter_ = {};
  filter_valid_ = false;
  if (config.pacing) {
    vq_key_ = config.pacing->virtual_queue_key;
    if (Result<query::Condition> filter = query::Condition::parse(config.pacing->proactive_filter)) {
      filter_ = std::move(*filter);
      filter_valid_ = true;
    }
  }
  // Every agent of a group has its entry from the start (a logout empties it, never erases
  // it), so groups and targets hold stable pointers and a cycle hashes no strings. Agents keep
  // their state across a reload (their entries are never erased).
  group_agents_.clear();
  for (const config::AgentGroup& g : config.agent_groups) {
    std::vector<const AgentState*>& members = group_agents_[g.id];
    for (const std::string& a : g.agents) members.push_back(&agents_[agent_key(g.tenant, a)]);
  }
  // A target that stays (same virtual queue and media) keeps its counts and windows.
  std::vector<std::optional<size_t>> kept(targets_.size());
  std::vector<Target> previous = std::move(targets_);
  targets_ = std::vector<Target>(config.pacing_targets.size());
  std::map<std::pair<std::string, std::string>, size_t> previous_by_vq = std::move(target_by_vq_);
  target_by_vq_.clear();
  for (size_t i = 0; i < config.pacing_targets.size(); ++i) {
    const config::PacingTarget& pt = config.pacing_targets[i];
    auto before = previous_by_vq.find({pt.virtual_queue, pt.media});
    if (before != previous_by_vq.end()) {
      targets_[i] = std::move(previous[before->second]);
      kept[before->second] = i;
    }
    Target& t = targets_[i];
    t.config = &pt;
    t.agents.clear();
    for (const std::string& g : pt.agent_groups) {
      for (const AgentState* agent : group_agents_[g]) t.agents.push_back(agent);
    }
    std::sort(t.agents.begin(), t.agents.end());
    t.agents.erase(std::unique(t.agents.begin(), t.agents.end()), t.agents.end());
    target_by_vq_[{pt.virtual_queue, pt.media}] = i;
    t.pairs.clear();
    for (size_t pair = 0; pair < config.node_pairs.size(); ++pair) {
      const config::NodePair& np = config.node_pairs[pair];
      const bool tenant = std::find(np.tenants.begin(), np.tenants.end(), pt.tenant) != np.tenants.end();
      const bool media = np.media_types.empty() ||
                         std::find(np.media_types.begin(), np.media_types.end(), pt.media) != np.media_types.end();
      if (tenant && media) t.pairs.push_back(pair);
    }
  }
  // The interactions of a removed target are forgotten; the others follow their target.
  for (auto it = interactions_.begin(); it != interactions_.end();) {
    const std::optional<size_t> now = it->second.target < kept.size() ? kept[it->second.target] : std::nullopt;
    if (!now) {
      it = interactions_.erase(it);
      continue;
    }
    it->second.target = *now;
    ++it;
  }
  reconfigure_reactive(config);
  // Pairs by position in the configuration: when the list changed, what was known of a pair
  // follows its ID to its new position, and a removed pair's interactions are forgotten (it
  // reports nothing more: they would wait forever).
  std::vector<std::string> pair_ids;
  for (const config::NodePair& np : config.node_pairs) pair_ids.push_back(np.id);
  if (pair_ids != pair_ids_) {
    std::vector<std::optional<size_t>> moved(pair_ids_.size());
    for (size_t before = 0; before < pair_ids_.size(); ++before) {
      auto now = std::find(pair_ids.begin(), pair_ids.end(), pair_ids_[before]);
      if (now != pair_ids.end()) moved[before] = static_cast<size_t>(now - pair_ids.begin());
    }
    for (auto it = interactions_.begin(); it != interactions_.end();) {
      const std::optional<size_t> now = it->second.pair < moved.size() ? moved[it->second.pair] : std::nullopt;
      if (now) {
        it->second.pair = *now;
        ++it;
        continue;
      }
      if (it->second.accepted_at_us == 0) {
        stop_waiting(it->second);
      } else {
        --targets_[it->second.target].handling;
      }
      it = interactions_.erase(it);
    }
    for (auto it = reactive_waiting_.begin(); it != reactive_waiting_.end();) {
      const std::optional<size_t> now = it->second.pair < moved.size() ? moved[it->second.pair] : std::nullopt;
      if (now) {
        it->second.pair = *now;
        ++it;
        continue;
      }
      --reactive_[it->second.queue].waiting;
      it = reactive_waiting_.erase(it);
    }
    std::vector<uint64_t> seeded(pair_ids.size(), 0);
    std::vector<bool> stale(pair_ids.size(), false);
    for (size_t before = 0; before < moved.size(); ++before) {
      if (!moved[before]) continue;
      if (before < seeded_seq_.size()) seeded[*moved[before]] = seeded_seq_[before];
      if (before < pair_stale_.size()) stale[*moved[before]] = pair_stale_[before];
    }
    pair_ids_ = std::move(pair_ids);
    seeded_seq_ = std::move(seeded);
    pair_stale_ = std::move(stale);
  }
  return kept;
}

void PacingStatistics::reconfigure_reactive(const config::ClusterConfig& config) {
  // The virtual queues each target's groups serve, for its media; one that stays keeps its
  // waiting count and arrivals.
  std::map<std::string, const config::AgentGroup*> groups;
  for (const config::AgentGroup& g : config.agent_groups) groups[g.id] = &g;
  std::vector<ReactiveQueue> previous = std::move(reactive_);
  std::map<ReactiveKey, size_t> previous_by_key = std::move(reactive_by_key_);
  reactive_.clear();
  reactive_by_key_.clear();
  std::vector<std::optional<size_t>> kept(previous.size());
  for (size_t i = 0; i < targets_.size(); ++i) {
    Target& t = targets_[i];
    t.reactive.clear();
    for (const std::string& group_id : t.config->agent_groups) {
      auto group = groups.find(group_id);
      if (group == groups.end()) continue;
      for (const std::string& vq : group->second->origination_dns) {
        ReactiveKey key{group->second->tenant, vq, t.config->media};
        auto [at, added] = reactive_by_key_.try_emplace(key, reactive_.size());
        if (added) {
          auto before = previous_by_key.find(key);
          if (before == previous_by_key.end()) {
            reactive_.emplace_back();
          } else {
            kept[before->second] = reactive_.size();
            reactive_.push_back(std::move(previous[before->second]));
          }
        }
        t.reactive.push_back(at->second);
      }
    }
    std::sort(t.reactive.begin(), t.reactive.end());
    t.reactive.erase(std::unique(t.reactive.begin(), t.reactive.end()), t.reactive.end());
  }
  for (auto it = reactive_waiting_.begin(); it != reactive_waiting_.end();) {
    const std::optional<size_t> now = kept[it->second.queue];
    if (!now) {
      it = reactive_waiting_.erase(it);
      continue;
    }
    it->second.queue = *now;
    ++it;
  }
}

std::optional<size_t> PacingStatistics::reactive_queue_of(const proto::InteractionInfoT& info) const {
  if (!filter_valid_ || !info.user_data || reactive_.empty()) return std::nullopt;
  const query::Value value = query::Operand{query::Operand::Kind::kUserData, vq_key_, {}}.of(info);
  const std::string* vq = std::get_if<std::string>(&value);
  if (vq == nullptr) return std::nullopt;
  auto it = reactive_by_key_.find({info.tenant_id, *vq, info.media_type});
  if (it == reactive_by_key_.end() || filter_.matches(info)) return std::nullopt;
  return it->second;
}

void PacingStatistics::track_reactive(const proto::InteractionInfoT& info, size_t pair, std::optional<int64_t> arrived_us) {
  std::optional<size_t> queue = reactive_queue_of(info);
  if (!queue) return;
  if (!reactive_waiting_.try_emplace(info.interaction_id, WaitingReactive{*queue, pair}).second) return;  // a copy
  ReactiveQueue& q = reactive_[*queue];
  ++q.waiting;
  if (arrived_us) q.arrivals.add(*arrived_us, 0);
}

bool PacingStatistics::stop_reactive(const std::string& id) {
  auto it = reactive_waiting_.find(id);
  if (it == reactive_waiting_.end()) return false;
  --reactive_[it->second.queue].waiting;
  reactive_waiting_.erase(it);
  return true;
}

void PacingStatistics::stream_stopped(size_t pair) {
  if (pair < pair_stale_.size()) pair_stale_[pair] = true;
}

std::optional<size_t> PacingStatistics::target_of(const proto::InteractionInfoT& info) const {
  if (!filter_valid_ || !info.user_data) return std::nullopt;
  const query::Value value = query::Operand{query::Operand::Kind::kUserData, vq_key_, {}}.of(info);
  const std::string* vq = std::get_if<std::string>(&value);
  if (vq == nullptr) return std::nullopt;
  auto it = target_by_vq_.find({*vq, info.media_type});
  if (it == target_by_vq_.end()) return std::nullopt;
  if (targets_[it->second].config->tenant != info.tenant_id) return std::nullopt;
  if (!filter_.matches(info)) return std::nullopt;
  return it->second;
}

void PacingStatistics::track(const proto::InteractionInfoT& info, size_t pair, int64_t since_us) {
  std::optional<size_t> target = target_of(info);
  if (!target) return;
  auto [it, inserted] = interactions_.try_emplace(info.interaction_id);
  if (!inserted) return;  // already known (a copy of the submission)
  Tracked& t = it->second;
  t.target = *target;
  t.pair = pair;
  t.waiting_since_us = since_us;
  Target& target_state = targets_[*target];
  ++target_state.waiting;
  target_state.waiting_since_sum_us += static_cast<long double>(since_us);
}

void PacingStatistics::stop_waiting(const Tracked& t) {
  Target& target = targets_[t.target];
  --target.waiting;
  target.waiting_since_sum_us -= static_cast<long double>(t.waiting_since_us);
}

void PacingStatistics::accept(Tracked& t, int64_t at_us) {
  stop_waiting(t);
  Target& target = targets_[t.target];
  ++target.handling;
  t.accepted_at_us = std::max(at_us, t.waiting_since_us);
  target.accepted.add(at_us, seconds(t.accepted_at_us - t.waiting_since_us));
}

void PacingStatistics::finish(const std::string& id, int64_t at_us) {
  auto it = interactions_.find(id);
  if (it == interactions_.end()) return;
  Tracked& t = it->second;
  Target& target = targets_[t.target];
  if (t.accepted_at_us == 0) {
    stop_waiting(t);
    target.abandoned.add(at_us, seconds(std::max<int64_t>(0, at_us - t.waiting_since_us)));
  } else {
    --target.handling;
    target.handled.add(at_us, seconds(std::max<int64_t>(0, at_us - t.accepted_at_us)));
  }
  interactions_.erase(it);
}

void PacingStatistics::on_event(size_t pair, const proto::Envelope& envelope) {
  if (const proto::EventReportingState* state = envelope.body_as_EventReportingState()) {
    return on_state(pair, *state);
  }
  const proto::ReportingHeader* header = wire::reporting_header(envelope);
  if (header == nullptr) return;
  if (pair < seeded_seq_.size() && header->seq() <= seeded_seq_[pair]) {
    ++events_skipped_;  // the pair's snapshot already shows it
    return;
  }
  counting_from(header->timestamp_us());
  if (wire::is_agent_event(envelope.body_type())) {
    on_agent_event(envelope, *header);
  } else {
    on_interaction_event(pair, envelope, *header);
  }
}

void PacingStatistics::on_interaction_event(size_t pair, const proto::Envelope& e, const proto::ReportingHeader& header) {
  using M = proto::Message;
  const int64_t at = header.timestamp_us();
  switch (e.body_type()) {
    case M::EventInteractionSubmitted: {
      const proto::InteractionInfo* info = e.body_as_EventInteractionSubmitted()->interaction();
      proto::InteractionInfoT native;
      info->UnPackTo(&native);
      const size_t before = interactions_.size() + reactive_waiting_.size();
      const int64_t since = native.submitted_at_us > 0 ? native.submitted_at_us : at;
      track(native, pair, since);
      track_reactive(native, pair, since);  // one or the other: the proactive filter decides
      if (interactions_.size() + reactive_waiting_.size() != before) ++events_counted_;
      return;
    }
    case M::EventPartyAdded: {
      const proto::EventPartyAdded* ev = e.body_as_EventPartyAdded();
      if (ev->party_type() == proto::PartyType::Agent && ev->agent_id()) {
        auto agent = agents_.find(agent_key(wire::str(header.tenant_id()), ev->agent_id()->string_view()));
        if (agent != agents_.end()) {
          auto media = agent->second.media.find(wire::str(header.media_type()));
          if (media != agent->second.media.end()) ++media->second.in_hand;
        }
      }
      const std::string id = ev->interaction_id()->str();
      if (stop_reactive(id)) ++events_counted_;  // taken by an agent
      auto it = interactions_.find(id);
      if (it != interactions_.end()) {
        ++it->second.parties;
        if (it->second.accepted_at_us == 0) accept(it->second, at);
        ++events_counted_;
      }
      return;
    }
    case M::EventPartyRemoved: {
      const proto::EventPartyRemoved* ev = e.body_as_EventPartyRemoved();
      if (ev->party_type() == proto::PartyType::Agent && ev->agent_id()) {
        auto agent = agents_.find(agent_key(wire::str(header.tenant_id()), ev->agent_id()->string_view()));
        if (agent != agents_.end()) {
          auto media = agent->second.media.find(wire::str(header.media_type()));
          if (media != agent->second.media.end() && media->second.in_hand > 0) --media->second.in_hand;
        }
      }
      auto it = interactions_.find(ev->interaction_id()->str());
      if (it != interactions_.end() && it->second.accepted_at_us != 0) {
        ++events_counted_;
        // The last party leaving ends the handling; an interaction back in a queue waits again
        // but was already accepted once: it is not a second acceptance.
        if (it->second.parties > 0 && --it->second.parties == 0) finish(it->first, at);
      }
      return;
    }
    case M::EventProcessingStopped: {
      const std::string id = e.body_as_EventProcessingStopped()->interaction_id()->str();
      if (stop_reactive(id)) ++events_counted_;
      if (interactions_.count(id)) {
        ++events_counted_;
        finish(id, at);
      }
      return;
    }
    default:
      return;
  }
}

void PacingStatistics::set_ready(AgentState& agent, const flatbuffers::String* media, bool ready) {
  // Ready for one media, or (no media named) for every media it has. A media the login did not
  // show (its pair's copy of the login was merged away) starts with capacity 1.
  if (media && media->size() > 0) {
    agent.media[media->str()].ready = ready;
  } else {
    for (auto& [name, m] : agent.media) m.ready = ready;
  }
}

void PacingStatistics::on_agent_event(const proto::Envelope& e, const proto::ReportingHeader& header) {
  using M = proto::Message;
  const std::string tenant = wire::str(header.tenant_id());
  auto agent_of = [&](const flatbuffers::String* id) -> AgentState& {
    ++events_counted_;
    return agents_[agent_key(tenant, id->string_view())];
  };
  switch (e.body_type()) {
    case M::EventAgentLogin: {
      const proto::EventAgentLogin* ev = e.body_as_EventAgentLogin();
      AgentState& agent = agent_of(ev->agent_id());
      if (ev->media()) {
        for (const proto::MediaCapacity* m : *ev->media()) {
          agent.media[m->media_type()->str()].capacity = static_cast<uint32_t>(std::max(0, m->capacity()));
        }
      }
      return;
    }
    case M::EventAgentLogout:
      agent_of(e.body_as_EventAgentLogout()->agent_id()) = AgentState{};
      return;
    case M::EventAgentReady: {
      const proto::EventAgentReady* ev = e.body_as_EventAgentReady();
      return set_ready(agent_of(ev->agent_id()), ev->media_type(), true);
    }
    case M::EventAgentNotReady: {
      const proto::EventAgentNotReady* ev = e.body_as_EventAgentNotReady();
      return set_ready(agent_of(ev->agent_id()), ev->media_type(), false);
    }
    case M::EventMediaAdded: {
      const proto::EventMediaAdded* ev = e.body_as_EventMediaAdded();
      AgentState& agent = agent_of(ev->agent_id());
      if (ev->media()) {
        agent.media[ev->media()->media_type()->str()].capacity = static_cast<uint32_t>(std::max(0, ev->media()->capacity()));
      }
      return;
    }
    case M::EventMediaRemoved: {
      const proto::EventMediaRemoved* ev = e.body_as_EventMediaRemoved();
      agent_of(ev->agent_id()).media.erase(wire::str(ev->media_type()));
      return;
    }
    case M::EventDoNotDisturbOn:
      agent_of(e.body_as_EventDoNotDisturbOn()->agent_id()).dnd = true;
      return;
    case M::EventDoNotDisturbOff:
      agent_of(e.body_as_EventDoNotDisturbOff()->agent_id()).dnd = false;
      return;
    default:
      return;
  }
}

void PacingStatistics::counting_from(int64_t now_us) {
  if (now_us > 0 && (counting_since_us_ == 0 || now_us < counting_since_us_)) counting_since_us_ = now_us;
}

void PacingStatistics::seed_pair(size_t pair, uint64_t seq, const std::vector<proto::InteractionInfoT>& open, int64_t now_us) {
  for (auto it = interactions_.begin(); it != interactions_.end();) {
    if (it->second.pair != pair) {
      ++it;
      continue;
    }
    if (it->second.accepted_at_us == 0) {
      stop_waiting(it->second);
    } else {
      --targets_[it->second.target].handling;
    }
    it = interactions_.erase(it);
  }
  for (auto it = reactive_waiting_.begin(); it != reactive_waiting_.end();) {
    if (it->second.pair != pair) {
      ++it;
      continue;
    }
    --reactive_[it->second.queue].waiting;
    it = reactive_waiting_.erase(it);
  }
  for (const proto::InteractionInfoT& info : open) {
    if (info.state != proto::InteractionState::Queued && info.state != proto::InteractionState::Delivering &&
        info.state != proto::InteractionState::Handling) {
      continue;
    }
    if (info.state != proto::InteractionState::Handling) track_reactive(info, pair, std::nullopt);
    const int64_t since = info.submitted_at_us > 0 ? info.submitted_at_us : now_us;
    track(info, pair, since);
    auto it = interactions_.find(info.interaction_id);
    if (it == interactions_.end() || info.state != proto::InteractionState::Handling) continue;
    // Being handled: it was accepted before the snapshot, and is not counted again as accepted.
    stop_waiting(it->second);
    ++targets_[it->second.target].handling;
    it->second.accepted_at_us = std::max(info.placed_at_us, since);
    it->second.parties = 1 + static_cast<uint32_t>(info.conference.size());
  }
  if (seeded_seq_.size() <= pair) seeded_seq_.resize(pair + 1, 0);
  seeded_seq_[pair] = seq;
}

void PacingStatistics::on_state(size_t pair, const proto::EventReportingState& state) {
  std::vector<proto::InteractionInfoT> open;
  if (state.interactions()) {
    open.reserve(state.interactions()->size());
    for (const proto::InteractionInfo* info : *state.interactions()) info->UnPackTo(&open.emplace_back());
  }
  // The snapshot's own time: the newest change it shows (an empty node: nothing waits anyway).
  int64_t now_us = 0;
  for (const proto::InteractionInfoT& i : open) now_us = std::max({now_us, i.submitted_at_us, i.placed_at_us});
  seed_pair(pair, state.seq(), open, now_us);
  if (pair < pair_stale_.size()) pair_stale_[pair] = false;  // rebuilt: current again
  if (!state.agents()) return;
  for (const proto::EventAgentStatus* agent : *state.agents()) {
    if (!agent->logged_in() || !agent->agent_id()) continue;
    std::vector<AgentMediaState> media;
    if (agent->media()) {
      for (const proto::MediaState* m : *agent->media()) {
        media.push_back({m->media_type()->str(), static_cast<uint32_t>(std::max(0, m->capacity())), m->ready(),
                         static_cast<uint32_t>(std::max(0, m->interactions()))});
      }
    }
    seed_agent(wire::str(agent->tenant_id()), agent->agent_id()->str(), agent->do_not_disturb(), std::move(media));
  }
}

void PacingStatistics::seed_agent(const std::string& tenant, const std::string& agent, bool dnd,
                                  std::vector<AgentMediaState> media) {
  // A pair knows the agent's media that it serves: those are replaced, the others kept.
  AgentState& state = agents_[agent_key(tenant, agent)];
  state.dnd = dnd;
  for (AgentMediaState& m : media) state.media[m.media] = {m.capacity, m.ready, m.in_hand};
}

void PacingStatistics::count(AgentCounts& counts, const AgentState& agent, const std::string& media) const {
  auto m = agent.media.find(media);
  if (m == agent.media.end()) return;
  ++counts.logged_in;
  const bool ready = m->second.ready && !agent.dnd;
  if (ready) {
    ++counts.ready;
    if (m->second.capacity > m->second.in_hand) counts.free_capacity += m->second.capacity - m->second.in_hand;
  } else {
    ++counts.not_ready;
  }
  if (m->second.in_hand > 0) {
    ++counts.busy;
    counts.busy_capacity += m->second.in_hand;
  }
}

TargetFigures PacingStatistics::figures(size_t index, int64_t now_us) const {
  const Target& t = targets_[index];
  TargetFigures f;
  f.target = t.config;
  f.waiting = t.waiting;
  f.waiting_seconds = static_cast<double>(std::max<long double>(0, (static_cast<long double>(now_us) * t.waiting - t.waiting_since_sum_us) / 1e6L));
  f.accepted = windows(t.accepted, now_us);
  f.abandoned = windows(t.abandoned, now_us);
  f.handled = windows(t.handled, now_us);
  f.handling = t.handling;
  for (size_t q : t.reactive) {
    f.other_waiting += reactive_[q].waiting;
    const std::array<WindowCounts, 3> arrivals = windows(reactive_[q].arrivals, now_us);
    for (size_t w = 0; w < arrivals.size(); ++w) f.reactive_arrivals[w].count += arrivals[w].count;
  }
  for (const AgentState* agent : t.agents) count(f.agents, *agent, t.config->media);
  for (size_t pair : t.pairs) {
    if (pair_stale_[pair]) f.stale_pairs.push_back(pair_ids_[pair]);
  }
  if (counting_since_us_ != 0) f.counting_seconds = std::max(0.0, static_cast<double>(now_us - counting_since_us_) / 1e6);
  return f;
}

AgentCounts PacingStatistics::group_counts(const std::string& group, const std::string& media) const {
  AgentCounts counts;
  auto it = group_agents_.find(group);
  if (it == group_agents_.end()) return counts;
  for (const AgentState* agent : it->second) count(counts, *agent, media);
  return counts;
}

}  // namespace ix::pacing
