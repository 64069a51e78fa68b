#include "protocol/http/metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ix::metrics {

namespace {

bool valid_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(const std::string& name) {
  if (name.empty() || name.starts_with("__") || name == "le") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels, const std::string& extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first + "=\"" + escape(labels[i].second, true) + "\"";
  }
  if (!extra.empty()) {
    if (!labels.empty()) out += ',';
    out += extra;
  }
  return out + "}";
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end()) {
    throw std::invalid_argument("histogram bucket bounds must be strictly increasing");
  }
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) {
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> latency_buckets_seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void Registry::set_const_labels(Labels labels) {
  std::lock_guard lock(mutex_);
  for (const auto& [label, value] : labels) {
    if (!valid_label_name(label)) throw std::invalid_argument("invalid constant label name \"" + label + "\"");
    for (const auto& [name, family] : families_) {
      for (const auto& [key, s] : family.series) {
        for (const auto& used : s.labels) {
          if (used.first == label) throw std::invalid_argument("constant label " + label + " is already a label of " + name);
        }
      }
    }
  }
  const_labels_ = std::move(labels);
}

Registry::Series& Registry::series(const std::string& name, const std::string& help, Type type,
                                   const Labels& labels) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name \"" + name + "\"");
  for (const auto& [label, value] : labels) {
    if (!valid_label_name(label)) {
      throw std::invalid_argument("invalid label name \"" + label + "\" on metric " + name);
    }
    for (const auto& constant : const_labels_) {
      if (constant.first == label) throw std::invalid_argument("label " + label + " of " + name + " is a constant label");
    }
  }
  auto [it, inserted] = families_.try_emplace(name, Family{type, help, {}});
  Family& family = it->second;
  if (!inserted && (family.type != type || family.help != help)) {
    throw std::invalid_argument("metric " + name + " registered twice with a different type or help");
  }
  auto [series_it, fresh] = family.series.try_emplace(render_labels(labels));
  if (fresh) series_it->second.labels = labels;
  return series_it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::kCounter, labels);
  if (s.read) throw std::invalid_argument("counter " + name + " is already a counter function");
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::kGauge, labels);
  if (s.read) throw std::invalid_argument("gauge " + name + " is already a gauge function");
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

void Registry::gauge_function(const std::string& name, const std::string& help, const Labels& labels,
                              std::function<double()> read) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::kGauge, labels);
  if (s.gauge) throw std::invalid_argument("gauge " + name + " is already a plain gauge");
  s.read = std::move(read);
}

void Registry::counter_function(const std::string& name, const std::string& help, const Labels& labels,
                                std::function<double()> read) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::kCounter, labels);
  if (s.counter) throw std::invalid_argument("counter " + name + " is already a plain counter");
  s.read = std::move(read);
}

void Registry::declare_counters(const std::string& name, const std::string& help,
                                const std::vector<Dimension>& dimensions, const Labels& fixed) {
  // Walks the combinations like an odometer over the dimensions' values.
  for (const Dimension& d : dimensions) {
    if (d.values.empty()) throw std::invalid_argument("declare_counters " + name + ": label " + d.label + " has no values");
  }
  std::vector<size_t> at(dimensions.size(), 0);
  while (true) {
    Labels labels = fixed;
    for (size_t i = 0; i < dimensions.size(); ++i) labels.emplace_back(dimensions[i].label, dimensions[i].values[at[i]]);
    counter(name, help, labels);
    size_t i = dimensions.size();
    while (i > 0 && ++at[i - 1] == dimensions[i - 1].values.size()) at[--i] = 0;
    if (i == 0) return;
  }
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& upper_bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, Type::kHistogram, labels);
  if (!s.histogram) {
    s.histogram = std::make_unique<Histogram>(upper_bounds);
  } else if (s.histogram->upper_bounds() != upper_bounds) {
    throw std::invalid_argument("histogram " + name + " registered twice with different buckets");
  }
  return *s.histogram;
}

void Registry::remove(const std::string& name, const Labels& match) {
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end()) return;
  std::erase_if(family->second.series, [&](const auto& entry) {
    const Labels& labels = entry.second.labels;
    return std::all_of(match.begin(), match.end(),
                       [&](const auto& label) { return std::find(labels.begin(), labels.end(), label) != labels.end(); });
  });
}

std::vector<std::pair<Labels, double>> Registry::values(const std::string& name) const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<Labels, double>> out;
  auto family = families_.find(name);
  if (family == families_.end()) return out;
  for (const auto& [key, s] : family->second.series) {
    if (s.counter) out.emplace_back(s.labels, static_cast<double>(s.counter->value()));
    else if (s.gauge) out.emplace_back(s.labels, s.gauge->value());
    else if (s.read) out.emplace_back(s.labels, s.read());
  }
  return out;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.type == Type::kCounter ? "counter"
                       : family.type == Type::kGauge ? "gauge"
                                                     : "histogram";
    out += "# HELP " + name + " " + escape(family.help, false) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [series_key, s] : family.series) {
      Labels all = const_labels_;
      all.insert(all.end(), s.labels.begin(), s.labels.end());
      const std::string key = render_labels(all);
      if (s.counter) {
        out += name + key + " " + std::to_string(s.counter->value()) + "\n";
      } else if (s.gauge) {
        out += name + key + " " + format_value(s.gauge->value()) + "\n";
      } else if (s.read) {
        out += name + key + " " + format_value(s.read()) + "\n";
      } else if (s.histogram) {
        const auto& bounds = s.histogram->upper_bounds();
        std::vector<uint64_t> counts = s.histogram->cumulative_counts();
        for (size_t i = 0; i <= bounds.size(); ++i) {
          std::string le = "le=\"" + (i < bounds.size() ? format_value(bounds[i]) : "+Inf") + "\"";
          out += name + "_bucket" + render_labels(all, le) + " " + std::to_string(counts[i]) + "\n";
        }
        out += name + "_sum" + key + " " + format_value(s.histogram->sum()) + "\n";
        out += name + "_count" + key + " " + std::to_string(counts.back()) + "\n";
      }
    }
  }
  return out;
}

}  // namespace ix::metrics
