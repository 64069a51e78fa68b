#include "protocol/http/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace ix::metrics {
namespace {

TEST(Metrics, RendersCountersGaugesAndHistogramsInPrometheusText) {
  Registry registry;
  registry.counter("ix_frames_total", "Frames received", {{"node", "pair-1"}}).inc(3);
  registry.counter("ix_frames_total", "Frames received", {{"node", "pair-2"}}).inc();
  registry.gauge("ix_queue_depth", "Interactions waiting").set(12.5);
  Histogram& latency = registry.histogram("ix_request_seconds", "Request latency", {0.01, 0.1, 1});
  latency.observe(0.005);
  latency.observe(0.05);
  latency.observe(5);
  registry.gauge_function("ix_open_connections", "Open connections", {}, [] { return 7.0; });

  EXPECT_EQ(registry.render(),
            "# HELP ix_frames_total Frames received\n"
            "# TYPE ix_frames_total counter\n"
            "ix_frames_total{node=\"pair-1\"} 3\n"
            "ix_frames_total{node=\"pair-2\"} 1\n"
            "# HELP ix_open_connections Open connections\n"
            "# TYPE ix_open_connections gauge\n"
            "ix_open_connections 7\n"
            "# HELP ix_queue_depth Interactions waiting\n"
            "# TYPE ix_queue_depth gauge\n"
            "ix_queue_depth 12.5\n"
            "# HELP ix_request_seconds Request latency\n"
            "# TYPE ix_request_seconds histogram\n"
            "ix_request_seconds_bucket{le=\"0.01\"} 1\n"
            "ix_request_seconds_bucket{le=\"0.10000000000000001\"} 2\n"
            "ix_request_seconds_bucket{le=\"1\"} 2\n"
            "ix_request_seconds_bucket{le=\"+Inf\"} 3\n"
            "ix_request_seconds_sum 5.0549999999999997\n"
            "ix_request_seconds_count 3\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.counter("ix_errors_total", "Errors \\ by text\nsecond line", {{"text", "say \"hi\"\n"}}).inc();
  std::string out = registry.render();
  EXPECT_NE(out.find("# HELP ix_errors_total Errors \\\\ by text\\nsecond line\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ix_errors_total{text=\"say \\\"hi\\\"\\n\"} 1\n"), std::string::npos) << out;
}

TEST(Metrics, SameSeriesTwiceIsTheSameObject) {
  Registry registry;
  Counter& a = registry.counter("ix_x_total", "x", {{"k", "v"}});
  Counter& b = registry.counter("ix_x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
}

TEST(Metrics, MistakesAreRefused) {
  Registry registry;
  EXPECT_THROW(registry.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("ix_ok_total", "x", {{"0bad", "v"}}), std::invalid_argument);
  EXPECT_THROW(registry.counter("ix_ok_total", "x", {{"le", "v"}}), std::invalid_argument);
  registry.counter("ix_thing", "x");
  EXPECT_THROW(registry.gauge("ix_thing", "x"), std::invalid_argument);
  EXPECT_THROW(registry.histogram("ix_h", "h", {1, 1}), std::invalid_argument);
  registry.histogram("ix_h2", "h", {1, 2});
  EXPECT_THROW(registry.histogram("ix_h2", "h", {1, 3}), std::invalid_argument);
}

TEST(Metrics, UpdatesFromManyThreadsAreNotLost) {
  Registry registry;
  Counter& counter = registry.counter("ix_ops_total", "ops");
  Histogram& histogram = registry.histogram("ix_op_seconds", "op", latency_buckets_seconds());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100'000; ++i) {
        counter.inc();
        histogram.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.value(), 400'000u);
  EXPECT_EQ(histogram.cumulative_counts().back(), 400'000u);
}

}  // namespace
}  // namespace ix::metrics
