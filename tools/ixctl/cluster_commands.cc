#include "tools/ixctl/cluster_commands.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cluster-config/loader.h"
#include "protocol/http/http_get.h"
#include "tools/ixctl/local_cluster.h"

namespace ix::tools {

namespace {

// The admin port's JSON, or {"unreachable": why}.
nlohmann::json admin_json(const std::string& host, uint16_t port, const std::string& path) {
  Result<http::HttpReply> reply = http::http_get(host, port, path, 2000);
  if (!reply) return {{"unreachable", reply.error().text}};
  nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
  if (body.is_discarded()) return {{"unreachable", "answered " + path + " with something that is not JSON"}};
  return body;
}

bool ready(const std::string& host, uint16_t port) {
  Result<http::HttpReply> reply = http::http_get(host, port, "/readyz", 2000);
  return reply && reply->status == 200;
}

// Every node's and proxy's own view, gathered from their admin ports.
nlohmann::json gather(const config::ClusterConfig& config) {
  nlohmann::json pairs = nlohmann::json::array();
  for (const config::NodePair& pair : config.node_pairs) {
    nlohmann::json nodes = nlohmann::json::array();
    std::string serving;
    for (const auto& [endpoint, role] : {std::pair{&pair.primary, "primary"}, std::pair{&pair.backup, "backup"}}) {
      nlohmann::json status = admin_json(endpoint->host, endpoint->admin_port, "/status");
      nlohmann::json node{{"configured_as", role},
                          {"address", endpoint->host + ":" + std::to_string(endpoint->port)},
                          {"admin", "http://" + endpoint->host + ":" + std::to_string(endpoint->admin_port) + "/status"}};
      if (status.contains("unreachable")) {
        node["state"] = "down";
        node["error"] = status["unreachable"];
      } else {
        node["state"] = status.value("role", "unknown");
        for (const char* key : {"queues", "interactions", "agents_logged_in", "agents", "sessions", "event_log_seq"}) {
          if (status.contains(key)) node[key] = status[key];
        }
        if (node["state"] == "primary") serving = role;
      }
      nodes.push_back(node);
    }
    pairs.push_back({{"id", pair.id}, {"serving", serving}, {"nodes", nodes}});
  }
  nlohmann::json proxies = nlohmann::json::array();
  for (const config::Proxy& proxy : config.proxies) {
    const auto& e = proxy.endpoint;
    nlohmann::json status = admin_json(e.host, e.admin_port, "/status");
    nlohmann::json p{{"id", proxy.id},
                     {"address", e.host + ":" + std::to_string(e.port)},
                     {"admin", "http://" + e.host + ":" + std::to_string(e.admin_port) + "/"}};
    if (status.contains("unreachable")) {
      p["state"] = "down";
      p["error"] = status["unreachable"];
    } else {
      p["state"] = ready(e.host, e.admin_port) ? "ready" : "not ready";
      uint64_t sessions = 0;
      for (const auto& w : status.value("workers", nlohmann::json::array())) sessions += w.value("sessions", uint64_t{0});
      p["sessions"] = sessions;
    }
    proxies.push_back(p);
  }
  return {{"cluster", config.name}, {"pairs", pairs}, {"proxies", proxies}};
}

void print_status(const nlohmann::json& s, std::ostream& out) {
  out << "cluster " << s.value("cluster", "") << "\n\nNODE PAIRS\n";
  for (const auto& pair : s["pairs"]) {
    const std::string serving = pair.value("serving", "");
    out << "  " << pair.value("id", "") << ": " << (serving.empty() ? "NO SERVING NODE" : "served by its " + serving) << "\n";
    for (const auto& node : pair["nodes"]) {
      out << "    " << node.value("configured_as", "") << " " << node.value("address", "") << "  " << node.value("state", "");
      if (node.contains("error")) out << " (" << node.value("error", "") << ")";
      if (node.value("state", "") == "primary") {
        out << ", " << node.value("interactions", 0) << " interactions, " << node.value("agents_logged_in", 0)
            << " agents logged in";
        if (node.contains("agents")) {
          const auto& a = node["agents"];
          out << " (" << a.value("ready", 0) << " ready, " << a.value("busy", 0) << " busy, " << a.value("not_ready", 0)
              << " not ready)";
        }
      }
      out << "\n";
      if (node.value("state", "") == "primary" && node.contains("queues") && !node["queues"].empty()) {
        out << "      queues:";
        for (const auto& [queue, depth] : node["queues"].items()) out << " " << queue << "=" << depth.get<int64_t>();
        out << "\n";
      }
    }
  }
  out << "\nPROXIES\n";
  for (const auto& p : s["proxies"]) {
    out << "  " << p.value("id", "") << " " << p.value("address", "") << "  " << p.value("state", "");
    if (p.contains("error")) out << " (" << p.value("error", "") << ")";
    if (p.contains("sessions")) out << ", " << p.value("sessions", 0) << " client sessions, status page " << p.value("admin", "");
    out << "\n";
  }
}

// The configuration: --config, else the one the local cluster in --dir was started with.
std::string config_path(const std::string& given, const std::string& dir) {
  if (!given.empty()) return given;
  std::ifstream in(std::filesystem::path(dir) / "cluster.json");
  nlohmann::json running = nlohmann::json::parse(in, nullptr, false);
  if (in && !running.is_discarded()) return running.value("config", "");
  throw CLI::ValidationError("--config", "give the cluster's configuration file (no local cluster is running from " + dir + ")");
}

}  // namespace

void add_cluster_commands(CLI::App& app, ClientContext& context) {
  CLI::App* cluster = app.add_subcommand("cluster", "run a local cluster on this machine");
  cluster->require_subcommand(1);

  auto options = std::make_shared<LocalClusterOptions>();
  auto bin_dir = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>(".ix");
  auto ready_timeout = std::make_shared<double>(60);
  CLI::App* up = cluster->add_subcommand(
      "up", "start every node (primary and backup) and proxy of CONFIG on this machine, wait until they are ready, "
            "print where everything is and keep running until Ctrl-C (or ixctl cluster down)");
  up->add_option("config", options->config_file, "the cluster's configuration file")->required()->check(CLI::ExistingFile);
  up->add_option("--dir", *dir, "working directory for logs and the cluster's state")->capture_default_str();
  up->add_option("--bin-dir", *bin_dir, "where ixnode and ixproxy are (default: next to ixctl, then PATH)");
  up->add_option("--ready-timeout", *ready_timeout, "seconds each process may take to become ready")->capture_default_str();
  up->callback([options, bin_dir, dir, ready_timeout, &context] {
    options->work_dir = *dir;
    options->bin_dir = *bin_dir;
    options->ready_timeout_ms = static_cast<uint64_t>(*ready_timeout * 1000);
    LocalCluster local(*options);
    std::cout << "ixctl: starting the cluster of " << options->config_file << " (logs in " << *dir << "/logs)" << std::endl;
    if (Status s = local.start(); !s) {
      std::cerr << "ixctl: " << s.error().text << "\n";
      context.exit_code = kExitRefused;
      return;
    }
    std::cout << local.summary() << std::flush;
    local.run();
  });

  auto down_dir = std::make_shared<std::string>(".ix");
  CLI::App* down = cluster->add_subcommand("down", "stop the local cluster started from --dir");
  down->add_option("--dir", *down_dir, "the working directory given to cluster up")->capture_default_str();
  down->callback([down_dir, &context] {
    if (Status s = stop_local_cluster(*down_dir); !s) {
      std::cerr << "ixctl: " << s.error().text << "\n";
      context.exit_code = kExitRefused;
      return;
    }
    std::cout << "ixctl: the cluster from " << *down_dir << " is stopped\n";
  });

  auto status_config = std::make_shared<std::string>();
  auto status_dir = std::make_shared<std::string>(".ix");
  CLI::App* status = app.add_subcommand(
      "status", "show the cluster: node pairs with primary and backup, proxies, queue depths, agents (from every "
                "process's admin port); exit 0 when every pair is served and every proxy ready, 1 when degraded, "
                "2 when nothing answers");
  status->add_option("--config", *status_config, "the cluster's configuration (default: the local cluster's)");
  status->add_option("--dir", *status_dir, "the local cluster's working directory")->capture_default_str();
  status->callback([status_config, status_dir, &context] {
    const std::string path = config_path(*status_config, *status_dir);
    config::LoadResult loaded = config::load_config_file(path);
    if (!loaded.ok()) throw CLI::ValidationError("--config", path + ": " + loaded.error_text());
    nlohmann::json s = gather(*loaded.config);
    if (context.output.json) std::cout << s.dump(2) << "\n";
    else print_status(s, std::cout);
    bool degraded = false, anything = false;
    for (const auto& pair : s["pairs"]) {
      degraded = degraded || pair.value("serving", "").empty();
      for (const auto& node : pair["nodes"]) anything = anything || node.value("state", "") != "down";
    }
    for (const auto& p : s["proxies"]) {
      degraded = degraded || p.value("state", "") != "ready";
      anything = anything || p.value("state", "") != "down";
    }
    context.exit_code = !anything ? kExitUnreachable : degraded ? kExitRefused : kExitOk;
  });
}

}  // namespace ix::tools
