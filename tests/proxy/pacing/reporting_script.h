// A scripted merged reporting stream for the pacing tests: a small cluster configuration with
// two pacing targets (chat, and email with a blended group) and an inbound virtual queue, and helpers that encode reporting
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
#include "tests/support/config_builder.h"
#include "proxy/pacing/pacing_statistics.h"

namespace ix::pacing::test {

using ix::test::ConfigBuilder;

// Two pacing targets: chat (groups Chat and Blended) and email (Blended only, goal 5 %). Group
// Chat also serves the inbound virtual queue "VQ Inbound" (no pacing section): reactive traffic.
inline std::string pacing_config() {
  ConfigBuilder c;
  c.tenant("101").media_type("chat").media_type("email");
  c.node_pair("pair-1", "p1", {"101"}, {"chat", "email"})
      .endpoint("primary", 7101, 9101)
      .endpoint("backup", 7102, 9102)
      .set_in("storage", "sqlite-path", "p1.db");
  c.agent("a1", "101").agent("a2", "101").agent("a3", "101");
  c.paced_virtual_queue("VQ Chat", "101", "chat");
  c.paced_virtual_queue("VQ Email", "101", "email", 5);
  c.add("virtual-queues").set("id", "VQ Inbound").set("tenant", "101");  // reactive traffic, no pacing
  c.agent_group("Chat", "101", {"a1", "a2"}, {"VQ Chat", "VQ Inbound"});
  c.agent_group("Blended", "101", {"a2", "a3"}, {"VQ Chat", "VQ Email"});
  c.pacing("101");
  return c.text();
}

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

class ReportingScript : public ::testing::Test {
 protected:
  void SetUp() override {
    config::LoadResult loaded = config::load_config_text(pacing_config(), "pacing.toml", "/tmp");
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
