#include "cluster-config/admin_status.h"

#include "protocol/http/http_get.h"

namespace ix::config {

namespace {

std::string address(const ServerEndpoint& e) { return e.host + ":" + std::to_string(e.port); }
std::string admin_url(const ServerEndpoint& e, const std::string& path) {
  return "http://" + e.host + ":" + std::to_string(e.admin_port) + path;
}

// The admin port's JSON, or why there is none.
Result<nlohmann::json> get_json(const ServerEndpoint& e, const std::string& path, uint64_t timeout_ms) {
  Result<http::HttpReply> reply = http::http_get(e.host, e.admin_port, path, timeout_ms);
  if (!reply) return reply.error();
  nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
  if (body.is_discarded()) return Error{0, "answered " + path + " with something that is not JSON"};
  return body;
}

nlohmann::json node_status(const ServerEndpoint& e, const char* configured_as, uint64_t timeout_ms) {
  nlohmann::json node{{"configured_as", configured_as}, {"address", address(e)}, {"admin", admin_url(e, "/status")}};
  Result<nlohmann::json> status = get_json(e, "/status", timeout_ms);
  if (!status) {
    node["state"] = "down";
    node["error"] = status.error().text;
    return node;
  }
  node["state"] = status->value("role", "unknown");
  for (const char* key :
       {"queues", "interactions", "agents_logged_in", "agents", "sessions", "event_log_seq", "version", "commit", "uptime_seconds"}) {
    if (status->contains(key)) node[key] = (*status)[key];
  }
  return node;
}

}  // namespace

nlohmann::json admin_status(const ClusterConfig& config, uint64_t timeout_ms) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const NodePair& pair : config.node_pairs) {
    nlohmann::json nodes = nlohmann::json::array();
    std::string serving;
    for (const auto& [endpoint, role] : {std::pair{&pair.primary, "primary"}, std::pair{&pair.backup, "backup"}}) {
      nlohmann::json node = node_status(*endpoint, role, timeout_ms);
      if (node["state"] == "primary") serving = role;
      nodes.push_back(std::move(node));
    }
    pairs.push_back({{"id", pair.id}, {"serving", serving}, {"nodes", nodes}});
  }
  nlohmann::json proxies = nlohmann::json::array();
  for (const Proxy& proxy : config.proxies) {
    const ServerEndpoint& e = proxy.endpoint;
    nlohmann::json p{{"id", proxy.id}, {"address", address(e)}, {"admin", admin_url(e, "/")}};
    Result<http::HttpReply> ready = http::http_get(e.host, e.admin_port, "/readyz", timeout_ms);
    if (!ready) {
      p["state"] = "down";
      p["error"] = ready.error().text;
    } else {
      p["state"] = ready->status == 200 ? "ready" : "not ready";
      if (ready->status != 200) p["reason"] = ready->body;
    }
    proxies.push_back(std::move(p));
  }
  return {{"cluster", config.name}, {"pairs", pairs}, {"proxies", proxies}};
}

}  // namespace ix::config
