// ClusterWatch: what the proxy's status page shows beyond the proxy's own state — every node's
// and every proxy's admin status (config::admin_status), each proxy's version, uptime and the
// pairs it cannot reach (its /status), the errors it answered by code and the time its requests
// to each pair took (its /metrics), each
// pair's request, error and reporting-event rates (its serving node's /metrics and /status),
// failovers as this proxy saw them, the trouble to show in red, and the last minutes as history:
// queue depths across the cluster, agents by state, request, error and event rates. Sampled every `interval` on its own thread,
// because asking the admin ports blocks; the admin server reads snapshot() from the main loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"

namespace ix::proxy {

class ClusterWatch {
 public:
  ClusterWatch(std::shared_ptr<const config::ClusterConfig> config, const metrics::Registry& metrics,
               std::chrono::milliseconds interval = std::chrono::seconds(2), size_t history_samples = 300);
  ~ClusterWatch();
  ClusterWatch(const ClusterWatch&) = delete;
  ClusterWatch& operator=(const ClusterWatch&) = delete;

  void start();
  void stop();
  void set_config(std::shared_ptr<const config::ClusterConfig> config);

  // {"pairs": [admin_status's pair + "requests_per_s", "errors_per_s", "events_per_s" (its event
  //            log's growth), "latency_ms" (the mean time from a proxy sending a request to the
  //            pair to its reply, over every proxy's replies of the last sample that had some;
  //            a held pull's wait excluded; absent until one did), "commit_ms" (the serving
  //            node's mean commit time over the last sample that had commits; absent until one
  //            did), "failovers", "last_failover_ms",
  //            "trouble": [text…]],
  //  "proxies": [admin_status's proxy + "version", "commit", "uptime_seconds", "unreachable_pairs"],
  //  "trouble": [text…] (every red line), "queues", "agents" (logged_in, ready, busy, not_ready,
  //  dnd), "requests_per_s", "errors_per_s" (the pairs' serving nodes, summed),
  //  "reporting_events_per_s" (the events the pairs log, summed: with or without a reporting
  //  client), "proxy_reporting_events_per_s" (this proxy's merged stream), "recent_errors" (code →
  //  count answered by every proxy in the last 5 minutes), "recent_errors_by_proxy" (proxy → code
  //  → count), "interval_ms", "history": [{"t_ms", "queues", "agents_ready", "agents_busy",
  //  "requests_per_s", "errors_per_s", "pairs": {id: {"requests_per_s", "errors_per_s"}},
  //  "reporting_events_per_s"}]}
  nlohmann::json snapshot() const;

 private:
  void run();
  void sample();

  const metrics::Registry& metrics_;
  const std::chrono::milliseconds interval_;
  const size_t history_samples_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::shared_ptr<const config::ClusterConfig> config_;
  nlohmann::json latest_ = nlohmann::json::object();
  std::deque<nlohmann::json> history_;
  // Totals from earlier samples, for rates and for the errors of the last five minutes.
  std::chrono::steady_clock::time_point last_sample_{};
  double last_reporting_events_ = -1;
  // Per proxy: its error totals by code at each sample of the last five minutes.
  std::map<std::string, std::deque<std::pair<std::chrono::steady_clock::time_point, std::map<std::string, double>>>> error_totals_;
  // Per pair: the serving node's request and error totals at the last sample, the failovers
  // counted so far and when the count last grew (unix ms). Only the watcher thread uses them.
  struct PairTotals {
    std::string serving;
    double requests = -1, errors = -1;
    double seq = -1;  // the serving node's event_log_seq
    double commit_seconds = 0, commits = 0;  // the serving node's ix_node_commit_seconds sum and count
    double commit_ms = -1;                   // its mean commit time when last measured; -1: none yet
    double latency_ms = -1;  // the mean time of the proxies' requests to it when last measured; -1: none yet
    double failovers = 0;
    int64_t last_failover_ms = 0;
  };
  std::map<std::string, PairTotals> pair_totals_;
  // Per proxy and pair: ix_proxy_upstream_seconds' sum and count when the proxy last answered.
  std::map<std::string, std::map<std::string, std::pair<double, double>>> upstream_totals_;
};

}  // namespace ix::proxy
