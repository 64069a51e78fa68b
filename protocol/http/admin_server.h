// AdminServer: the admin HTTP port every ixcluster process serves (DESIGN.md §8).
//
//   /metrics  the process's metrics registry, Prometheus text format 0.0.4, with the build info
//             and process_* series every process exports (process_metrics.h)
//   /healthz  200 while the event loop answers at all
//   /readyz   200 when the process can do its job, 503 with the reason when it cannot
//   /status   JSON from the owner's status function, plus process name, version and uptime
//
// /readyz and /status may be answered later (set_readiness_async, set_status_async): the proxy
// asks its worker threads and answers when they have, or at its bound, while this loop goes on
// serving /metrics, /healthz and everything else. The owner may add routes (the proxy's status
// page) through http(). Single-threaded.
#pragma once

#include <uv.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "protocol/http/http_server.h"
#include "protocol/http/metrics.h"

namespace ix::http {

struct Readiness {
  bool ready = true;
  std::string reason;  // why not, for people
};

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, metrics::Registry& registry, std::string process_name,
              HttpServerOptions options = {});

  // The answer functions run on this loop, once each, now or later.
  using ReadinessReply = std::function<void(Readiness)>;
  using StatusReply = std::function<void(nlohmann::json)>;

  void set_readiness(std::function<Readiness()> readiness);
  void set_status(std::function<nlohmann::json()> status);
  void set_readiness_async(std::function<void(ReadinessReply)> readiness) { readiness_ = std::move(readiness); }
  void set_status_async(std::function<void(StatusReply)> status) { status_ = std::move(status); }

  Status listen(const net::Endpoint& endpoint) { return http_.listen(endpoint); }
  uint16_t port() const { return http_.port(); }
  HttpServer& http() { return http_; }
  void close() { http_.close(); }

 private:
  HttpResponse count(HttpResponse response);

  uv_loop_t* loop_;
  metrics::Registry& registry_;
  std::string process_name_;
  uint64_t started_ms_;
  HttpServer http_;
  std::function<void(ReadinessReply)> readiness_;
  std::function<void(StatusReply)> status_;
};

}  // namespace ix::http
