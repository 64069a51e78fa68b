// ProxyServer: one ixproxy process — `workers` ProxyWorker threads, each with its own libuv
// loop accepting on the proxy's port (SO_REUSEPORT), and the admin HTTP port on the caller's
// loop (metrics shared by all workers, readiness, status JSON gathered from the workers and
// the ClusterWatch, the status page at "/"). /status and /readyz ask the workers without
// waiting for them (WorkerPolls): the admin loop keeps serving while a worker is stuck, and the
// answer comes when every worker asked has answered or after kAdminWorkerWaitMs, naming the
// workers that did not answer.
//
// The caller's loop thread owns the ProxyServer; workers are reached only through their
// thread's async handle (STYLE.md: one loop per thread, cross threads with uv_async_send).
#pragma once

#include <uv.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/http/admin_server.h"
#include "protocol/http/metrics.h"
#include "protocol/result.h"
#include "proxy/pacing/pacing_module.h"
#include "proxy/reporting/reporting_feed.h"
#include "proxy/requests/lease_request.h"
#include "proxy/route/routing_table.h"
#include "proxy/server/cluster_watch.h"
#include "proxy/server/worker_polls.h"

namespace ix::proxy {

// How long /status and /readyz wait for a worker's answer before answering without it.
inline constexpr uint64_t kAdminWorkerWaitMs = 2000;

class ProxyServer {
 public:
  ProxyServer(uv_loop_t* loop, std::shared_ptr<const config::ClusterConfig> config, std::string proxy_id);
  ~ProxyServer();

  // Starts the workers (each listening on the proxy's port) and the admin port.
  Status start();
  // Stops every worker (their agents are logged out, clients closed) and the admin port.
  void stop();
  // Applies a reloaded configuration in every worker (and the pacing module) without dropping
  // clients: one routing table, built from the previous one (pairs keep their PairIndex), posted
  // to every worker, which applies it on its next turn. Returns why it was refused: only a
  // configuration without this proxy is, before any worker sees it, so no worker can be left on
  // the old one while the others run the new. It does not wait for the workers: one that has not
  // applied it within kAdminWorkerWaitMs (stuck in a long turn) is named in a warning and in
  // /status ("reload", "late_workers"), and applies it when its loop is free.
  // ix_config_reload_success and /status ("reload") say whether it was applied.
  std::vector<std::string> reload(std::shared_ptr<const config::ClusterConfig> config);
  // A reload refused before it reached the server (the file did not load): for the gauge and
  // /status.
  void reload_refused(const std::vector<std::string>& reasons);

  uint16_t admin_port() const { return admin_.port(); }
  // The proxy's metrics (main records a configuration reload the config store refused).
  metrics::Registry& registry() { return metrics_; }
  // The proxy's merged reporting stream, for readers that are not workers (the pacing module:
  // ReportingFeed::add_consumer, start_stream). Exists from construction on; start_stream()
  // reaches worker 0 once start() has run.
  const std::shared_ptr<ReportingFeed>& feed() const { return feed_; }
  // The proxy's own lease requests, for a thread that is not a worker (the pacing module's master
  // election, proxy/pacing/master_lease.h): the returned function may be called from any thread
  // between start() and stop() (callers stop calling before stop(), as the pacing module does).
  // Each call is posted onto worker 0's loop and asked through its pair links (ask_lease:
  // the lease pair's primary, 2002 when there is no definite answer); the callback runs once,
  // on worker 0's thread — the caller hands the answer to its own loop. A call posted while the
  // proxy is stopping is dropped unanswered.
  using LeaseCall = std::function<void(LeaseRequest, LeaseDone)>;
  LeaseCall lease_call();
  // Runs task on worker `worker`'s loop thread, from any thread between start() and stop() (a
  // worker that is stopping drops it). Tests use it to stall a worker's loop for real.
  void run_on_worker(size_t worker, std::function<void(ProxyWorker&)> task);

 private:
  class WorkerThread;
  void status(http::AdminServer::StatusReply reply);
  void record_reload(const std::vector<std::string>& refused);
  void start_pacing();
  void readiness(http::AdminServer::ReadinessReply reply);

  uv_loop_t* loop_;
  std::shared_ptr<const config::ClusterConfig> config_;
  std::shared_ptr<const RoutingTable> table_;  // the workers' (each gets it posted on reload)
  std::string proxy_id_;
  metrics::Registry metrics_;
  http::AdminServer admin_;
  std::vector<std::unique_ptr<WorkerThread>> workers_;
  std::unique_ptr<WorkerPolls> polls_;  // the admin port's questions to the workers (from start() on)
  std::unique_ptr<ClusterWatch> watch_;
  std::shared_ptr<ReportingFeed> feed_;
  // The pacing module (when the configuration has [pacing]) and its consumer slot on the feed.
  // It keeps the targets it started with until the proxy restarts.
  std::unique_ptr<pacing::PacingModule> pacing_;
  int pacing_consumer_ = -1;
  uint64_t reloads_ = 0;         // reloads recorded, applied or refused
  nlohmann::json last_reload_;  // /status "reload": the last reload's outcome (none yet: absent)
};

}  // namespace ix::proxy
