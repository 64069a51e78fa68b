// The engagement client's cost per cycle with 10,000 pacing targets (or --targets N):
//   - build: the bulk-targets request body from N decisions (median of --runs);
//   - parse: a 200 answer with N pending counts validated and mapped back to the targets;
//   - post: one full POST on loopback to the test engagement service over TLS (token cached,
//     a new connection and handshake per post, as in production), first and median;
// all of which run on the pacing module's loop and must fit well inside the refresh period.
//
//   engagement_bench [--targets N] [--runs R]
#include <uv.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "proxy/pacing/engagement/bulk_targets.h"
#include "proxy/pacing/engagement/engagement_client.h"
#include "tests/proxy/pacing/engagement_test_server.h"
#include "tests/support/test_certs.h"

namespace {

using namespace ix;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of this thread: on a shared machine the wall clock also counts other processes' turns.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 10'000;
  int runs = 21;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--targets") == 0) n = std::strtoul(argv[i + 1], nullptr, 10);
    else if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  }
  if (n == 0 || runs <= 0) {
    std::fprintf(stderr, "usage: engagement_bench [--targets N] [--runs R]\n");
    return 2;
  }

  std::vector<config::PacingTarget> targets(n);
  std::vector<pacing::TargetDecision> decisions(n);
  for (size_t i = 0; i < n; ++i) {
    targets[i] = {"Virtual queue " + std::to_string(i) + " - chat", "Virtual queue " + std::to_string(i), "101", "chat", 0.03, {}};
    decisions[i].target = &targets[i];
    decisions[i].decision.invitations = static_cast<uint32_t>(i % 11);
  }
  nlohmann::json answer_doc = {{"targets", nlohmann::json::array()}};
  for (size_t i = 0; i < n; ++i) answer_doc["targets"].push_back({{"id", targets[i].name}, {"pendingInvitations", i % 5}});
  const std::string answer = answer_doc.dump();
  const std::vector<std::string> ids = pacing::target_ids(decisions);

  std::vector<double> build, parse, build_cpu, parse_cpu;
  size_t body_bytes = 0;
  for (int r = 0; r < runs; ++r) {
    auto start = Clock::now();
    double cpu = thread_cpu_ms();
    std::string body = pacing::build_bulk_targets_body(decisions, 12, 5);
    build.push_back(ms_since(start));
    build_cpu.push_back(thread_cpu_ms() - cpu);
    body_bytes = body.size();
    start = Clock::now();
    cpu = thread_cpu_ms();
    auto parsed = pacing::parse_bulk_targets_answer(answer, ids);
    parse.push_back(ms_since(start));
    parse_cpu.push_back(thread_cpu_ms() - cpu);
    if (!parsed) {
      std::fprintf(stderr, "parse failed: %s\n", parsed.error().text.c_str());
      return 1;
    }
  }
  std::printf("targets %zu: build %.2f ms wall / %.2f ms CPU (%zu bytes), parse+validate %.2f ms wall / %.2f ms CPU "
              "(%zu bytes) [median of %d]\n",
              n, median(build), median(build_cpu), body_bytes, median(parse), median(parse_cpu), answer.size(), runs);

  test::EngagementTestServer server;
  uv_loop_t loop;
  uv_loop_init(&loop);
  pacing::EngagementOptions options;
  options.base_urls = {server.base_url()};
  options.auth_url = server.auth_url();
  options.client_id = "engagement-client";
  options.client_secret = "s3cret";
  options.ca_pem = test::test_certificates().ca_pem;
  options.node_id = "bench";
  auto client = pacing::EngagementClient::create(&loop, options);
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().text.c_str());
    return 1;
  }
  std::vector<double> posts, posts_cpu;
  const int post_runs = std::max(3, runs / 4);
  for (int r = 0; r < post_runs; ++r) {
    std::optional<pacing::PostResult> result;
    const auto start = Clock::now();
    const double cpu = thread_cpu_ms();
    (*client)->post_targets(decisions, 12, 5, start + std::chrono::seconds(30),
                            [&](pacing::PostResult p) { result = std::move(p); });
    while (!result) uv_run(&loop, UV_RUN_ONCE);
    posts.push_back(ms_since(start));
    posts_cpu.push_back(thread_cpu_ms() - cpu);
    if (!result->ok() || result->pending.size() != n || !result->pending[n - 1]) {
      std::fprintf(stderr, "post failed: %s\n", result->reason.c_str());
      return 1;
    }
  }
  const double first = posts.front();
  posts.erase(posts.begin());
  posts_cpu.erase(posts_cpu.begin());
  std::printf("targets %zu: loopback HTTPS post, server included: first %.1f ms (with the token), then median %.1f ms "
              "wall, of which %.1f ms CPU on the client's loop [%d posts]\n",
              n, first, median(posts), median(posts_cpu), post_runs - 1);
  client->reset();
  uv_run(&loop, UV_RUN_NOWAIT);
  for (int i = 0; i < 100 && uv_loop_alive(&loop); ++i) uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  return 0;
}
