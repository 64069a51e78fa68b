// Metrics registry: counters, gauges and fixed-bucket histograms, rendered in the Prometheus text
// exposition format (version 0.0.4) for the admin port's /metrics.
//
// Registration happens at startup (or when a new label value first appears) and takes a lock;
// updating a metric is a relaxed atomic operation and is safe from any thread, so the proxy's
// worker loops can share one registry. A metric name registered twice with the same type and
// labels returns the same object; a name reused with another type or help is a programming error
// and throws std::invalid_argument, as does a name or label that Prometheus would reject.
//
// Prometheus conventions the registry helps keep: series whose label values are known in advance
// are pre-declared (declare_counters) so they exist at 0 from start-up and rate()/increase() see
// their first increment; labels that identify the process (a node's pair and node) are constant
// labels added to every rendered series.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ix::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Cumulative count of observations <= upper_bounds()[i]; the last entry is +Inf.
  std::vector<uint64_t> cumulative_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return cumulative_counts().back(); }

 private:
  std::vector<double> bounds_;
  // bounds_.size() + 1 (the +Inf bucket); the count is their sum, so an observation costs two
  // atomic updates (a proxy worker makes two per forwarded request)
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
};

// Bucket layouts used across the product.
std::vector<double> latency_buckets_seconds();

// One label and the values it will take, for Registry::declare_counters.
struct Dimension {
  std::string label;
  std::vector<std::string> values;
};

class Registry {
 public:
  // Labels added to every series of this registry when rendered (not part of values()). Set them
  // before the first render; a series may not use a constant label's name.
  void set_const_labels(Labels labels);

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help,
                       const std::vector<double>& upper_bounds, const Labels& labels = {});
  // A gauge whose value is read at render time (queue depths, open connections). The function
  // runs on the rendering thread and must be safe there.
  void gauge_function(const std::string& name, const std::string& help, const Labels& labels,
                      std::function<double()> read);
  // A counter whose value is read at render time (CPU seconds from /proc); it must never decrease.
  void counter_function(const std::string& name, const std::string& help, const Labels& labels,
                        std::function<double()> read);
  // Pre-declares a counter family: one series at 0 for every combination of the dimensions'
  // values (each after the `fixed` labels, in the dimensions' order), so later counter() calls
  // with those labels return them. Example:
  //   declare_counters("ix_proxy_errors_total", help, {{"code", {"2000", ..., "2006"}}});
  void declare_counters(const std::string& name, const std::string& help, const std::vector<Dimension>& dimensions,
                        const Labels& fixed = {});

  // Removes every series of the family `name` whose labels include all of `match` (a node pair
  // the configuration no longer has); the family stays. A reference to a removed series must
  // not be used again: only the code that owns those series may remove them.
  void remove(const std::string& name, const Labels& match);

  std::string render() const;
  // The current value of every series of a counter or gauge family, with its labels (for
  // status pages that show rates and recent errors). Empty for unknown names and histograms.
  std::vector<std::pair<Labels, double>> values(const std::string& name) const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Series> series;  // keyed by rendered label set
  };
  Series& series(const std::string& name, const std::string& help, Type type, const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  Labels const_labels_;
};

}  // namespace ix::metrics
