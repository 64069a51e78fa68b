#include "tools/ixctl/cluster_commands.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cluster-config/admin_status.h"
#include "cluster-config/loader.h"
#include "protocol/http/http_get.h"
#include "protocol/net/endpoint.h"
#include "tools/ixctl/local_cluster.h"

namespace ix::tools {

namespace {

// A pair serving with one of its nodes down has no backup to fail over to.
bool lost_backup(const nlohmann::json& pair) {
  if (pair.value("serving", "").empty()) return false;
  for (const auto& node : pair["nodes"]) {
    if (node.value("state", "") == "down") return true;
  }
  return false;
}

void print_status(const nlohmann::json& s, std::ostream& out) {
  if (s.contains("seen_by")) out << "cluster as " << s.value("seen_by", "") << " sees it\n\nNODE PAIRS\n";
  else out << "cluster " << s.value("cluster", "") << "\n\nNODE PAIRS\n";
  for (const auto& pair : s["pairs"]) {
    const std::string serving = pair.value("serving", "");
    out << "  " << pair.value("id", "") << ": " << (serving.empty() ? "NO SERVING NODE" : "served by its " + serving)
        << (lost_backup(pair) ? ", NO BACKUP (a failure now stops the pair)" : "") << "\n";
    for (const auto& node : pair["nodes"]) {
      out << "    " << node.value("configured_as", "") << " " << node.value("address", "") << "  " << node.value("state", "");
      if (node.contains("error")) out << " (" << node.value("error", "") << ")";
      if (node.value("state", "") == "primary") {
        out << ", " << node.value("interactions", 0) << " interactions, " << node.value("agents_logged_in", 0)
            << " agents logged in";
        if (node.contains("agents")) {
          const auto& a = node["agents"];
          out << " (" << a.value("ready", 0) << " ready, " << a.value("not_ready", 0) << " not ready, " << a.value("dnd", 0)
              << " do not disturb)";
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
    if (p.contains("reason")) out << " (" << p.value("reason", "") << ")";
    if (p.value("state", "") != "down") out << ", status page " << p.value("admin", "");
    out << "\n";
  }
}

// The configuration file's client endpoint → admin port of the proxy (or node) listening there.
std::optional<uint16_t> admin_port_of(const config::ClusterConfig& config, const net::Endpoint& server) {
  auto same = [&](const config::ServerEndpoint& e) { return e.host == server.host && e.port == server.port; };
  for (const config::Proxy& proxy : config.proxies) {
    if (same(proxy.endpoint)) return proxy.endpoint.admin_port;
  }
  return std::nullopt;
}

// `ixctl status --server HOST:PORT`: the cluster as that proxy's status page sees it (its /status
// "overview", the same shape as config::admin_status). HOST:PORT is the proxy's admin address,
// or its client address when the configuration (--config or the local cluster's) names it.
// Throws CLI::ValidationError for a bad address; returns an error when the proxy cannot tell.
Result<nlohmann::json> status_from_proxy(const std::string& server, const std::string& config_given, const std::string& dir,
                                         uint64_t timeout_ms) {
  Result<net::Endpoint> endpoint = net::parse_endpoint(server);
  if (!endpoint) throw CLI::ValidationError("--server", "\"" + server + "\": " + endpoint.error().text);
  uint16_t admin_port = endpoint->port;
  std::string config_path = config_given;
  if (config_path.empty()) {
    std::ifstream in(std::filesystem::path(dir) / "cluster.json");
    nlohmann::json running = nlohmann::json::parse(in, nullptr, false);
    if (in && !running.is_discarded()) config_path = running.value("config", "");
  }
  if (!config_path.empty()) {
    config::LoadResult loaded = config::load_config_file(config_path);
    if (loaded.ok()) {
      if (std::optional<uint16_t> admin = admin_port_of(*loaded.config, *endpoint)) admin_port = *admin;
    }
  }
  const std::string where = endpoint->host + ":" + std::to_string(admin_port);
  Result<http::HttpReply> reply = http::http_get(endpoint->host, admin_port, "/status", timeout_ms);
  nlohmann::json body = reply ? nlohmann::json::parse(reply->body, nullptr, false) : nlohmann::json();
  if (!reply || reply->status != 200 || body.is_discarded() || !body.is_object()) {
    return Error{0, where + " did not answer /status (" + (reply ? "HTTP " + std::to_string(reply->status) : reply.error().text) +
                        "); --server must be a proxy's admin address (its status page), or its client address with "
                        "the configuration (--config) that names it"};
  }
  if (!body.contains("overview")) {
    return Error{0, where + " is not a proxy's admin port (its /status has no cluster overview); give a proxy's admin address"};
  }
  const nlohmann::json& s = body["overview"];
  if (!s.contains("pairs") || !s.contains("proxies")) {
    return Error{0, "proxy " + body.value("proxy", "") + " at " + where + " has not sampled the cluster yet; try again in a few seconds"};
  }
  return nlohmann::json{
      {"seen_by", "proxy " + body.value("proxy", "") + " (http://" + where + "/)"}, {"pairs", s["pairs"]}, {"proxies", s["proxies"]}};
}

}  // namespace

// The configuration: --config, else the one the local cluster in --dir was started with.
std::string cluster_config_path(const std::string& given, const std::string& dir) {
  if (!given.empty()) return given;
  std::ifstream in(std::filesystem::path(dir) / "cluster.json");
  nlohmann::json running = nlohmann::json::parse(in, nullptr, false);
  if (in && !running.is_discarded()) return running.value("config", "");
  throw CLI::ValidationError("--config", "give the cluster's configuration file (no local cluster is running from " + dir + ")");
}

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
  auto no_restart = std::make_shared<bool>(false);
  up->add_flag("--no-restart", *no_restart,
               "leave a process that dies down (by default it is started again after 1 s, then 2, 4… up to 30 s)");
  up->callback([options, bin_dir, dir, ready_timeout, no_restart, &context] {
    options->restart = !*no_restart;
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

  auto restart_dir = std::make_shared<std::string>(".ix");
  auto restart_name = std::make_shared<std::string>();
  CLI::App* restart = cluster->add_subcommand(
      "restart", "stop one process of the local cluster and start it again (the launcher does it); waits until it "
                 "answers /healthz");
  restart->add_option("process", *restart_name, "the process, as cluster up lists it: pair-1-primary, pair-2-backup, proxy-1")
      ->required();
  restart->add_option("--dir", *restart_dir, "the working directory given to cluster up")->capture_default_str();
  restart->callback([restart_dir, restart_name, &context] {
    Result<pid_t> pid = restart_local_process(*restart_dir, *restart_name);
    if (!pid) {
      std::cerr << "ixctl: " << pid.error().text << "\n";
      context.exit_code = kExitRefused;
      return;
    }
    std::cout << "ixctl: " << *restart_name << " restarted (pid " << *pid << ")\n";
  });

  auto status_config = std::make_shared<std::string>();
  auto status_dir = std::make_shared<std::string>(".ix");
  CLI::App* status = app.add_subcommand(
      "status", "show the cluster: node pairs with primary and backup, proxies, queue depths, agents (from every "
                "process's admin port, or as the proxy --server / $IXCTL_SERVER sees it); exit 0 when every pair is "
                "served with its backup standing by and every proxy is ready, 1 when degraded (a pair with no "
                "serving node or no backup, a proxy not ready), 2 when nothing answers");
  status->add_option("--config", *status_config, "the cluster's configuration (default: the local cluster's)");
  status->add_option("--dir", *status_dir, "the local cluster's working directory")->capture_default_str();
  CLI::Option* server_option = app.get_option("--server");
  status->callback([status_config, status_dir, server_option, &context] {
    nlohmann::json s;
    // --server (or $IXCTL_SERVER) names the proxy to ask; otherwise every admin port of the
    // configuration is asked directly.
    if (server_option->count() > 0) {
      Result<nlohmann::json> seen = status_from_proxy(context.server, *status_config, *status_dir, context.timeout_ms());
      if (!seen) {
        std::cerr << "ixctl: " << seen.error().text << "\n";
        context.exit_code = kExitUnreachable;
        return;
      }
      s = std::move(*seen);
    } else {
      const std::string path = cluster_config_path(*status_config, *status_dir);
      config::LoadResult loaded = config::load_config_file(path);
      if (!loaded.ok()) throw CLI::ValidationError("--config", path + ": " + loaded.error_text());
      s = config::admin_status(*loaded.config);
    }
    if (context.output.json) std::cout << s.dump(2) << "\n";
    else print_status(s, std::cout);
    bool degraded = false, anything = false;
    for (const auto& pair : s["pairs"]) {
      degraded = degraded || pair.value("serving", "").empty() || lost_backup(pair);
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
