// The proxy's admin port while a worker thread is stuck (issue 18 item 10: "/status and /readyz
// block the proxy's admin loop waiting for workers"). A ProxyServer runs in process on the test's
// loop, as ixproxy runs it on its main loop, with two workers and a pair that is not running.
// One worker's loop is stalled for real — a task posted to it that does not return until the
// test lets it — and the admin port must go on answering /metrics and /healthz at once, while
// /status answers within its bound with what the other worker said and names the stuck one, and
// /readyz says that worker 0 did not answer when worker 0 is the stuck one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster-config/loader.h"
#include "proxy/server/proxy_server.h"
#include "tests/support/config_builder.h"
#include "tests/support/http_exchange.h"
#include "tests/support/test_loop.h"

namespace ix::test {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// One GET on its own connection, answered whenever the server answers; the test's loop keeps
// running other things meanwhile.
struct PendingGet {
  std::shared_ptr<net::Connection> connection;
  std::string response;
  bool closed = false;

  PendingGet(TestLoop& loop, uint16_t port, const std::string& path) {
    connection = connect_to(loop.get(), port);
    connection->set_on_data([this](std::span<const uint8_t> d) { response.append(d.begin(), d.end()); });
    connection->set_on_close([this](const std::string&) { closed = true; });
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    connection->write(std::span(reinterpret_cast<const uint8_t*>(request.data()), request.size()));
  }
  ~PendingGet() {
    if (!closed) connection->abort("test over");
  }
  std::string body() const {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? "" : response.substr(at + 4);
  }
};

class ProxyAdminTest : public ::testing::Test {
 public:
  // Lets every stalled worker go.
  void release() { released_ = true; }

 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ix-proxy-admin-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "proxy.secret") << "an-admin-test-secret-of-some-length\n";
    config_ = load(1);
  }
  // The configuration with `pairs` node pairs (pair-1 ...). Port 0: nothing listens there, so
  // the pairs stay unreachable and the proxy is not ready.
  std::shared_ptr<const config::ClusterConfig> load(int pairs) {
    ConfigBuilder c;
    c.tenant("101").media_type("chat");
    for (int i = 1; i <= pairs; ++i) {
      const std::string id = "pair-" + std::to_string(i);
      c.node_pair(id, "p" + std::to_string(i), {"101"}, {"chat"})
          .endpoint("primary", 0, 0)
          .endpoint("backup", 0, 0)
          .set_in("storage", "sqlite-path", "data/" + id + ".db");
    }
    c.proxy_cluster("desktops");
    c.proxy("proxy-1", "desktops", 0, 0).setting("workers", 2);
    c.proxy_secret_file("proxy.secret");
    config::LoadResult loaded = config::load_config_text(c.text(), "cluster.toml", dir_.string());
    EXPECT_TRUE(loaded.ok()) << loaded.error_text();
    return loaded.config;
  }
  // The /status answer, parsed (waits as long as the server does for its workers).
  nlohmann::json status(uint16_t port) {
    PendingGet get(loop_, port, "/status");
    EXPECT_TRUE(loop_.run_until([&] { return get.closed; }, proxy::kAdminWorkerWaitMs + 3000)) << "/status never answered";
    return nlohmann::json::parse(get.body(), nullptr, false);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Stalls worker `worker`'s loop until release(): the task holds its thread.
  void stall(proxy::ProxyServer& server, size_t worker) {
    const int before = stalled_;
    server.run_on_worker(worker, [this](proxy::ProxyWorker&) {
      ++stalled_;
      while (!released_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      --stalled_;
    });
    ASSERT_TRUE(loop_.run_until([&] { return stalled_ > before; }, 5000)) << "the worker never ran the stalling task";
  }

  TestLoop loop_;
  std::filesystem::path dir_;
  std::shared_ptr<const config::ClusterConfig> config_;
  std::atomic<int> stalled_{0};
  std::atomic<bool> released_{false};
};

TEST_F(ProxyAdminTest, AStuckWorkerHoldsUpNeitherMetricsNorStatusWhichNamesIt) {
  proxy::ProxyServer server(loop_.get(), config_, "proxy-1");
  ASSERT_TRUE(server.start().ok());
  // Whatever happens below, the stuck worker is let go before the server stops (stop joins it).
  struct Release {
    ProxyAdminTest* test;
    ~Release() { test->release(); }
  } release_at_end{this};
  const uint16_t port = server.admin_port();

  // Both workers answer: /status lists both and names nobody.
  PendingGet healthy(loop_, port, "/status");
  ASSERT_TRUE(loop_.run_until([&] { return healthy.closed; }, 5000));
  nlohmann::json before = nlohmann::json::parse(healthy.body(), nullptr, false);
  ASSERT_TRUE(before.is_object()) << healthy.response;
  EXPECT_EQ(before["workers"].size(), 2u);
  EXPECT_EQ(before["unanswered_workers"], nlohmann::json::array());

  stall(server, 1);
  const Clock::time_point asked = Clock::now();
  PendingGet status(loop_, port, "/status");
  // While /status waits for worker 1, the admin loop serves everything else at once.
  for (int i = 0; i < 5; ++i) {
    const Clock::time_point start = Clock::now();
    HttpExchange metrics = http_get(loop_, port, "/metrics");
    EXPECT_EQ(metrics.status(), 200);
    EXPECT_NE(metrics.body().find("ix_proxy_reporting_feed_cut_offs_total{reader=\"worker\"} 0"), std::string::npos);
    EXPECT_LT(ms_since(start), 500) << "/metrics waited";
    EXPECT_EQ(http_get(loop_, port, "/healthz").status(), 200);
  }
  EXPECT_FALSE(status.closed) << "answered before its bound although worker 1 is stuck: " << status.response;

  ASSERT_TRUE(loop_.run_until([&] { return status.closed; }, proxy::kAdminWorkerWaitMs + 3000)) << "/status never answered";
  const int64_t took = ms_since(asked);
  EXPECT_GE(took, static_cast<int64_t>(proxy::kAdminWorkerWaitMs) - 50) << "answered without waiting for worker 1 at all";
  EXPECT_LT(took, static_cast<int64_t>(proxy::kAdminWorkerWaitMs) + 1000) << "waited past its bound";
  EXPECT_NE(status.response.find("HTTP/1.1 200"), std::string::npos) << status.response;
  nlohmann::json body = nlohmann::json::parse(status.body(), nullptr, false);
  ASSERT_TRUE(body.is_object()) << status.response;
  EXPECT_EQ(body["unanswered_workers"], nlohmann::json::array({1}));
  ASSERT_EQ(body["workers"].size(), 2u);
  EXPECT_EQ(body["workers"][0]["worker"], 0) << "worker 0's own answer";
  EXPECT_TRUE(body["workers"][0].contains("sessions"));
  EXPECT_EQ(body["workers"][1]["worker"], 1);
  EXPECT_NE(body["workers"][1].value("error", "").find("worker 1 did not answer within"), std::string::npos) << body.dump();
  EXPECT_TRUE(body.contains("pairs")) << "the pairs come from the worker that answered";
  EXPECT_EQ(body["proxy"], "proxy-1");

  // /readyz asks worker 0, which answers: not ready, because the pair is not running.
  HttpExchange readyz = http_get(loop_, port, "/readyz");
  EXPECT_EQ(readyz.status(), 503);
  EXPECT_NE(readyz.body().find("no reachable node pair serves media: chat"), std::string::npos) << readyz.body();

  // Worker 0 stuck as well: /readyz answers within its bound that worker 0 did not answer, and
  // /healthz is still answered meanwhile.
  stall(server, 0);
  const Clock::time_point readyz_asked = Clock::now();
  PendingGet stuck_readyz(loop_, port, "/readyz");
  EXPECT_EQ(http_get(loop_, port, "/healthz").status(), 200);
  EXPECT_FALSE(stuck_readyz.closed);
  ASSERT_TRUE(loop_.run_until([&] { return stuck_readyz.closed; }, proxy::kAdminWorkerWaitMs + 3000));
  EXPECT_LT(ms_since(readyz_asked), static_cast<int64_t>(proxy::kAdminWorkerWaitMs) + 1000);
  EXPECT_NE(stuck_readyz.response.find("HTTP/1.1 503"), std::string::npos) << stuck_readyz.response;
  EXPECT_NE(stuck_readyz.body().find("not ready: worker 0 did not answer within"), std::string::npos) << stuck_readyz.body();

  // Let go, the workers answer again, and what they held for the polls that gave up on them
  // arrives too late to matter.
  release();
  ASSERT_TRUE(loop_.run_until([&] { return stalled_ == 0; }, 5000));
  PendingGet after(loop_, port, "/status");
  ASSERT_TRUE(loop_.run_until([&] { return after.closed; }, 5000));
  nlohmann::json recovered = nlohmann::json::parse(after.body(), nullptr, false);
  ASSERT_TRUE(recovered.is_object()) << after.response;
  EXPECT_EQ(recovered["unanswered_workers"], nlohmann::json::array());
  EXPECT_EQ(recovered["workers"][1]["worker"], 1);
  server.stop();
}

// A reload while worker 1 is stuck: the admin loop does not wait for it, the reload is applied
// (no worker can refuse a configuration the server accepted, so none stays on the old one), the
// late worker is named, and it runs the new configuration once its loop is free.
TEST_F(ProxyAdminTest, AReloadWhileAWorkerIsStuckIsAppliedByEveryWorkerAndNamesTheLateOne) {
  proxy::ProxyServer server(loop_.get(), config_, "proxy-1");
  ASSERT_TRUE(server.start().ok());
  struct Release {
    ProxyAdminTest* test;
    ~Release() { test->release(); }
  } release_at_end{this};
  const uint16_t port = server.admin_port();
  stall(server, 1);

  const Clock::time_point asked = Clock::now();
  EXPECT_EQ(server.reload(load(2)), std::vector<std::string>{});
  EXPECT_LT(ms_since(asked), 1500) << "the reload waited for the stuck worker";
  nlohmann::json during = status(port);  // answered after kAdminWorkerWaitMs: worker 1 is stuck
  ASSERT_TRUE(during.is_object());
  EXPECT_EQ(during["reload"]["applied"], true) << during.dump();
  EXPECT_EQ(during["reload"]["late_workers"], nlohmann::json::array({1})) << during.dump();
  ASSERT_EQ(during["workers"][0]["pairs"].size(), 2u) << "worker 0 applied it at once: " << during.dump();

  release();
  ASSERT_TRUE(loop_.run_until([&] { return stalled_ == 0; }, 5000));
  nlohmann::json after = status(port);
  ASSERT_TRUE(after.is_object());
  EXPECT_EQ(after["unanswered_workers"], nlohmann::json::array());
  EXPECT_EQ(after["workers"][1]["pairs"].size(), 2u) << "worker 1 applied it when it was let go: " << after.dump();
  server.stop();
}

}  // namespace
}  // namespace ix::test
