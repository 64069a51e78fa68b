// ixsim against a real cluster: a short run leaves every interaction it submitted accounted for
// (stopped, in a queue, or with an agent — checked through ixctl), and a seed fixes the workload.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <nlohmann/json.hpp>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"

namespace ix::test {
namespace {

class IxsimTest : public ClusterFixture {
 protected:
  std::vector<std::string> sim_args(const std::vector<std::string>& extra) {
    write_config();
    std::vector<std::string> argv{IX_IXSIM, "--config", (dir_ / "cluster.toml").string(),
                                  "--flow", "chat=inbound/all-inbound:3", "--flow", "email=inbound/all-inbound:1",
                                  "--proactive-queue", "inbound"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
};

TEST_F(IxsimTest, AShortRunLeavesTheClusterConsistent) {
  start_cluster();
  const std::string report_file = (dir_ / "report.json").string();
  CommandResult run = run_command(sim_args({"--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "--rate", "8",
                                            "--duration", "5", "--patience", "2", "--handle-time", "1.5", "--summary-every", "1",
                                            "--seed", "42", "--report", report_file}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.err.find("abandoned"), std::string::npos) << "a live summary line every second: " << run.err;
  EXPECT_NE(run.out.find("ixsim report (seed 42, steady profile"), std::string::npos) << run.out;

  std::ifstream in(report_file);
  const nlohmann::json report = nlohmann::json::parse(in);
  const uint64_t submitted = report["submitted"];
  EXPECT_GT(submitted, 15u) << report.dump();
  EXPECT_GT(report["handled"].get<uint64_t>(), 0u) << report.dump();
  EXPECT_GT(report["proactive"].get<uint64_t>(), 0u) << report.dump();
  EXPECT_TRUE(report["errors"].empty()) << report.dump();

  // Every interaction is somewhere: what the simulator stopped is gone, the rest is queued or
  // with an agent, and the cluster holds nothing else.
  size_t accounted = 0, open = 0;
  const std::string proxy = "127.0.0.1:" + std::to_string(proxy_ports_[0].first);
  for (const auto& [stage, ids] : report["interactions"].items()) {
    for (const auto& id : ids) {
      ++accounted;
      CommandResult got = run_command({IX_IXCTL, "--server", proxy, "get", id.get<std::string>(), "--json"});
      if (stage == "handled" || stage == "abandoned") {
        EXPECT_EQ(got.exit_code, 1) << stage << " " << id << " still exists: " << got.out;
        EXPECT_NE(got.err.find("error 301"), std::string::npos) << got.err;
        continue;
      }
      ++open;
      ASSERT_EQ(got.exit_code, 0) << stage << " " << id << ": " << got.err;
      const nlohmann::json i = nlohmann::json::parse(got.out)["interaction"];
      const std::string state = i.value("state", "");
      if (stage == "queued") {
        EXPECT_EQ(state, "Queued") << id;
      } else {
        EXPECT_TRUE(state == "Handling" || state == "Delivering") << stage << " " << id << " is " << state;
        EXPECT_FALSE(i.value("agent_id", "").empty()) << id << " is with no agent";
      }
    }
  }
  EXPECT_EQ(accounted, submitted);
  CommandResult all = run_command({IX_IXCTL, "--server", proxy, "find", "--tenant", "101", "--limit", "10000", "--json"});
  EXPECT_EQ(nlohmann::json::parse(all.out)["interactions"].size(), open);

  // A second run takes over what the first left with its agents (and in its queues), and
  // finishes it like its own.
  std::set<std::string> left_with_agents;
  for (const char* stage : {"handling", "invited"}) {
    for (const auto& id : report["interactions"][stage]) left_with_agents.insert(id.get<std::string>());
  }
  CommandResult again = run_command(sim_args({"--server", proxy, "--rate", "1", "--duration", "4", "--handle-time", "1",
                                              "--seed", "43", "--report", report_file}));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  std::ifstream second_file(report_file);
  const nlohmann::json second = nlohmann::json::parse(second_file);
  EXPECT_GE(second["adopted"].get<size_t>(), left_with_agents.size()) << second.dump();
  std::set<std::string> taken_over;
  for (const char* stage : {"handled", "handling"}) {
    for (const auto& id : second["interactions"][stage]) taken_over.insert(id.get<std::string>());
  }
  for (const std::string& id : left_with_agents) EXPECT_TRUE(taken_over.contains(id)) << id << " was left behind";
}

// Through two proxies (each peer on its own), replies of different peers race: a deliver's reply
// can come after the agent's accept. Nothing may stay with an agent longer than its handling time
// allows, or agents' capacity leaks until every agent is stuck.
TEST_F(IxsimTest, NothingStaysWithAnAgentLongerThanItsHandlingTimeAllows) {
  start_cluster();
  start_proxy(1);
  const std::string report_file = (dir_ / "report.json").string();
  CommandResult run = run_command(sim_args({"--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "--server",
                                            "127.0.0.1:" + std::to_string(proxy_ports_[1].first), "--rate", "20", "--duration", "8",
                                            "--patience", "30", "--handle-time", "0.5", "--capacity", "chat:3", "--seed", "5",
                                            "--report", report_file}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  std::ifstream in(report_file);
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_TRUE(report["overdue"].empty()) << "with an agent longer than allowed: " << report["overdue"].dump() << "\n" << run.out;
  EXPECT_GT(report["handled"].get<uint64_t>(), 40u) << run.out;
  EXPECT_TRUE(report["errors"].empty()) << report["errors"].dump();
}

// One of two proxies goes away in the middle of a run and comes back: the peers on it reconnect
// through the other, the run carries on (submits, handling) and ends without failure; every
// submit retried meanwhile is one interaction.
TEST_F(IxsimTest, ARunCarriesOnThroughTheOtherProxyWhenOneGoesAwayAndComesBack) {
  start_cluster();
  start_proxy(1);
  const std::string report_file = (dir_ / "report.json").string();
  Process sim(sim_args({"--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "--server",
                        "127.0.0.1:" + std::to_string(proxy_ports_[1].first), "--rate", "10", "--duration", "14", "--patience",
                        "30", "--handle-time", "0.5", "--seed", "11", "--report", report_file}),
              (dir_ / "ixsim.log").string());
  ASSERT_TRUE(sim.start());
  ASSERT_TRUE(eventually([&] { return sim.log().find("[   2s]") != std::string::npos; }, std::chrono::seconds(30))) << sim.log();
  proxies_[1]->kill(SIGKILL);
  ASSERT_TRUE(eventually([&] { return sim.log().find("reconnecting through the next proxy") != std::string::npos; }))
      << sim.log();
  ASSERT_TRUE(eventually([&] { return sim.log().find("[   5s]") != std::string::npos; }, std::chrono::seconds(30))) << sim.log();
  start_proxy(1);
  // The routing engine started on proxy-2: it moves back once proxy-2 answers again.
  EXPECT_TRUE(eventually([&] { return sim.log().find("ixsim routing engine is back on") != std::string::npos; },
                         std::chrono::seconds(20)))
      << sim.log();
  EXPECT_EQ(sim.wait_for_exit(std::chrono::seconds(60)), 0) << sim.log();
  std::ifstream in(report_file);
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["failure"], "") << sim.log();
  EXPECT_GT(report["reconnects"].get<uint64_t>(), 0u) << sim.log();
  EXPECT_GT(report["handled"].get<uint64_t>(), 30u) << sim.log();
  EXPECT_TRUE(report["overdue"].empty()) << report["overdue"].dump() << "\n" << sim.log();
  // The run went on after the loss: the last summary lines still count new handlings.
  const std::string log = sim.log();
  uint64_t handled_at_5s = 0, handled_last = 0, last_s = 0;
  const std::regex line(R"(\[ *(\d+)s\].*? handled (\d+))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    const uint64_t at = std::stoull((*it)[1]), handled = std::stoull((*it)[2]);
    if (at >= 5 && handled_at_5s == 0) handled_at_5s = handled;
    handled_last = handled;
    last_s = at;
  }
  EXPECT_GE(last_s, 11u) << log;
  EXPECT_GT(handled_last, handled_at_5s) << log;
  // Each submitted interaction once in the cluster.
  const std::string proxy = "127.0.0.1:" + std::to_string(proxy_ports_[0].first);
  CommandResult all = run_command({IX_IXCTL, "--server", proxy, "find", "--tenant", "101", "--limit", "10000", "--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  size_t open = 0;
  for (const char* stage : {"queued", "routing", "invited", "handling"}) open += report["interactions"][stage].size();
  EXPECT_EQ(nlohmann::json::parse(all.out)["interactions"].size(), open);
}

TEST_F(IxsimTest, TheSameSeedGivesTheSameWorkload) {
  auto schedule = [&](const std::string& seed, const std::string& profile) {
    CommandResult r = run_command(sim_args({"--print-schedule", "200", "--seed", seed, "--profile", profile}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  const std::string first = schedule("7", "burst");
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 200);
  EXPECT_EQ(first, schedule("7", "burst"));
  EXPECT_NE(first, schedule("8", "burst"));
  EXPECT_NE(first.find(" proactive "), std::string::npos);

  CommandResult bad = run_command(sim_args({"--flow", "chat-only"}));
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("MEDIA=QUEUE/VIEW"), std::string::npos) << bad.err;
}

// With a pacing target, ixsim's proactive chats name the target's virtual queue in their user
// data, and its routing engine invites only the agents of the target's groups.
class IxsimPacingTest : public IxsimTest {
 protected:
  void extend_config(ConfigBuilder& c) const override {
    c.paced_virtual_queue("VQ Chat", "101", "chat");
    c.agent_group("Chat", "101", {"a1"}, {"VQ Chat"});
    c.pacing("101");
  }
};

TEST_F(IxsimPacingTest, ProactiveChatsGoOnlyToTheAgentsOfTheirPacingTarget) {
  start_cluster();
  auto stream = proxy_client(0, proto::ClientType::ReportingEngine);
  EnvelopePtr ack = stream->call(proto::RequestStartReportingT{});
  ASSERT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
  CommandResult run = run_command(sim_args({"--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "--rate", "6",
                                            "--duration", "4", "--proactive-share", "0.5", "--patience", "5",
                                            "--handle-time", "0.5", "--seed", "7"}));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  loop_.run_for(1000);  // the stream's last events

  std::set<std::string> proactive;
  size_t reactive = 0;
  std::map<std::string, std::set<std::string>> invited;  // interaction -> agents
  stream->wait_for_events(1);
  for (const EnvelopePtr& e : stream->events) {
    if (const auto* submitted = e->body.AsEventInteractionSubmitted()) {
      const proto::InteractionInfoT& i = *submitted->interaction;
      bool names_vq = false;
      for (const auto& kv : i.user_data->pairs) names_vq = names_vq || (kv->key == "VirtualQueue" && kv->string_value == "VQ Chat");
      EXPECT_EQ(names_vq, i.interaction_subtype == "Proactive" && i.media_type == "chat") << i.interaction_id;
      if (names_vq) proactive.insert(i.interaction_id);
      else ++reactive;
    } else if (const auto* invite = e->body.AsEventAgentInvited()) {
      invited[invite->interaction_id].insert(invite->agent_id);
    }
  }
  ASSERT_FALSE(proactive.empty()) << run.out;
  EXPECT_GT(reactive, 0u);
  size_t proactive_invited = 0;
  for (const auto& [id, agents] : invited) {
    if (!proactive.count(id)) continue;
    ++proactive_invited;
    EXPECT_EQ(agents, std::set<std::string>{"a1"}) << id << " was offered outside its pacing target's group";
  }
  EXPECT_GT(proactive_invited, 0u) << "no proactive chat reached an agent";
}

}  // namespace
}  // namespace ix::test
