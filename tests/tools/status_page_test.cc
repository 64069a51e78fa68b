// The proxy's status page in a real browser (headless Chromium): it renders the live pair
// states from /status, and follows a failover. Screenshots are kept in the build tree's
// test-artifacts folder.
#include <gtest/gtest.h>

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
  for (int i = 0; i < 50 && proxy_status(0).find("\"recent_errors\":{\"2001\"") == std::string::npos; ++i) loop_.run_for(100);
  std::string dom = render("status-page.png");
  EXPECT_NE(dom.find("data-loaded=\"true\""), std::string::npos) << "the script did not render /status";
  EXPECT_TRUE(row(dom, "pair-1", "primary", "primary")) << dom;
  EXPECT_TRUE(row(dom, "pair-1", "backup", "backup")) << dom;
  EXPECT_TRUE(row(dom, "pair-2", "primary", "primary")) << dom;
  EXPECT_NE(dom.find("data-proxy=\"proxy-1\" data-state=\"ready\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-proxy=\"proxy-2\" data-state=\"down\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-queue=\"inbound\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-code=\"2001\""), std::string::npos) << dom;

  nodes_[0][0]->kill(SIGKILL);
  ASSERT_TRUE(overview_shows(0, 1, "primary")) << "pair-1's backup did not take over";
  dom = render("status-page-after-failover.png");
  EXPECT_TRUE(row(dom, "pair-1", "primary", "down")) << dom;
  EXPECT_TRUE(row(dom, "pair-1", "backup", "primary")) << dom;
  EXPECT_TRUE(row(dom, "pair-2", "primary", "primary")) << dom;
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

}  // namespace
}  // namespace ix::test
