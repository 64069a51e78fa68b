// PacingModule: the pacing module inside ixproxy. It reads the proxy's merged reporting stream
// as a consumer of the ReportingFeed that is not a worker, keeps the PacingEngine's statistics
// current, and decides every target once per refresh period. It runs on a thread and loop of its
// own, so that a decision cycle over thousands of targets never delays a worker's routing.
//
// Posting is PacingMaster's: every proxy running the module keeps its statistics and decisions
// current, and the one holding the master lease posts them to the engagement service after each
// cycle; the pending invitations the service reports feed the next decision.
//
// Threads: start() and stop() on the owner's thread; wake() from any thread (the feed calls it
// when events wait); status() from any thread (the admin server), which reads the snapshot
// published after each cycle and each post under a lock. Everything else runs on the module's
// loop. Metrics (ix_pacing_*, labelled by target) are set after each cycle.
//
// Cut off by the feed (it read too slowly), the module is stale and has missed events. At its
// next cycle it rejoins the feed (Source::rejoin), counts every pair's stream as stopped, and
// rebuilds each pair from the state worker 0 publishes again; the targets are current once
// their pairs' states are in (the windows lack what was missed).
#pragma once

#include <uv.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"
#include "proxy/pacing/pacing_engine.h"
#include "proxy/pacing/pacing_master.h"
#include "proxy/reporting/reporting_feed.h"

namespace ix::pacing {

class PacingModule {
 public:
  // Where the module's events come from; both functions are called on the module's thread and
  // must be thread-safe.
  struct Source {
    std::function<std::vector<proxy::FeedEvent>()> take;  // what was published since the last take
    std::function<bool()> streaming;                       // false: statistics are stale
    LeaseFunction lease;  // asks the lease pair (any thread may run its callback); unset: never master
    // If the module was cut off by the feed (it fell too far behind): rejoins it and has every
    // pair's state published again, and returns true; false when it was not cut off. Unset:
    // the module never rejoins.
    std::function<bool()> rejoin;
  };

  // proxy_id: this proxy (the lease holder's name, X-Pacing-Node).
  PacingModule(std::shared_ptr<const config::ClusterConfig> config, std::string proxy_id, metrics::Registry& metrics);
  ~PacingModule();

  // Starts the module's thread; it decides every refresh period from then on.
  void start(Source source);
  // Stops the loop and joins the thread. Idempotent.
  void stop();
  // Thread-safe: events wait in the source.
  void wake();
  // Thread-safe: the status published after the last cycle.
  nlohmann::json status() const;
  // Thread-safe: a reloaded configuration (SIGHUP). The module's loop applies it before it next
  // reads the feed: targets added, removed or changed (PacingEngine::reconfigure), the refresh
  // period; the ix_pacing_* series of a removed target drop to 0; the master's endpoint,
  // forward proxy, http-timeout and alarm thresholds (PacingMaster::reconfigure). The lease and
  // the credentials stay as they started.
  void reload(std::shared_ptr<const config::ClusterConfig> config);

 private:
  struct TargetMetrics {
    metrics::Gauge* invitations;
    metrics::Gauge* waiting;
    metrics::Gauge* ready;
    metrics::Gauge* busy;
    metrics::Gauge* pending;
    metrics::Gauge* stale;
    metrics::Gauge* other_waiting;
    std::array<metrics::Gauge*, 3> accepted;
    std::array<metrics::Gauge*, 3> abandoned;
    std::array<metrics::Gauge*, 5> estimates;  // in kEstimateNames' order
  };
  // The label values of ix_pacing_estimate.
  static constexpr std::array<const char*, 5> kEstimateNames = {"acceptance", "answer_delay_seconds", "handle_time_seconds",
                                                                "patience_seconds", "reactive_per_second"};

  void run();
  void drain();
  void apply_reload();
  void make_target_metrics(metrics::Registry& metrics);
  void cycle();
  void publish();
  void post();

  std::shared_ptr<const config::ClusterConfig> config_;
  PacingEngine engine_;
  std::unique_ptr<PacingMaster> master_;
  uint64_t refresh_ms_ = 5000;
  bool stale_ = true;  // as of the last cycle
  Source source_;
  std::thread thread_;
  uv_loop_t loop_{};
  uv_async_t wake_{};
  uv_timer_t timer_{};
  std::mutex mutex_;  // guards stopping_, reloaded_ and the async handle's life against wake()
  bool running_ = false;
  bool stopping_ = false;
  std::shared_ptr<const config::ClusterConfig> reloaded_;  // waiting to be applied on the loop
  uint64_t generation_ = 0;  // configurations applied: a post's answer by older targets is dropped
  metrics::Registry& metrics_;
  mutable std::mutex status_mutex_;
  nlohmann::json status_;
  std::vector<TargetMetrics> target_metrics_;
  metrics::Histogram* cycle_seconds_;
  metrics::Counter* events_;
};

}  // namespace ix::pacing
