#include "protocol/http/http_server.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "protocol/http/admin_server.h"
#include "tests/support/http_exchange.h"

namespace ix::http {
namespace {

using test::http_exchange;
using test::http_get;
using test::TestLoop;

// Runs promtool (Debian's prometheus package) on the exposition text; returns its verdict.
std::string promtool_check(const std::string& exposition) {
  char path[] = "/tmp/ix-metrics-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "cannot create a temporary file";
  ::close(fd);
  std::ofstream(path) << exposition;
  std::string command = std::string(IX_PROMTOOL) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  int rc = pipe ? pclose(pipe) : -1;
  std::remove(path);
  return rc == 0 ? "" : "promtool failed (" + std::to_string(rc) + "): " + output;
}

struct Admin {
  TestLoop loop;
  metrics::Registry registry;
  AdminServer admin{loop.get(), registry, "ixtest"};
  bool ready = true;

  Admin() {
    admin.set_readiness([this] { return ready ? Readiness{} : Readiness{false, "no lease on pair-1"}; });
    admin.set_status([] { return nlohmann::json{{"node_pairs", 2}}; });
    EXPECT_TRUE(admin.listen({"127.0.0.1", 0}).ok());
  }
  ~Admin() { admin.close(); }
};

TEST(AdminServer, HealthzAnswers) {
  Admin a;
  auto r = http_get(a.loop, a.admin.port(), "/healthz");
  EXPECT_EQ(r.status(), 200);
  EXPECT_EQ(r.body(), "ok\n");
}

TEST(AdminServer, MetricsParseAsPrometheusText) {
  Admin a;
  a.registry.counter("ix_frames_received_total", "Frames received", {{"peer", "node \"a\""}}).inc(5);
  a.registry.gauge("ix_queue_depth", "Interactions queued", {{"queue", "inbound"}}).set(3);
  a.registry.histogram("ix_request_duration_seconds", "Request latency", metrics::latency_buckets_seconds())
      .observe(0.003);
  http_get(a.loop, a.admin.port(), "/healthz");  // so the admin's own counter has a value
  auto r = http_get(a.loop, a.admin.port(), "/metrics");
  ASSERT_EQ(r.status(), 200);
  EXPECT_TRUE(r.has_header("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  EXPECT_NE(r.body().find("ix_frames_received_total{peer=\"node \\\"a\\\"\"} 5"), std::string::npos) << r.body();
  EXPECT_NE(r.body().find("ix_admin_http_requests_total{code=\"200\"}"), std::string::npos);
  EXPECT_EQ(promtool_check(r.body()), "");
}

TEST(AdminServer, PromtoolCatchesBrokenExposition) {
  // The checker itself must be able to fail, or the test above proves nothing.
  EXPECT_NE(promtool_check("# TYPE x counter\nx{a=\"unterminated} 1\n"), "");
}

TEST(AdminServer, ReadyzSaysWhyNot) {
  Admin a;
  EXPECT_EQ(http_get(a.loop, a.admin.port(), "/readyz").status(), 200);
  a.ready = false;
  auto r = http_get(a.loop, a.admin.port(), "/readyz");
  EXPECT_EQ(r.status(), 503);
  EXPECT_EQ(r.body(), "not ready: no lease on pair-1\n");
}

TEST(AdminServer, StatusIsJson) {
  Admin a;
  auto r = http_get(a.loop, a.admin.port(), "/status");
  ASSERT_EQ(r.status(), 200);
  EXPECT_TRUE(r.has_header("Content-Type: application/json"));
  auto json = nlohmann::json::parse(r.body());
  EXPECT_EQ(json["process"], "ixtest");
  EXPECT_EQ(json["node_pairs"], 2);
  EXPECT_TRUE(json.contains("uptime_seconds"));
}

TEST(AdminServer, UnknownPathIs404AndWrongMethodIs405) {
  Admin a;
  auto r = http_get(a.loop, a.admin.port(), "/nope");
  EXPECT_EQ(r.status(), 404);
  r = http_exchange(a.loop, a.admin.port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status(), 405);
  EXPECT_TRUE(r.has_header("Allow: GET, HEAD"));
}

TEST(AdminServer, MalformedRequestsGet400AndAreClosed) {
  Admin a;
  for (const std::string& bad : {std::string("GARBAGE\r\n\r\n"), std::string("GET / HTTP/9.9\r\n\r\n"),
                                 std::string("GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"),
                                 std::string("\x01\x02\x03\x04", 4)}) {
    auto r = http_exchange(a.loop, a.admin.port(), bad);
    EXPECT_EQ(r.status(), 400) << "request: " << bad << "\nresponse: " << r.response;
    EXPECT_TRUE(r.closed);
  }
  EXPECT_EQ(http_get(a.loop, a.admin.port(), "/healthz").status(), 200) << "still serving";
  EXPECT_TRUE(a.loop.run_until([&] { return a.admin.http().open_connections() == 0; }));
}

TEST(AdminServer, OversizedHeadersAndBodiesAreRefused) {
  Admin a;
  std::string huge_header = "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20'000, 'a') + "\r\n\r\n";
  EXPECT_EQ(http_exchange(a.loop, a.admin.port(), huge_header).status(), 431);
  std::string huge_body = "POST /healthz HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n";
  EXPECT_EQ(http_exchange(a.loop, a.admin.port(), huge_body).status(), 413);
}

TEST(AdminServer, PipelinedKeepAliveRequestsAreAnsweredInOrder) {
  Admin a;
  auto r = http_exchange(a.loop, a.admin.port(),
                         "GET /healthz HTTP/1.1\r\n\r\nHEAD /status HTTP/1.1\r\n\r\n"
                         "GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n");
  auto first = r.response.find("ok\n");
  auto second = r.response.find("Content-Type: application/json");
  auto third = r.response.find("ready\n");
  ASSERT_NE(first, std::string::npos) << r.response;
  ASSERT_NE(second, std::string::npos) << r.response;
  ASSERT_NE(third, std::string::npos) << r.response;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(r.response.find("\"process\""), std::string::npos) << "HEAD has no body";
}

}  // namespace
}  // namespace ix::http
