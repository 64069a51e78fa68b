#include "tools/ixctl/cluster_commands.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cluster-config/admin_status.h"
#include "cluster-config/loader.h"
#include "tools/ixctl/local_cluster.h"

namespace ix::tools {

namespace {

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
    const std::string path = cluster_config_path(*status_config, *status_dir);
    config::LoadResult loaded = config::load_config_file(path);
    if (!loaded.ok()) throw CLI::ValidationError("--config", path + ": " + loaded.error_text());
    nlohmann::json s = config::admin_status(*loaded.config);
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
