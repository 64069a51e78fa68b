// A synthetic merged reporting stream for the pacing benchmarks (pacing_engine_bench,
// pacing_feed_bench): a cluster configuration with N pacing targets, each a virtual queue with its
// own group of agents, and the events of agents logging in and going ready, then proactive
// interactions arriving, two thirds accepted and handled, one third abandoned. Single-threaded
// helpers, no state.
#pragma once

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"

namespace ix::perf::pacing_stream {

inline constexpr int64_t kSecond = 1'000'000;
inline constexpr int64_t kStart = 1'700'000'000 * kSecond;
inline constexpr int kAgentsPerTarget = 5;

// N pacing targets on one tenant, each a virtual queue with its own group of agents.
inline std::shared_ptr<config::ClusterConfig> cluster(int targets) {
  auto c = std::make_shared<config::ClusterConfig>();
  c->tenants.push_back({"101", ""});
  c->pacing = config::PacingService{};
  c->pacing->tenant = "101";
  c->pacing->refresh_period = std::chrono::seconds(1);
  c->pacing->proactive_filter = "interaction_subtype = 'Proactive'";
  c->pacing->virtual_queue_key = "VirtualQueue";
  for (int t = 0; t < targets; ++t) {
    const std::string vq = "VQ " + std::to_string(t);
    config::AgentGroup group{"G " + std::to_string(t), "101", {}, {vq}};
    for (int a = 0; a < kAgentsPerTarget; ++a) group.agents.push_back("a" + std::to_string(t * kAgentsPerTarget + a));
    c->agent_groups.push_back(group);
    c->pacing_targets.push_back({vq + " - chat", vq, "101", "chat", 3.0, {group.id}});
  }
  return c;
}

template <class Event>
inline wire::Frame frame(Event event, uint64_t seq, int64_t at, const std::string& agent = "") {
  event.header = std::make_unique<proto::ReportingHeaderT>();
  event.header->node_id = "pair-1";
  event.header->seq = seq;
  event.header->timestamp_us = at;
  event.header->tenant_id = "101";
  event.header->media_type = "chat";
  event.header->agent_id = agent;
  return wire::encode_frame(0, 0, event);
}

// A stream over `targets` targets: every agent logs in and goes ready, then interactions arrive,
// two thirds are accepted and handled, one third abandoned.
inline std::vector<wire::Frame> stream(int targets, int interactions) {
  std::vector<wire::Frame> out;
  uint64_t seq = 0;
  int64_t at = kStart;
  for (int a = 0; a < targets * kAgentsPerTarget; ++a) {
    proto::EventAgentLoginT login;
    login.agent_id = "a" + std::to_string(a);
    auto m = std::make_unique<proto::MediaCapacityT>();
    m->media_type = "chat";
    m->capacity = 2;
    login.media.push_back(std::move(m));
    out.push_back(frame(std::move(login), ++seq, at));
    proto::EventAgentReadyT ready;
    ready.agent_id = "a" + std::to_string(a);
    ready.media_type = "chat";
    out.push_back(frame(std::move(ready), ++seq, at));
  }
  std::mt19937 random(1);
  for (int i = 0; i < interactions; ++i) {
    at += 10'000;
    const int target = static_cast<int>(random() % static_cast<unsigned>(targets));
    const std::string id = "i" + std::to_string(i);
    proto::EventInteractionSubmittedT submitted;
    submitted.interaction = std::make_unique<proto::InteractionInfoT>();
    submitted.interaction->interaction_id = id;
    submitted.interaction->tenant_id = "101";
    submitted.interaction->media_type = "chat";
    submitted.interaction->interaction_subtype = "Proactive";
    submitted.interaction->submitted_at_us = at;
    submitted.interaction->user_data = wire::kv_list({{"VirtualQueue", "VQ " + std::to_string(target)}});
    out.push_back(frame(std::move(submitted), ++seq, at));
    const std::string agent = "a" + std::to_string(target * kAgentsPerTarget + i % kAgentsPerTarget);
    if (i % 3 == 0) {
      proto::EventProcessingStoppedT stop;
      stop.interaction_id = id;
      out.push_back(frame(std::move(stop), ++seq, at + 5 * kSecond));
      continue;
    }
    proto::EventPartyAddedT added;
    added.interaction_id = id;
    added.agent_id = agent;
    out.push_back(frame(std::move(added), ++seq, at + kSecond, agent));
    proto::EventPartyRemovedT removed;
    removed.interaction_id = id;
    removed.agent_id = agent;
    out.push_back(frame(std::move(removed), ++seq, at + 60 * kSecond, agent));
    proto::EventProcessingStoppedT stop;
    stop.interaction_id = id;
    out.push_back(frame(std::move(stop), ++seq, at + 61 * kSecond));
  }
  return out;
}

}  // namespace ix::perf::pacing_stream
