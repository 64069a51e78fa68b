#include "protocol/http/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "protocol/build_info.h"
#include "protocol/http/process_metrics.h"

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

TEST(Metrics, DeclaredCountersExistAtZeroBeforeTheirFirstIncrement) {
  Registry registry;
  registry.declare_counters("ix_errors_total", "Errors", {{"code", {"2000", "2002"}}, {"worker", {"0", "1"}}},
                            {{"pair", "p1"}});
  EXPECT_EQ(registry.render(),
            "# HELP ix_errors_total Errors\n"
            "# TYPE ix_errors_total counter\n"
            "ix_errors_total{pair=\"p1\",code=\"2000\",worker=\"0\"} 0\n"
            "ix_errors_total{pair=\"p1\",code=\"2000\",worker=\"1\"} 0\n"
            "ix_errors_total{pair=\"p1\",code=\"2002\",worker=\"0\"} 0\n"
            "ix_errors_total{pair=\"p1\",code=\"2002\",worker=\"1\"} 0\n");
  // The lazy lookup on the data path finds the declared series.
  registry.counter("ix_errors_total", "Errors", {{"pair", "p1"}, {"code", "2002"}, {"worker", "1"}}).inc();
  EXPECT_NE(registry.render().find("ix_errors_total{pair=\"p1\",code=\"2002\",worker=\"1\"} 1\n"), std::string::npos);
  EXPECT_THROW(registry.declare_counters("ix_empty_total", "x", {{"code", {}}}), std::invalid_argument);
}

TEST(Metrics, ConstantLabelsGoOnEverySeriesButNotIntoValues) {
  Registry registry;
  registry.counter("ix_a_total", "a", {{"request", "RequestPull"}}).inc(2);
  registry.histogram("ix_b_seconds", "b", {1});
  registry.set_const_labels({{"pair", "p1"}, {"node", "primary"}});
  std::string out = registry.render();
  EXPECT_NE(out.find("ix_a_total{pair=\"p1\",node=\"primary\",request=\"RequestPull\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ix_b_seconds_bucket{pair=\"p1\",node=\"primary\",le=\"+Inf\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("ix_b_seconds_count{pair=\"p1\",node=\"primary\"} 0\n"), std::string::npos) << out;
  auto values = registry.values("ix_a_total");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].first, (Labels{{"request", "RequestPull"}}));
  EXPECT_THROW(registry.counter("ix_c_total", "c", {{"pair", "p2"}}), std::invalid_argument);
  Registry other;
  other.counter("ix_c_total", "c", {{"pair", "p2"}});
  EXPECT_THROW(other.set_const_labels({{"pair", "p1"}}), std::invalid_argument);
}

TEST(Metrics, CounterFunctionsAreReadAtRenderTime) {
  Registry registry;
  double cpu = 1.5;
  registry.counter_function("process_cpu_seconds_total", "cpu", {}, [&] { return cpu; });
  EXPECT_NE(registry.render().find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n"), std::string::npos);
  cpu = 2.5;
  EXPECT_NE(registry.render().find("process_cpu_seconds_total 2.5\n"), std::string::npos);
  EXPECT_THROW(registry.counter("process_cpu_seconds_total", "cpu"), std::invalid_argument);
}

double series_value(const std::string& text, const std::string& series) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("(^|\n)" + series + " ([^\n]+)\n"))) return -1;
  return std::stod(m[2]);
}

TEST(ProcessMetrics, BuildInfoAndTheStandardProcessSeriesFromProc) {
  Registry registry;
  register_process_metrics(registry);
  std::string out = registry.render();
  EXPECT_NE(out.find("ix_build_info{version=\"" + std::string(build_version()) + "\",commit=\"" +
                     std::string(build_commit()) + "\"} 1\n"),
            std::string::npos)
      << out;
  EXPECT_FALSE(build_version().empty());
  EXPECT_TRUE(std::regex_match(std::string(build_commit()), std::regex("[0-9a-f]{12}|unknown"))) << build_commit();
  // Burn a little CPU so the counter is visibly above zero.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  out = registry.render();
  EXPECT_GT(series_value(out, "process_cpu_seconds_total"), 0.0) << out;
  EXPECT_GT(series_value(out, "process_resident_memory_bytes"), 1e6) << out;
  EXPECT_GT(series_value(out, "process_virtual_memory_bytes"), series_value(out, "process_resident_memory_bytes")) << out;
  const double fds = series_value(out, "process_open_fds");
  EXPECT_GE(fds, 3) << out;
  int extra = ::dup(0);
  EXPECT_EQ(series_value(registry.render(), "process_open_fds"), fds + 1);
  ::close(extra);
  EXPECT_GT(series_value(out, "process_max_fds"), fds) << out;
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const double start = series_value(out, "process_start_time_seconds");
  EXPECT_LE(start, now + 1) << out;
  EXPECT_GT(start, now - 3600) << out;
  EXPECT_EQ(series_value(out, "ix_config_reload_success"), 1.0) << out;
  record_config_reload(registry, false);
  EXPECT_EQ(series_value(registry.render(), "ix_config_reload_success"), 0.0);
  EXPECT_GE(series_value(registry.render(), "ix_config_reload_timestamp_seconds"), now - 1);
}

}  // namespace
}  // namespace ix::metrics
