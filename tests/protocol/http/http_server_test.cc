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

// Asynchronous handlers (route_async; the proxy's /status and /readyz wait for worker threads):
// while one request waits for its answer the loop serves other connections, a later request on
// the same connection is answered only after it (in order, whichever answer is ready first),
// and an answer given after its connection closed goes nowhere.
TEST(HttpServer, AnAnswerGivenLaterKeepsItsPlaceAndHoldsUpNothingElse) {
  TestLoop loop;
  HttpServer server(loop.get());
  std::vector<HttpRespond> waiting;
  server.route_async("GET", "/slow", [&](const HttpRequest& r, HttpRespond respond) {
    EXPECT_EQ(r.path, "/slow");
    waiting.push_back(std::move(respond));
  });
  server.route("GET", "/fast", [](const HttpRequest&) { return HttpResponse::text(200, "fast\n"); });
  ASSERT_TRUE(server.listen({"127.0.0.1", 0}).ok());

  std::string got;
  bool closed = false;
  auto connection = test::connect_to(loop.get(), server.port());
  connection->set_on_data([&](std::span<const uint8_t> d) { got.append(d.begin(), d.end()); });
  connection->set_on_close([&](const std::string&) { closed = true; });
  const std::string pipelined = "GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n"
                                "GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n";
  connection->write(std::span(reinterpret_cast<const uint8_t*>(pipelined.data()), pipelined.size()));
  ASSERT_TRUE(loop.run_until([&] { return waiting.size() == 2; }, 5000));

  // Another connection is served at once while both wait.
  auto other = http_get(loop, server.port(), "/fast");
  EXPECT_EQ(other.status(), 200);
  EXPECT_EQ(other.body(), "fast\n");
  EXPECT_TRUE(got.empty()) << "nothing may overtake the first answer: " << got;

  // The last answer first: it waits for the first.
  waiting[1](HttpResponse::text(200, "second slow\n"));
  loop.run_for(20);
  EXPECT_TRUE(got.empty()) << got;
  waiting[0](HttpResponse::text(503, "first slow\n"));
  ASSERT_TRUE(loop.run_until([&] { return closed; }, 5000)) << got;
  const size_t first = got.find("first slow\n"), fast = got.find("fast\n"), second = got.find("second slow\n");
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(fast, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, fast);
  EXPECT_LT(fast, second);
  EXPECT_EQ(got.find("HTTP/1.1 503"), 0u) << got;
  waiting[0](HttpResponse::text(200, "again\n"));  // answered twice, after the close: nothing happens
  EXPECT_EQ(got.find("again"), std::string::npos);

  // A client that gives up before its answer: the late answer is dropped without harm.
  waiting.clear();
  auto impatient = test::connect_to(loop.get(), server.port());
  const std::string one = "GET /slow HTTP/1.1\r\n\r\n";
  impatient->write(std::span(reinterpret_cast<const uint8_t*>(one.data()), one.size()));
  ASSERT_TRUE(loop.run_until([&] { return waiting.size() == 1; }, 5000));
  impatient->abort("client gave up");
  ASSERT_TRUE(loop.run_until([&] { return server.open_connections() == 0; }, 5000));
  waiting[0](HttpResponse::text(200, "too late\n"));
  server.close();
  loop.run_for(10);
}

TEST(AdminServer, StatusAndReadinessAnsweredLaterLeaveMetricsServed) {
  TestLoop loop;
  metrics::Registry registry;
  AdminServer admin(loop.get(), registry, "ixtest");
  AdminServer::StatusReply status_reply;
  AdminServer::ReadinessReply readiness_reply;
  admin.set_status_async([&](AdminServer::StatusReply reply) { status_reply = std::move(reply); });
  admin.set_readiness_async([&](AdminServer::ReadinessReply reply) { readiness_reply = std::move(reply); });
  ASSERT_TRUE(admin.listen({"127.0.0.1", 0}).ok());

  std::string status, readyz;
  auto ask = [&](const std::string& path, std::string& into) {
    auto c = test::connect_to(loop.get(), admin.port());
    c->set_on_data([&into](std::span<const uint8_t> d) { into.append(d.begin(), d.end()); });
    const std::string request = "GET " + path + " HTTP/1.1\r\nConnection: close\r\n\r\n";
    c->write(std::span(reinterpret_cast<const uint8_t*>(request.data()), request.size()));
    return c;
  };
  auto status_connection = ask("/status", status);
  auto readyz_connection = ask("/readyz", readyz);
  ASSERT_TRUE(loop.run_until([&] { return status_reply && readiness_reply; }, 5000));
  EXPECT_EQ(http_get(loop, admin.port(), "/metrics").status(), 200);
  EXPECT_EQ(http_get(loop, admin.port(), "/healthz").status(), 200);
  EXPECT_TRUE(status.empty() && readyz.empty());

  status_reply(nlohmann::json{{"workers", 3}});
  readiness_reply(Readiness{false, "worker 0 did not answer"});
  ASSERT_TRUE(loop.run_until([&] { return status.find("uptime_seconds") != std::string::npos && !readyz.empty(); }, 5000));
  EXPECT_NE(status.find("\"workers\": 3"), std::string::npos) << status;
  EXPECT_NE(status.find("\"process\": \"ixtest\""), std::string::npos) << status;
  EXPECT_NE(readyz.find("503"), std::string::npos) << readyz;
  EXPECT_NE(readyz.find("not ready: worker 0 did not answer"), std::string::npos) << readyz;
  admin.close();
  loop.run_for(10);
}

}  // namespace
}  // namespace ix::http
