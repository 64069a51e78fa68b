// The proxy's status page in a real browser (headless Chromium): it renders the live pair
// states from /status (agents by state per pair, request and error sparklines, errors by the
// proxy that answered them, the pairs' reporting rate with no reporting client), and follows a
// failover (the pair's failover count and how long ago the last one was), with each pair's
// latency (the proxies' requests to it, sent to answered) and its serving node's mean commit time. Screenshots are kept in the build tree's
// test-artifacts folder.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <regex>
#include <nlohmann/json.hpp>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"

namespace ix::test {
namespace {

class StatusPageTest : public ClusterFixture {
 protected:
  // Loads the page, lets its script fetch /status, and returns the rendered DOM; keeps a
  // screenshot named `artifact`.
  std::string render(const std::string& artifact) {
    const std::string url = "http://127.0.0.1:" + std::to_string(proxy_ports_[0].second) + "/";
    const std::vector<std::string> browser{"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                           "--disable-background-networking", "--virtual-time-budget=5000",
                                           "--user-data-dir=" + (dir_ / "chromium").string()};
    std::filesystem::create_directories(IX_ARTIFACT_DIR);
    std::vector<std::string> shot = browser;
    shot.push_back("--window-size=1280,900");
    shot.push_back(std::string("--screenshot=") + IX_ARTIFACT_DIR + "/" + artifact);
    shot.push_back(url);
    CommandResult screenshot = run_command(shot, std::chrono::seconds(90));
    EXPECT_EQ(screenshot.exit_code, 0) << screenshot.err;
    EXPECT_TRUE(std::filesystem::exists(std::string(IX_ARTIFACT_DIR) + "/" + artifact));
    std::vector<std::string> dump = browser;
    dump.push_back("--dump-dom");
    dump.push_back(url);
    CommandResult dom = run_command(dump, std::chrono::seconds(90));
    EXPECT_EQ(dom.exit_code, 0) << dom.err;
    return dom.out;
  }
  static bool row(const std::string& dom, const std::string& pair, const std::string& node, const std::string& state) {
    return dom.find("data-pair=\"" + pair + "\" data-node=\"" + node + "\" data-state=\"" + state + "\"") != std::string::npos;
  }
  // Waits until the proxy's overview lists trouble (its red lines) that satisfies `wanted`.
  bool trouble_is(const std::function<bool(const nlohmann::json&)>& wanted) {
    for (int i = 0; i < 200; ++i) {
      nlohmann::json s = nlohmann::json::parse(proxy_status(0), nullptr, false);
      if (!s.is_discarded() && s.contains("overview") && s["overview"].contains("trouble") && wanted(s["overview"]["trouble"])) {
        return true;
      }
      loop_.run_for(100);
    }
    return false;
  }
  // Waits until the proxy's overview (sampled every 2 s) shows pair's node in `state`.
  bool overview_shows(int pair, int node, const std::string& state) {
    for (int i = 0; i < 200; ++i) {
      nlohmann::json s = nlohmann::json::parse(proxy_status(0), nullptr, false);
      if (!s.is_discarded() && s.contains("overview") && s["overview"].contains("pairs") &&
          s["overview"]["pairs"][pair]["nodes"][node].value("state", "") == state) {
        return true;
      }
      loop_.run_for(100);
    }
    return false;
  }
};

TEST_F(StatusPageTest, ShowsTheLivePairStatesAndFollowsAFailover) {
  start_cluster();
  // An error for the page to show: sms is disabled (2001).
  CommandResult sms = run_command({IX_IXCTL, "--server", "127.0.0.1:" + std::to_string(proxy_ports_[0].first), "submit",
                                   "--tenant", "101", "--media", "sms", "--queue", "inbound"});
  EXPECT_EQ(sms.exit_code, 1);
  ASSERT_TRUE(overview_shows(0, 1, "backup"));
  // Two agents ready, one of them then busy with an interaction of one pair; no reporting client.
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));
  ASSERT_TRUE(log_in_ready(*desktop, "a2", 2));
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  EnvelopePtr submitted = media->call(chat_submit());
  ASSERT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);
  const std::string id = submitted->body.AsEventSubmitted()->interaction_id;
  const std::string busy_pair = id.starts_with("p1-") ? "pair-1" : "pair-2", idle_pair = busy_pair == "pair-1" ? "pair-2" : "pair-1";
  proto::RequestDeliverT deliver;
  deliver.interaction_id = id;
  deliver.agent_id = "a1";
  deliver.place_id = "place-a1";
  auto router = proxy_client(0, proto::ClientType::RoutingEngine);
  EnvelopePtr delivered = router->call(deliver);
  ASSERT_TRUE(delivered && delivered->body.AsEventAck()) << error_text(delivered);
  // The pairs' event logs grew: the reporting rate shows it, though no reporting client reads the
  // stream (this proxy's own merged stream stays at 0).
  nlohmann::json overview;
  for (int i = 0; i < 100; ++i) {
    overview = nlohmann::json::parse(proxy_status(0))["overview"];
    if (overview.value("reporting_events_per_s", 0.0) > 0) break;
    loop_.run_for(100);
  }
  EXPECT_GT(overview.value("reporting_events_per_s", 0.0), 0) << overview.dump();
  EXPECT_EQ(overview.value("proxy_reporting_events_per_s", -1.0), 0) << overview.dump();
  for (int i = 0; i < 50 && overview["agents"].value("busy", 0) != 1; ++i) {
    loop_.run_for(100);
    overview = nlohmann::json::parse(proxy_status(0))["overview"];
  }
  EXPECT_EQ(overview["agents"], nlohmann::json({{"logged_in", 2}, {"ready", 1}, {"busy", 1}, {"not_ready", 0}, {"dnd", 0}}))
      << overview.dump();
  // Latency per pair: the proxies' requests to it (sent to answered), and the serving node's mean
  // commit time, once a sample saw commits (the submit and the delivery committed on busy_pair).
  const int busy_index = busy_pair == "pair-1" ? 0 : 1;
  for (int i = 0; i < 100 && !(overview["pairs"][busy_index].contains("commit_ms") && overview["pairs"][busy_index].contains("latency_ms")); ++i) {
    loop_.run_for(100);
    overview = nlohmann::json::parse(proxy_status(0))["overview"];
  }
  for (const char* latency : {"commit_ms", "latency_ms"}) {
    ASSERT_TRUE(overview["pairs"][busy_index].contains(latency)) << latency << " " << overview.dump();
    EXPECT_GT(overview["pairs"][busy_index][latency].get<double>(), 0) << latency << " " << overview.dump();
    EXPECT_LT(overview["pairs"][busy_index][latency].get<double>(), 5000) << latency << " " << overview.dump();
  }
  for (int i = 0; i < 50 && proxy_status(0).find("\"recent_errors\":{\"2001\"") == std::string::npos; ++i) loop_.run_for(100);
  std::string dom = render("status-page.png");
  EXPECT_NE(dom.find("data-loaded=\"true\""), std::string::npos) << "the script did not render /status";
  EXPECT_TRUE(row(dom, "pair-1", "primary", "primary")) << dom;
  EXPECT_TRUE(row(dom, "pair-1", "backup", "backup")) << dom;
  EXPECT_TRUE(row(dom, "pair-2", "primary", "primary")) << dom;
  EXPECT_NE(dom.find("data-proxy=\"proxy-1\" data-state=\"ready\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-proxy=\"proxy-2\" data-state=\"down\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-queue=\"inbound\""), std::string::npos) << dom;
  // Agents per state per pair (ready / busy / not ready / dnd), and across the cluster.
  EXPECT_NE(dom.find("data-agents=\"" + busy_pair + "\">1 / 1 / 0 / 0<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-agents=\"" + idle_pair + "\">2 / 0 / 0 / 0<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("id=\"agents-busy\">1<"), std::string::npos) << dom;
  // Errors labelled with the proxy that answered them.
  EXPECT_NE(dom.find("data-code=\"2001\" data-proxy=\"proxy-1\""), std::string::npos) << dom;
  // Request and error sparklines per pair, on one labelled scale.
  for (const char* pair : {"pair-1", "pair-2"}) {
    const size_t at = dom.find(std::string("data-rates=\"") + pair + "\"");
    ASSERT_NE(at, std::string::npos) << dom;
    const std::string chart = dom.substr(at, dom.find("</div>", at) - at);
    EXPECT_NE(chart.find("<polyline points="), std::string::npos) << chart;
    EXPECT_NE(chart.find("class=\"errors\""), std::string::npos) << chart;
  }
  EXPECT_NE(dom.find("id=\"rates-scale\">scale: 0 to "), std::string::npos) << dom;
  for (const char* column : {"data-latency", "data-commit"}) {
    EXPECT_TRUE(std::regex_search(dom, std::regex(std::string(column) + "=\"" + busy_pair + "\">[0-9]+(\\.[0-9]+)? ms<"))) << dom;
  }
  // No failover yet: 0 for each pair, and no time.
  EXPECT_NE(dom.find("data-failovers=\"pair-1\">0<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-failovers=\"pair-2\">0<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-last-failover=\"pair-1\"><"), std::string::npos) << dom;

  const int64_t killed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  nodes_[0][0]->kill(SIGKILL);
  ASSERT_TRUE(overview_shows(0, 1, "primary")) << "pair-1's backup did not take over";
  // The proxy counts the failover when its links follow it; the watcher's next sample shows it.
  for (int i = 0; i < 100; ++i) {
    overview = nlohmann::json::parse(proxy_status(0))["overview"];
    if (overview["pairs"][0].value("failovers", 0.0) >= 1) break;
    loop_.run_for(100);
  }
  EXPECT_EQ(overview["pairs"][0].value("failovers", 0.0), 1) << overview.dump();
  EXPECT_EQ(overview["pairs"][1].value("failovers", -1.0), 0) << overview.dump();
  const int64_t last_failover_ms = overview["pairs"][0].value("last_failover_ms", int64_t{0});
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GE(last_failover_ms, killed_ms) << overview.dump();
  EXPECT_LE(last_failover_ms, now_ms) << overview.dump();
  EXPECT_FALSE(overview["pairs"][1].contains("last_failover_ms")) << overview.dump();
  dom = render("status-page-after-failover.png");
  EXPECT_TRUE(row(dom, "pair-1", "primary", "down")) << dom;
  EXPECT_TRUE(row(dom, "pair-1", "backup", "primary")) << dom;
  EXPECT_TRUE(row(dom, "pair-2", "primary", "primary")) << dom;
  // The failover count and how long ago the last one was (seconds: a browser's virtual time may
  // run a few seconds ahead), on pair-1's first row only; pair-2 had none.
  EXPECT_NE(dom.find("data-failovers=\"pair-1\">1<"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-failovers=\"pair-2\">0<"), std::string::npos) << dom;
  EXPECT_TRUE(std::regex_search(dom, std::regex("data-last-failover=\"pair-1\">[0-9]+ s ago<"))) << dom;
  EXPECT_NE(dom.find("data-last-failover=\"pair-2\"><"), std::string::npos) << dom;
}

TEST_F(StatusPageTest, IsServedWithTheBinaryAndNeedsNothingFromOutside) {
  start_cluster();
  HttpExchange page = http_get(loop_, proxy_ports_[0].second, "/");
  EXPECT_EQ(page.status(), 200);
  const std::string body = page.body();
  EXPECT_NE(body.find("<script>"), std::string::npos);
  EXPECT_EQ(body.find("src=\"http"), std::string::npos) << "no external scripts";
  EXPECT_EQ(body.find("href=\"http"), std::string::npos) << "no external styles";
}

TEST_F(StatusPageTest, ShowsTroubleInRedWithRatesVersionsAndPerPairDetails) {
  choose_ports_before_start();  // proxy-1's watcher knows where proxy-2 is from the start
  start_cluster();
  start_proxy(1);
  ASSERT_TRUE(overview_shows(0, 1, "backup"));
  // Healthy: no red line (the page shows "all-well" then; one browser run is enough below).
  ASSERT_TRUE(trouble_is([](const nlohmann::json& t) { return t.empty(); })) << proxy_status(0);

  // pair-1 loses its backup, pair-2 both nodes: a red line each, and the rows turn red.
  nodes_[0][1]->kill(SIGKILL);
  nodes_[1][0]->kill(SIGKILL);
  nodes_[1][1]->kill(SIGKILL);
  ASSERT_TRUE(overview_shows(1, 1, "down"));
  ASSERT_TRUE(overview_shows(0, 1, "down"));
  // The proxy notices pair-2 is unreachable on its own (its links), the watcher on its next sample.
  ASSERT_TRUE(trouble_is([](const nlohmann::json& t) { return t.dump().find("proxy-1 cannot reach it") != std::string::npos; }))
      << proxy_status(0);
  const std::string dom = render("status-page-no-serving-node.png");
  EXPECT_NE(dom.find("data-trouble=\"pair-2\">pair-2: no serving node</div>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-trouble=\"pair-1\">pair-1: lost its backup: its backup is down</div>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-trouble=\"pair-2\">pair-2: proxy-1 cannot reach it</div>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-pair=\"pair-2\" data-node=\"primary\" data-state=\"down\" class=\"bad\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-pair=\"pair-1\" data-node=\"primary\" data-state=\"primary\" class=\"bad\""), std::string::npos) << dom;
  // Version and uptime per process, rates and agents per pair.
  EXPECT_NE(dom.find(">0.1.0 ("), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-rate=\"requests\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-agents=\"pair-1\">0 / 0 / 0 / 0<"), std::string::npos) << dom;  // ready / busy / not ready / dnd
  EXPECT_NE(dom.find("data-queues=\"pair-1\">"), std::string::npos) << dom;
  EXPECT_NE(dom.find("<td class=\"bad\">pair-2</td>"), std::string::npos) << "proxy-1 cannot reach pair-2:\n" << dom;
}

}  // namespace
}  // namespace ix::test
