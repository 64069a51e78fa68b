#include "protocol/http/admin_server.h"

#include "protocol/build_info.h"
#include "protocol/http/process_metrics.h"

namespace ix::http {

AdminServer::AdminServer(uv_loop_t* loop, metrics::Registry& registry, std::string process_name,
                         HttpServerOptions options)
    : loop_(loop),
      registry_(registry),
      process_name_(std::move(process_name)),
      started_ms_(uv_now(loop)),
      http_(loop, std::move(options)) {
  metrics::register_process_metrics(registry_);
  http_.route("GET", "/metrics", [this](const HttpRequest&) {
    HttpResponse r = HttpResponse::text(200, registry_.render());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return count(std::move(r));
  });
  http_.route("GET", "/healthz", [this](const HttpRequest&) {
    return count(HttpResponse::text(200, "ok\n"));
  });
  http_.route("GET", "/readyz", [this](const HttpRequest&) {
    Readiness r = readiness_ ? readiness_() : Readiness{};
    return count(r.ready ? HttpResponse::text(200, "ready\n")
                         : HttpResponse::text(503, "not ready: " + r.reason + "\n"));
  });
  http_.route("GET", "/status", [this](const HttpRequest&) {
    nlohmann::json body = status_ ? status_() : nlohmann::json::object();
    body["process"] = process_name_;
    body["version"] = std::string(build_version());
    body["commit"] = std::string(build_commit());
    body["uptime_seconds"] = static_cast<double>(uv_now(loop_) - started_ms_) / 1000.0;
    return count(HttpResponse::json(200, body.dump(2) + "\n"));
  });
}

HttpResponse AdminServer::count(HttpResponse response) {
  registry_.counter("ix_admin_http_requests_total", "Requests answered by the admin HTTP port",
                    {{"code", std::to_string(response.status)}}).inc();
  return response;
}

}  // namespace ix::http
