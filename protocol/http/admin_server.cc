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
  http_.route_async("GET", "/readyz", [this](const HttpRequest&, HttpRespond respond) {
    auto reply = [this, respond = std::move(respond)](Readiness r) {
      respond(count(r.ready ? HttpResponse::text(200, "ready\n") : HttpResponse::text(503, "not ready: " + r.reason + "\n")));
    };
    if (readiness_) return readiness_(std::move(reply));
    reply(Readiness{});
  });
  http_.route_async("GET", "/status", [this](const HttpRequest&, HttpRespond respond) {
    auto reply = [this, respond = std::move(respond)](nlohmann::json body) {
      if (!body.is_object()) body = nlohmann::json::object();
      body["process"] = process_name_;
      body["version"] = std::string(build_version());
      body["commit"] = std::string(build_commit());
      body["uptime_seconds"] = static_cast<double>(uv_now(loop_) - started_ms_) / 1000.0;
      respond(count(HttpResponse::json(200, body.dump(2) + "\n")));
    };
    if (status_) return status_(std::move(reply));
    reply(nlohmann::json::object());
  });
}

void AdminServer::set_readiness(std::function<Readiness()> readiness) {
  if (!readiness) return set_readiness_async(nullptr);
  set_readiness_async([readiness = std::move(readiness)](ReadinessReply reply) { reply(readiness()); });
}

void AdminServer::set_status(std::function<nlohmann::json()> status) {
  if (!status) return set_status_async(nullptr);
  set_status_async([status = std::move(status)](StatusReply reply) { reply(status()); });
}

HttpResponse AdminServer::count(HttpResponse response) {
  registry_.counter("ix_admin_http_requests_total", "Requests answered by the admin HTTP port",
                    {{"code", std::to_string(response.status)}}).inc();
  return response;
}

}  // namespace ix::http
