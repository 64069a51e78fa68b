// The pacing module in a running cluster: the real ixnode pairs and ixproxy. The proxy's pacing
// statistics start from the pairs' state (what was waiting before the proxy started), follow
// the merged stream from there, survive a pair's failover without counting anything twice, and
// show up on /status, in the metrics and in `ixctl pacing status`.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "protocol/wire/kv.h"
#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"

namespace ix::test {
namespace {

class PacingProcessTest : public ClusterFixture {
 protected:
  void extend_config(ConfigBuilder& c) const override {
    if (with_chat_) {
      c.paced_virtual_queue("VQ Chat", "101", "chat");
      c.add("virtual-queues").set("id", "VQ Inbound").set("tenant", "101");  // reactive chats, no pacing
      c.agent_group("Chat", "101", {"a1", "a2"}, {"VQ Chat", "VQ Inbound"});  // blended: proactive and inbound
    }
    if (with_sales_) {
      c.paced_virtual_queue("VQ Sales", "101", "chat", 2);
      c.agent_group("Sales", "101", {"a2"}, {"VQ Sales"});
    }
    c.pacing("101", "1s");
    if (!priors_.empty()) c.raw("[pacing.priors]\n" + priors_);
  }

  // The pacing section of proxy-1's /status, once pred holds for it (or the last seen).
  nlohmann::json pacing_when(const std::function<bool(const nlohmann::json&)>& pred) {
    nlohmann::json last;
    loop_.run_until([&] {
      nlohmann::json status = nlohmann::json::parse(proxy_status(0), nullptr, false);
      if (status.is_discarded() || !status.contains("pacing")) return false;
      last = status["pacing"];
      return pred(last);
    }, 15'000);
    return last;
  }

  // The pacing targets on proxy-1's /status (names), once pred holds for them.
  bool targets_become(const std::function<bool(const nlohmann::json&)>& pred, nlohmann::json& last) {
    return loop_.run_until([&] {
      nlohmann::json status = nlohmann::json::parse(proxy_status(0), nullptr, false);
      if (status.is_discarded() || !status.contains("pacing")) return false;
      last = status["pacing"]["targets"];
      return pred(last);
    }, 15'000);
  }

  bool with_chat_ = true;
  bool with_sales_ = false;
  std::string priors_;  // the [pacing.priors] keys, if any

  static proto::RequestSubmitT proactive(const std::string& vq = "VQ Chat") {
    proto::RequestSubmitT r = chat_submit();
    r.interaction_subtype = "Proactive";
    r.user_data = wire::kv_list({{"VirtualQueue", vq}});
    return r;
  }

  // The first pacing target on proxy-1's /status, once pred holds for it (or the last seen).
  nlohmann::json target_when(const std::function<bool(const nlohmann::json&)>& pred, uint64_t timeout_ms = 15'000) {
    nlohmann::json last;
    const auto deadline = uv_now(loop_.get()) + timeout_ms;
    while (uv_now(loop_.get()) < deadline) {
      nlohmann::json status = nlohmann::json::parse(proxy_status(0), nullptr, false);
      if (!status.is_discarded() && status.contains("pacing") && !status["pacing"]["targets"].empty()) {
        last = status["pacing"]["targets"][0];
        if (pred(last)) return last;
      }
      loop_.run_for(100);
    }
    ADD_FAILURE() << "the pacing target never got there; last seen: " << last.dump(2);
    return last;
  }
};

TEST_F(PacingProcessTest, StartsFromThePairsStateFollowsTheStreamSurvivesAFailoverAndShowsEverywhere) {
  start_pair(0);
  start_pair(1);
  // Waiting before the proxy exists: only the pair's state can tell the pacing module.
  auto media_server = node_client(0, proto::ClientType::MediaServer);
  ASSERT_TRUE(media_server);
  EnvelopePtr before = media_server->call(proactive());
  ASSERT_TRUE(before && before->body.AsEventSubmitted()) << error_text(before);
  EnvelopePtr reactive = media_server->call(chat_submit());  // not proactive: never counted
  ASSERT_TRUE(reactive && reactive->body.AsEventSubmitted()) << error_text(reactive);

  start_proxy(0);
  ASSERT_TRUE(wait_ready(0));
  nlohmann::json t = target_when([](const nlohmann::json& s) { return s["waiting"] == 1; });
  EXPECT_EQ(t["target"], "VQ Chat - chat");

  // From the stream: an agent of the group goes ready, a second proactive interaction waits
  // and the first is abandoned.
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));
  auto through_proxy = proxy_client(0, proto::ClientType::MediaServer);
  EnvelopePtr after = through_proxy->call(proactive());
  ASSERT_TRUE(after && after->body.AsEventSubmitted()) << error_text(after);
  proto::RequestStopProcessingT stop;
  stop.interaction_id = before->body.AsEventSubmitted()->interaction_id;
  EnvelopePtr stopped = through_proxy->call(stop);
  ASSERT_TRUE(stopped && stopped->body.AsEventAck()) << error_text(stopped);

  t = target_when([](const nlohmann::json& s) {
    return s["waiting"] == 1 && s["agents"]["ready"] == 1 && s["windows"]["1m"]["abandoned"] == 1 && s.contains("decision");
  });
  EXPECT_EQ(t["agents"]["logged_in"], 1);
  EXPECT_GE(t["decision"]["invitations"].get<int>(), 0);

  const std::string metrics = proxy_metrics(0);
  EXPECT_NE(metrics.find("ix_pacing_waiting{target=\"VQ Chat - chat\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ix_pacing_agents_ready{target=\"VQ Chat - chat\"} 1"), std::string::npos);

  // pair-1's primary dies; its backup takes over and the proxy rebuilds pair-1's part from the
  // new primary's state. Nothing is lost or counted twice: one more proactive chat waits.
  nodes_[0][0]->kill(SIGKILL);
  EnvelopePtr third;
  for (int attempt = 0; attempt < 100 && !(third && third->body.AsEventSubmitted()); ++attempt) {
    third = through_proxy->call(proactive());
    if (!(third && third->body.AsEventSubmitted())) loop_.run_for(100);
  }
  ASSERT_TRUE(third && third->body.AsEventSubmitted()) << error_text(third);
  t = target_when([](const nlohmann::json& s) { return s["waiting"] == 2; });
  EXPECT_EQ(t["windows"]["1m"]["abandoned"], 1) << "the abandonment before the failover, once";
  EXPECT_EQ(t["windows"]["1m"]["accepted"], 0);

  CommandResult json = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string(), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json printed = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(printed.is_discarded()) << json.out;
  EXPECT_EQ(printed["proxy"], "proxy-1");
  EXPECT_EQ(printed["pacing"]["targets"][0]["waiting"], 2);
  CommandResult human = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string()});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("VQ Chat - chat"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("1 ready"), std::string::npos) << human.out;
}

// proxy-1 is killed (kill -9) and started again: its statistics start once more from the pairs'
// state — what waits now, the agents as they are — and follow the stream from there. What
// happened while it was down is in the state (a chat abandoned meanwhile no longer waits) and
// nothing from before the restart is counted twice.
TEST_F(PacingProcessTest, AProxyKilledAndStartedAgainRebuildsItsStatisticsFromThePairs) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  start_proxy(1);
  auto desktop = proxy_client(1, proto::ClientType::AgentApplication);  // through the proxy that stays up
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));
  std::vector<std::string> waiting;
  for (int pair : {0, 1, 1}) {
    EnvelopePtr submitted = node_client(pair, proto::ClientType::MediaServer)->call(proactive());
    ASSERT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);
    waiting.push_back(submitted->body.AsEventSubmitted()->interaction_id);
  }
  target_when([](const nlohmann::json& s) { return s["waiting"] == 3 && s["agents"]["ready"] == 1; });

  proxies_[0]->kill(SIGKILL);
  // While it is down: one proactive chat is abandoned, another submitted.
  proto::RequestStopProcessingT stop;
  stop.interaction_id = waiting[2];
  EnvelopePtr stopped = node_client(1, proto::ClientType::MediaServer)->call(stop);
  ASSERT_TRUE(stopped && stopped->body.AsEventAck()) << error_text(stopped);
  EnvelopePtr meanwhile = node_client(0, proto::ClientType::MediaServer)->call(proactive());
  ASSERT_TRUE(meanwhile && meanwhile->body.AsEventSubmitted()) << error_text(meanwhile);

  start_proxy(0);
  nlohmann::json t = target_when([](const nlohmann::json& s) { return s["waiting"] == 3 && s["agents"]["ready"] == 1 && s.contains("decision"); });
  EXPECT_EQ(t["agents"]["logged_in"], 1);
  EXPECT_EQ(t["windows"]["15m"]["abandoned"], 0) << "abandoned before this proxy started: in none of its windows";
  EXPECT_EQ(t["windows"]["15m"]["accepted"], 0);

  // From the stream of the restarted proxy: one more, counted once.
  EnvelopePtr after = proxy_client(0, proto::ClientType::MediaServer)->call(proactive());
  ASSERT_TRUE(after && after->body.AsEventSubmitted()) << error_text(after);
  target_when([](const nlohmann::json& s) { return s["waiting"] == 4; });
  loop_.run_for(2500);  // two more refresh periods: nothing arrives late or twice
  t = target_when([](const nlohmann::json& s) { return s.contains("decision"); });
  EXPECT_EQ(t["waiting"], 4);
  EXPECT_EQ(t["agents"]["ready"], 1);
}

// The chat agents are blended: their group also serves "VQ Inbound". A reactive chat submitted
// there is what the pacer sees as other waiting and a reactive arrival; [pacing.priors] from the
// file are what it assumes; both show on /status and in `ixctl pacing status`, and a reload
// changes the priors.
TEST_F(PacingProcessTest, ReactiveTrafficAndThePriorsReachThePacerAndShowInTheStatus) {
  priors_ = "acceptance = 0.4\npatience = \"45s\"\n";
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  ASSERT_TRUE(wait_ready(0));
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  proto::RequestSubmitT inbound = chat_submit();
  inbound.user_data = wire::kv_list({{"VirtualQueue", "VQ Inbound"}});
  EnvelopePtr submitted = media->call(inbound);
  ASSERT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);

  nlohmann::json t = target_when([](const nlohmann::json& s) {
    return s["other_waiting"] == 1 && s["windows"]["15m"]["reactive_arrivals"] == 1 && s.contains("decision");
  });
  EXPECT_EQ(t["waiting"], 0) << "not a proactive interaction";
  EXPECT_TRUE(t["invitations"]["acceptance_observed"].is_null()) << "no engagement service answered";
  EXPECT_DOUBLE_EQ(t["estimates"]["acceptance"].get<double>(), 0.4) << "nothing observed: the configured prior";
  nlohmann::json pacing = pacing_when([](const nlohmann::json& p) { return p.contains("priors"); });
  EXPECT_DOUBLE_EQ(pacing["priors"]["acceptance"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(pacing["priors"]["patience_seconds"].get<double>(), 45);

  CommandResult human = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string()});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("other waiting 1"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("1 reactive arrivals"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("no acceptance observed: the prior"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("priors: acceptance 0.40"), std::string::npos) << human.out;

  priors_ = "acceptance = 0.6\n";
  write_config();
  proxies_[0]->signal(SIGHUP);
  pacing = pacing_when([](const nlohmann::json& p) { return p.contains("priors") && p["priors"]["acceptance"] == 0.6; });
  EXPECT_DOUBLE_EQ(pacing["priors"]["acceptance"].get<double>(), 0.6) << proxies_[0]->log();
  EXPECT_DOUBLE_EQ(pacing["priors"]["patience_seconds"].get<double>(), 60) << "back to the default";
}

// A configuration reload (SIGHUP) that adds a pacing target and removes another changes the
// module's targets: the new one is decided at once and counts what already waited for it (the
// pairs' states are asked for again), the removed one is gone from /status, and `ixctl pacing
// status` shows the new target. Then a pair serving it goes down: the target is stale.
TEST_F(PacingProcessTest, AReloadChangesTheTargetsAndAPairGoingDownMakesThemStale) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  ASSERT_TRUE(wait_ready(0));
  target_when([](const nlohmann::json& s) { return s["target"] == "VQ Chat - chat" && s.contains("decision"); });
  // A proactive chat for a virtual queue that is not a pacing target yet: counted nowhere.
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  EnvelopePtr early = media->call(proactive("VQ Sales"));
  ASSERT_TRUE(early && early->body.AsEventSubmitted()) << error_text(early);

  with_chat_ = false;
  with_sales_ = true;
  write_config();
  proxies_[0]->signal(SIGHUP);
  nlohmann::json targets;
  EXPECT_TRUE(targets_become([](const nlohmann::json& t) {
    return t.size() == 1 && t[0]["target"] == "VQ Sales - chat" && t[0]["goal_percent"] == 2 && t[0]["waiting"] == 1 &&
           t[0].contains("decision");
  }, targets)) << targets.dump(2) << proxies_[0]->log();

  // What is submitted from now on counts for the new target.
  EnvelopePtr later = media->call(proactive("VQ Sales"));
  ASSERT_TRUE(later && later->body.AsEventSubmitted()) << error_text(later);
  EXPECT_TRUE(targets_become([](const nlohmann::json& t) { return t.size() == 1 && t[0]["waiting"] == 2; }, targets))
      << targets.dump(2);

  CommandResult json = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string(), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json printed = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_FALSE(printed.is_discarded()) << json.out;
  ASSERT_EQ(printed["pacing"]["targets"].size(), 1u) << json.out;
  EXPECT_EQ(printed["pacing"]["targets"][0]["target"], "VQ Sales - chat");
  CommandResult human = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string()});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("VQ Sales - chat"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find("VQ Chat - chat"), std::string::npos) << human.out;
  const std::string metrics = proxy_metrics(0);
  EXPECT_NE(metrics.find("ix_pacing_waiting{target=\"VQ Sales - chat\"} 2"), std::string::npos) << metrics;

  // pair-2 goes down (its backup, then its primary): its stream stops, and the target it serves
  // is paced progressively, naming the pair, on /status and in `ixctl pacing status`.
  nodes_[1][1]->kill(SIGKILL);
  nodes_[1][0]->kill(SIGKILL);
  EXPECT_TRUE(targets_become([](const nlohmann::json& t) {
    return t.size() == 1 && t[0].value("stale", false) && t[0].value("stale_pairs", nlohmann::json::array()) == nlohmann::json::array({"pair-2"}) &&
           t[0].value("decision", nlohmann::json::object()).value("mode", "") == "progressive";
  }, targets)) << targets.dump(2);
  CommandResult stale = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string()});
  ASSERT_EQ(stale.exit_code, 0) << stale.err;
  EXPECT_NE(stale.out.find("STALE: the stream of [\"pair-2\"] stopped"), std::string::npos) << stale.out;
}

// A pair that is already down when the proxy starts has no state to give: the target it serves
// is stale from the start, naming it, until the pair comes up and its state has been read.
TEST_F(PacingProcessTest, APairDownWhenTheProxyStartsMakesTheTargetsItServesStaleUntilItIsUp) {
  choose_ports_before_start();  // the proxy finds pair-2 where it will start
  start_pair(0);
  start_proxy(0);
  ASSERT_TRUE(wait_ready(0));  // pair-1 serves chat and email
  nlohmann::json targets;
  EXPECT_TRUE(targets_become([](const nlohmann::json& t) {
    // value(): a status read before the first decision lacks some keys.
    return t.size() == 1 && t[0].value("stale", false) && t[0].value("stale_pairs", nlohmann::json::array()) == nlohmann::json::array({"pair-2"}) &&
           t[0].value("decision", nlohmann::json::object()).value("mode", "") == "progressive";
  }, targets)) << targets.dump(2);

  start_pair(1);
  EXPECT_TRUE(targets_become([](const nlohmann::json& t) {
    return t.size() == 1 && !t[0].value("stale", true) && t[0].value("stale_pairs", nlohmann::json::array({""})).empty() &&
           t[0].value("decision", nlohmann::json::object()).value("mode", "") == "model";
  }, targets)) << targets.dump(2) << proxies_[0]->log();
}

}  // namespace
}  // namespace ix::test
