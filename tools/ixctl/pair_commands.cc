#include "tools/ixctl/pair_commands.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "cluster-config/loader.h"
#include "protocol/http/http_get.h"
#include "tools/ixctl/cluster_commands.h"
#include "tools/ixctl/output.h"

namespace ix::tools {

namespace {

struct SwitchoverOptions {
  std::string pair;
  std::string config;
  std::string dir = ".ix";
  double timeout_s = 0;  // 0: twice the pair's lease-timeout, at least 5 s
};

struct NodeView {
  const char* configured_as;
  const config::ServerEndpoint* endpoint;
  std::string role;  // "primary", "backup" or "" (down; error says why)
  std::string error;
  uint64_t epoch = 0;
};

std::string where(const config::ServerEndpoint& e) { return e.host + ":" + std::to_string(e.port); }

void look(NodeView& node) {
  Result<http::HttpReply> reply = http::http_get(node.endpoint->host, node.endpoint->admin_port, "/status");
  node.role.clear();
  if (!reply) {
    node.error = reply.error().text;
    return;
  }
  nlohmann::json status = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !status.is_object()) {
    node.error = "its admin port answered /status with HTTP " + std::to_string(reply->status);
    return;
  }
  node.role = status.value("role", "");
  if (status.contains("lease") && status["lease"].is_object()) node.epoch = status["lease"].value("epoch", uint64_t{0});
}

// Why a POST was not accepted, from the node's JSON error when it gave one.
std::string refusal(const Result<http::HttpReply>& reply) {
  if (!reply) return reply.error().text;
  nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
  if (body.is_object() && body.contains("error")) return body["error"].get<std::string>();
  return "HTTP " + std::to_string(reply->status) + " " + reply->body;
}

int switchover(const SwitchoverOptions& o) {
  const std::string path = cluster_config_path(o.config, o.dir);
  config::LoadResult loaded = config::load_config_file(path);
  if (!loaded.ok()) throw CLI::ValidationError("--config", path + ": " + loaded.error_text());
  const config::NodePair* pair = loaded.config->node_pair(o.pair);
  if (!pair) throw CLI::ValidationError("PAIR", "no node pair \"" + o.pair + "\" in " + path);

  NodeView nodes[2] = {{"primary", &pair->primary, "", ""}, {"backup", &pair->backup, "", ""}};
  for (NodeView& n : nodes) look(n);
  NodeView* serving = nullptr;
  NodeView* standby = nullptr;
  for (int i = 0; i < 2; ++i) {
    if (nodes[i].role == "primary") {
      serving = &nodes[i];
      standby = &nodes[1 - i];
    }
  }
  if (!serving) {
    std::cerr << "ixctl: node pair " << o.pair << " has no primary to hand over (" << nodes[0].configured_as << ": "
              << (nodes[0].role.empty() ? "down, " + nodes[0].error : nodes[0].role) << "; " << nodes[1].configured_as << ": "
              << (nodes[1].role.empty() ? "down, " + nodes[1].error : nodes[1].role) << ")\n";
    return kExitRefused;
  }
  if (standby->role != "backup") {
    std::cerr << "ixctl: the " << standby->configured_as << " node of pair " << o.pair << " (" << where(*standby->endpoint)
              << ") is not running as a backup (" << (standby->role.empty() ? standby->error : standby->role)
              << "): a switchover would leave the pair without a primary\n";
    return kExitRefused;
  }

  const auto started = std::chrono::steady_clock::now();
  Result<http::HttpReply> expect = http::http_post(standby->endpoint->host, standby->endpoint->admin_port, "/pair/expect-takeover");
  if (!expect || expect->status != 202) {
    std::cerr << "ixctl: the backup " << where(*standby->endpoint) << " refused to expect the lease: " << refusal(expect) << "\n";
    return kExitRefused;
  }
  Result<http::HttpReply> handed = http::http_post(serving->endpoint->host, serving->endpoint->admin_port, "/pair/switchover");
  if (!handed || handed->status != 202) {
    std::cerr << "ixctl: the primary " << where(*serving->endpoint) << " refused the switchover: " << refusal(handed) << "\n";
    return kExitRefused;
  }
  const uint64_t lease_ms = static_cast<uint64_t>(pair->settings.lease_timeout.count());
  const auto timeout = std::chrono::milliseconds(o.timeout_s > 0 ? static_cast<uint64_t>(o.timeout_s * 1000)
                                                                  : std::max<uint64_t>(5000, 2 * lease_ms));
  while (std::chrono::steady_clock::now() - started < timeout) {
    look(*standby);
    if (standby->role == "primary") {
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      std::cout << "ixctl: node pair " << o.pair << " switched over: the " << standby->configured_as << " node "
                << where(*standby->endpoint) << " serves (epoch " << standby->epoch << ") after " << took.count()
                << " ms; the " << serving->configured_as << " node " << where(*serving->endpoint) << " is its backup\n";
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::cerr << "ixctl: the " << standby->configured_as << " node " << where(*standby->endpoint) << " did not take the lease within "
            << timeout.count() << " ms; the pair's nodes compete for it again as usual (ixctl status shows who serves)\n";
  return kExitRefused;
}

}  // namespace

void add_pair_commands(CLI::App& app, int& exit_code) {
  CLI::App* pair = app.add_subcommand("pair", "act on one node pair through its nodes' admin ports");
  pair->require_subcommand(1);
  auto o = std::make_shared<SwitchoverOptions>();
  CLI::App* sw = pair->add_subcommand(
      "switchover", "hand the pair's lease from its primary to its backup at once (a planned switchover, e.g. before "
                    "upgrading the primary): commits in flight finish, the backup serves without waiting for the "
                    "lease to expire; exit 0 once the backup serves");
  sw->add_option("pair", o->pair, "the node pair's id")->required();
  sw->add_option("--config", o->config, "the cluster's configuration (default: the local cluster's)");
  sw->add_option("--dir", o->dir, "the local cluster's working directory")->capture_default_str();
  sw->add_option("--wait", o->timeout_s, "seconds to wait for the backup to serve (default: 2 x lease-timeout, at least 5)");
  sw->callback([o, &exit_code] { exit_code = switchover(*o); });
}

}  // namespace ix::tools
