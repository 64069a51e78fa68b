#include "proxy/server/cluster_watch.h"

#include "cluster-config/admin_status.h"

namespace ix::proxy {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRecentErrors = std::chrono::minutes(5);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ClusterWatch::ClusterWatch(std::shared_ptr<const config::ClusterConfig> config, const metrics::Registry& metrics,
                           std::chrono::milliseconds interval, size_t history_samples)
    : metrics_(metrics), interval_(interval), history_samples_(history_samples), config_(std::move(config)) {}

ClusterWatch::~ClusterWatch() { stop(); }

void ClusterWatch::start() {
  thread_ = std::thread([this] { run(); });
}

void ClusterWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterWatch::set_config(std::shared_ptr<const config::ClusterConfig> config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
}

void ClusterWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    sample();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void ClusterWatch::sample() {
  std::shared_ptr<const config::ClusterConfig> config;
  {
    std::lock_guard lock(mutex_);
    config = config_;
  }
  // The slow part (one GET per process) runs without the lock.
  nlohmann::json s = config::admin_status(*config, 1000);
  const Clock::time_point now = Clock::now();

  // Queue depths summed over the pairs' serving nodes; agents by state as the busiest pair sees
  // them (an agent logged in through a proxy is logged in on every pair of its tenant).
  nlohmann::json queues = nlohmann::json::object();
  for (const config::Queue& q : config->queues) queues[q.id] = 0;
  nlohmann::json agents{{"logged_in", 0}, {"ready", 0}, {"not_ready", 0}, {"dnd", 0}};
  for (const auto& pair : s["pairs"]) {
    for (const auto& node : pair["nodes"]) {
      if (node.value("state", "") != "primary") continue;
      if (node.contains("queues")) {
        for (const auto& [queue, depth] : node["queues"].items()) {
          queues[queue] = queues.value(queue, int64_t{0}) + depth.get<int64_t>();
        }
      }
      agents["logged_in"] = std::max(agents["logged_in"].get<int64_t>(), node.value("agents_logged_in", int64_t{0}));
      if (!node.contains("agents")) continue;
      for (const char* state : {"ready", "not_ready", "dnd"}) {
        agents[state] = std::max(agents[state].get<int64_t>(), node["agents"].value(state, int64_t{0}));
      }
    }
  }

  double events = 0;
  for (const auto& [labels, value] : metrics_.values("ix_proxy_reporting_events_total")) events += value;
  const double seconds = std::chrono::duration<double>(now - last_sample_).count();
  const double events_per_s = last_reporting_events_ >= 0 && seconds > 0 ? (events - last_reporting_events_) / seconds : 0;

  std::map<std::string, double> errors;
  for (const auto& [labels, value] : metrics_.values("ix_proxy_errors_total")) {
    for (const auto& [key, code] : labels) {
      if (key == "code") errors[code] += value;
    }
  }

  std::lock_guard lock(mutex_);
  last_sample_ = now;
  last_reporting_events_ = events;
  error_totals_.emplace_back(now, errors);
  while (error_totals_.size() > 1 && now - error_totals_[1].first >= kRecentErrors) error_totals_.pop_front();
  nlohmann::json recent = nlohmann::json::object();
  for (const auto& [code, total] : errors) {
    auto before = error_totals_.front().second.find(code);
    const double since = total - (before == error_totals_.front().second.end() || error_totals_.size() == 1 ? 0 : before->second);
    if (since > 0) recent[code] = since;
  }
  history_.push_back({{"t_ms", unix_ms()},
                      {"queues", queues},
                      {"agents_ready", agents["ready"]},
                      {"reporting_events_per_s", events_per_s}});
  while (history_.size() > history_samples_) history_.pop_front();
  latest_ = {{"pairs", s["pairs"]},
             {"proxies", s["proxies"]},
             {"queues", queues},
             {"agents", agents},
             {"reporting_events_per_s", events_per_s},
             {"recent_errors", recent},
             {"interval_ms", interval_.count()}};
}

nlohmann::json ClusterWatch::snapshot() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = latest_;
  out["history"] = nlohmann::json(history_);
  return out;
}

}  // namespace ix::proxy
