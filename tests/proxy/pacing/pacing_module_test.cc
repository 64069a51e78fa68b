// The pacing module's thread: it takes what the feed published when woken, decides every
// refresh period, and publishes its status and metrics for other threads.
#include "proxy/pacing/pacing_module.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "tests/proxy/pacing/reporting_script.h"

namespace ix::pacing {
namespace {

using test::kStart;

class PacingModuleTest : public test::ReportingScript {
 protected:
  // Events fed by the script go to a queue the module takes from, as the feed would hold them.
  PacingStatistics& sink() override { return *scratch_; }
  void SetUp() override {
    ReportingScript::SetUp();
    auto config = std::make_shared<config::ClusterConfig>(*config_);
    config->pacing->refresh_period = std::chrono::milliseconds(50);
    module_config_ = config;
    scratch_ = std::make_unique<PacingStatistics>(*config_);
  }
  void publish_recorded() {
    std::lock_guard lock(mutex_);
    for (const Recorded& r : recorded_) {
      proxy::FeedEvent e;
      e.pair = r.pair;
      e.pair_id = module_config_->node_pairs[r.pair].id;
      e.payload = std::make_shared<const std::vector<uint8_t>>(r.frame.begin() + wire::kFrameHeaderSize, r.frame.end());
      queue_.push_back(std::move(e));
    }
    recorded_.clear();
  }
  PacingModule::Source source() {
    return {[this] {
              std::lock_guard lock(mutex_);
              return std::exchange(queue_, {});
            },
            [this] { return streaming_.load(); },
            nullptr,  // no lease: never master, never posts
            [this] {  // as the feed would: a cut-off consumer is fed again, nothing else is
              if (!cut_off_.exchange(false)) return false;
              ++rejoins_;
              streaming_ = true;
              return true;
            }};
  }
  // Polls the module's status until pred holds or two seconds pass.
  bool eventually(PacingModule& module, const std::function<bool(const nlohmann::json&)>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(module.status())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<PacingStatistics> scratch_;
  std::shared_ptr<const config::ClusterConfig> module_config_;
  std::mutex mutex_;
  std::vector<proxy::FeedEvent> queue_;
  std::atomic<bool> streaming_{true};
  std::atomic<bool> cut_off_{false};
  std::atomic<int> rejoins_{0};
};

TEST_F(PacingModuleTest, DecidesEveryRefreshPeriodOnWhatTheFeedPublished) {
  metrics::Registry metrics;
  PacingModule module(module_config_, "proxy-1", metrics);
  module.start(source());
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  publish_recorded();
  module.wake();
  EXPECT_TRUE(eventually(module, [](const nlohmann::json& s) {
    return s.contains("stale") && s["targets"][0]["agents"]["ready"] == 1 && s["targets"][0].contains("decision") &&
           s["targets"][0]["decision"]["invitations"].get<int>() >= 1;
  })) << module.status().dump(2);
  EXPECT_EQ(metrics.values("ix_pacing_agents_ready").size(), 2u) << "one series per target";
  EXPECT_NE(metrics.render().find("ix_pacing_invitations_allowed{target=\"VQ Chat - chat\"}"), std::string::npos);
  // The estimates the decision used, as the status shows them.
  const nlohmann::json estimates = module.status()["targets"][0]["estimates"];
  EXPECT_EQ(metrics.values("ix_pacing_estimate").size(), 10u) << "five per target";
  int compared = 0;
  for (const auto& [labels, value] : metrics.values("ix_pacing_estimate")) {
    for (const char* estimate : {"acceptance", "patience_seconds"}) {
      if (labels != metrics::Labels{{"target", "VQ Chat - chat"}, {"estimate", estimate}}) continue;
      EXPECT_DOUBLE_EQ(value, estimates[estimate].get<double>()) << estimate;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 2);

  streaming_ = false;  // the stream stopped: progressive pacing, and the status says so
  EXPECT_TRUE(eventually(module, [](const nlohmann::json& s) {
    return s["stale"] == true && s["targets"][0]["decision"]["mode"] == "progressive";
  })) << module.status().dump(2);
  module.stop();
  module.stop();  // idempotent
}

// Two pairs: pair-1 serves chat, pair-2 email. When pair-2's stream stops (the feed says so
// when the proxy loses the pair), the email target is paced progressively and its status names
// the pair; chat, which pair-2 does not serve, stays on the model. pair-2's state, when it is
// back, makes email current again.
TEST_F(PacingModuleTest, APairWhoseStreamStoppedMakesTheTargetsItServesStaleUntilItsStateIsBack) {
  auto config = std::make_shared<config::ClusterConfig>(*module_config_);
  config->node_pairs.push_back(config->node_pairs[0]);
  config->node_pairs[0].media_types = {"chat"};
  config->node_pairs[1].id = "pair-2";
  config->node_pairs[1].tag = "p2";
  config->node_pairs[1].media_types = {"email"};
  module_config_ = config;
  metrics::Registry metrics;
  PacingModule module(module_config_, "proxy-1", metrics);
  module.start(source());
  login("a2", {{"chat", 1}, {"email", 1}}, kStart);
  ready("a2", "chat", true, kStart);
  ready("a2", "email", true, kStart);
  publish_recorded();
  module.wake();
  auto mode = [](const nlohmann::json& s, size_t target) -> std::string {
    const nlohmann::json& t = s["targets"][target];
    return t.contains("decision") ? t["decision"]["mode"].get<std::string>() : "";
  };
  EXPECT_TRUE(eventually(module, [&](const nlohmann::json& s) {
    return mode(s, 0) == "model" && mode(s, 1) == "model" && s["targets"][1]["agents"]["ready"] == 1;
  })) << module.status().dump(2);

  {
    std::lock_guard lock(mutex_);
    proxy::FeedEvent stopped;
    stopped.pair = 1;
    stopped.pair_id = config->node_pairs[1].id;
    stopped.stream_stopped = true;
    queue_.push_back(std::move(stopped));
  }
  module.wake();
  EXPECT_TRUE(eventually(module, [&](const nlohmann::json& s) {
    return mode(s, 1) == "progressive" && s["targets"][1]["stale"] == true &&
           s["targets"][1]["stale_pairs"] == nlohmann::json::array({"pair-2"});
  })) << module.status().dump(2);
  nlohmann::json status = module.status();
  EXPECT_EQ(mode(status, 0), "model") << "pair-2 does not serve chat";
  EXPECT_EQ(status["targets"][0]["stale"], false);
  EXPECT_EQ(status["stale"], false) << "the stream as a whole still flows";
  std::map<std::string, double> stale_gauges;
  for (const auto& [labels, value] : metrics.values("ix_pacing_stale")) {
    for (const auto& [key, label] : labels) {
      if (key == "target") stale_gauges[label] = value;
    }
  }
  EXPECT_EQ(stale_gauges, (std::map<std::string, double>{{"VQ Chat - chat", 0}, {"VQ Email - email", 1}}));

  // pair-2 is back: its state (published before its stream resumes) makes email current again.
  proto::EventReportingStateT state;
  state.node_id = "pair-2";
  state.seq = 0;
  recorded_.push_back({1, wire::encode_frame(0, 0, state)});
  publish_recorded();
  module.wake();
  EXPECT_TRUE(eventually(module, [&](const nlohmann::json& s) {
    return mode(s, 1) == "model" && s["targets"][1]["stale"] == false && s["targets"][1]["stale_pairs"].empty();
  })) << module.status().dump(2);
  module.stop();
}

// Cut off by the feed (it fell too far behind), the module rejoins at its next cycle; it has
// missed events, so every pair's targets are paced progressively until the pair's state (which
// worker 0 publishes again) has rebuilt them — then it decides on the model again.
TEST_F(PacingModuleTest, ACutOffModuleRejoinsTheFeedAndIsCurrentOnceThePairsStateIsIn) {
  metrics::Registry metrics;
  PacingModule module(module_config_, "proxy-1", metrics);
  module.start(source());
  login("a1", {{"chat", 1}}, kStart);
  ready("a1", "chat", true, kStart);
  publish_recorded();
  module.wake();
  auto mode = [](const nlohmann::json& s) -> std::string {
    const nlohmann::json& t = s["targets"][0];
    return t.contains("decision") ? t["decision"]["mode"].get<std::string>() : "";
  };
  ASSERT_TRUE(eventually(module, [&](const nlohmann::json& s) { return mode(s) == "model"; })) << module.status().dump(2);
  EXPECT_EQ(rejoins_, 0) << "never cut off: nothing to rejoin";

  streaming_ = false;
  cut_off_ = true;
  EXPECT_TRUE(eventually(module, [&](const nlohmann::json& s) {
    return rejoins_ == 1 && s["stale"] == false && mode(s) == "progressive" && s["targets"][0]["stale"] == true &&
           s["targets"][0]["stale_pairs"] == nlohmann::json::array({"pair-1"});
  })) << module.status().dump(2);

  // The pair's state, published again after the rejoin, rebuilds it: one agent ready, on the model.
  proto::EventReportingStateT state;
  state.node_id = "pair-1";
  state.seq = 0;
  auto agent = std::make_unique<proto::EventAgentStatusT>();
  agent->tenant_id = "101";
  agent->agent_id = "a1";
  agent->logged_in = true;
  auto chat = std::make_unique<proto::MediaStateT>();
  chat->media_type = "chat";
  chat->capacity = 1;
  chat->ready = true;
  agent->media.push_back(std::move(chat));
  state.agents.push_back(std::move(agent));
  recorded_.push_back({0, wire::encode_frame(0, 0, state)});
  publish_recorded();
  module.wake();
  EXPECT_TRUE(eventually(module, [&](const nlohmann::json& s) {
    return mode(s) == "model" && s["targets"][0]["stale"] == false && s["targets"][0]["stale_pairs"].empty() &&
           s["targets"][0]["agents"]["ready"] == 1;
  })) << module.status().dump(2);
  EXPECT_EQ(rejoins_, 1);
  module.stop();
}

}  // namespace
}  // namespace ix::pacing
