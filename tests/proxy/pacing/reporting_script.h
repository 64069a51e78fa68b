// A scripted merged reporting stream for the pacing tests: a small cluster configuration with
// two pacing targets (chat, and email with a blended group), and helpers that encode reporting
// events as the proxy's feed carries them, feed them to a PacingStatistics, and record them for
// replay.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster-config/loader.h"
#include "protocol/wire/kv.h"
#include "protocol/wire/messages.h"
#include "proxy/pacing/pacing_statistics.h"

namespace ix::pacing::test {

inline constexpr const char* kConfig = R"(
[[tenants]]
id = "101"
[[media-types]]
name = "chat"
[[media-types]]
name = "email"
[[node-pairs]]
id = "pair-1"
tag = "p1"
tenants = ["101"]
[node-pairs.primary]
host = "127.0.0.1"
port = 7101
admin-port = 9101
[node-pairs.backup]
host = "127.0.0.1"
port = 7102
admin-port = 9102
[node-pairs.storage]
sqlite-path = "p1.db"
[[agents]]
id = "a1"
tenant = "101"
[[agents]]
id = "a2"
tenant = "101"
[[agents]]
id = "a3"
tenant = "101"
[[virtual-queues]]
id = "VQ Chat"
tenant = "101"
[virtual-queues.pacing]
media = "chat"
[[virtual-queues]]
id = "VQ Email"
tenant = "101"
[virtual-queues.pacing]
media = "email"
optimizationGoal = 5
[[agent-groups]]
id = "Chat"
tenant = "101"
agents = ["a1", "a2"]
origination-dns = ["VQ Chat"]
[[agent-groups]]
id = "Blended"
tenant = "101"
agents = ["a2", "a3"]
origination-dns = ["VQ Chat", "VQ Email"]
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
[pacing.endpoint]
base-urls = ["https://engage.example/api/"]
)";

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

class ReportingScript : public ::testing::Test {
 protected:
  void SetUp() override {
    config::LoadResult loaded = config::load_config_text(kConfig, "pacing.toml", "/tmp");
    ASSERT_TRUE(loaded.ok()) << loaded.error_text();
    config_ = loaded.config;
    stats_ = std::make_unique<PacingStatistics>(*config_);
  }
  // Where fed events go (default: stats_).
  virtual PacingStatistics& sink() { return *stats_; }

  template <class Event>
  void feed(Event event, int64_t at_us, size_t pair = 0, std::string media = "") {
    event.header = std::make_unique<proto::ReportingHeaderT>();
    event.header->node_id = "pair-" + std::to_string(pair + 1);
    event.header->seq = ++seq_[pair];
    event.header->timestamp_us = at_us;
    event.header->tenant_id = "101";
    event.header->media_type = std::move(media);
    recorded_.push_back({pair, wire::encode_frame(0, 0, event)});
    apply(sink(), recorded_.back());
  }

  struct Recorded {
    size_t pair;
    wire::Frame frame;
  };
  static void apply(PacingStatistics& stats, const Recorded& r) {
    std::span<const uint8_t> payload(r.frame.data() + wire::kFrameHeaderSize, r.frame.size() - wire::kFrameHeaderSize);
    Result<const proto::Envelope*> envelope = wire::verify_envelope(payload);
    ASSERT_TRUE(envelope.ok());
    stats.on_event(r.pair, **envelope);
  }

  static proto::InteractionInfoT info(const std::string& id, const std::string& vq, const std::string& media = "chat",
                                      const std::string& subtype = "Proactive") {
    proto::InteractionInfoT i;
    i.interaction_id = id;
    i.tenant_id = "101";
    i.media_type = media;
    i.interaction_type = "Inbound";
    i.interaction_subtype = subtype;
    i.queue = "inbound";
    i.state = proto::InteractionState::Queued;
    i.user_data = wire::kv_list({{"VirtualQueue", vq}});
    return i;
  }

  void submit(const std::string& id, const std::string& vq, int64_t at, const std::string& media = "chat",
              const std::string& subtype = "Proactive", size_t pair = 0) {
    proto::EventInteractionSubmittedT e;
    e.interaction = std::make_unique<proto::InteractionInfoT>(info(id, vq, media, subtype));
    e.interaction->submitted_at_us = at;
    feed(std::move(e), at, pair, media);
  }
  void party(const std::string& id, const std::string& agent, int64_t at, bool added, const std::string& media = "chat",
             size_t pair = 0) {
    if (added) {
      proto::EventPartyAddedT e;
      e.interaction_id = id;
      e.agent_id = agent;
      feed(std::move(e), at, pair, media);
    } else {
      proto::EventPartyRemovedT e;
      e.interaction_id = id;
      e.agent_id = agent;
      feed(std::move(e), at, pair, media);
    }
  }
  void stop(const std::string& id, int64_t at, size_t pair = 0) {
    proto::EventProcessingStoppedT e;
    e.interaction_id = id;
    feed(std::move(e), at, pair);
  }
  void login(const std::string& agent, std::vector<std::pair<std::string, int>> media, int64_t at) {
    proto::EventAgentLoginT e;
    e.agent_id = agent;
    for (auto& [name, capacity] : media) {
      auto m = std::make_unique<proto::MediaCapacityT>();
      m->media_type = name;
      m->capacity = capacity;
      e.media.push_back(std::move(m));
    }
    feed(std::move(e), at);
  }
  void ready(const std::string& agent, const std::string& media, bool is_ready, int64_t at) {
    if (is_ready) {
      proto::EventAgentReadyT e;
      e.agent_id = agent;
      e.media_type = media;
      feed(std::move(e), at);
    } else {
      proto::EventAgentNotReadyT e;
      e.agent_id = agent;
      e.media_type = media;
      feed(std::move(e), at);
    }
  }

  TargetFigures chat(int64_t now) { return stats_->figures(0, now); }
  TargetFigures email(int64_t now) { return stats_->figures(1, now); }

  std::shared_ptr<const config::ClusterConfig> config_;
  std::unique_ptr<PacingStatistics> stats_;
  std::map<size_t, uint64_t> seq_;
  std::vector<Recorded> recorded_;
};

}  // namespace ix::pacing::test
