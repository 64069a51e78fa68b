// ixproxy: the stateless routing proxy in front of the node pairs.
//
//   ixproxy --config FILE --proxy PROXY-ID [--log-level info]
//
// SIGTERM/SIGINT stop it gracefully (agents it logged in are logged out, clients closed);
// SIGHUP reloads the configuration file and applies the routing table without dropping clients.
#include <CLI/CLI.hpp>
#include <uv.h>

#include <iostream>

#include "cluster-config/config_store.h"
#include "protocol/log.h"
#include "protocol/net/process_signals.h"
#include "proxy/server/proxy_server.h"

int main(int argc, char** argv) {
  CLI::App app{"ixproxy: makes every node pair of the cluster look like one interaction server"};
  std::string config_path, proxy_id, log_level = "info";
  app.add_option("--config", config_path, "Cluster configuration file (TOML)")->required();
  app.add_option("--proxy", proxy_id, "ID of this proxy in [[proxies]]")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  ix::init_logging("ixproxy", log_level);
  std::unique_ptr<ix::config::ConfigStore> config;
  ix::config::LoadResult loaded = ix::config::ConfigStore::open(config_path, config);
  if (!loaded.ok()) {
    std::cerr << loaded.error_text();
    return 2;
  }
  if (config->current()->proxy(proxy_id) == nullptr) {
    std::cerr << config_path << ": no proxy \"" << proxy_id << "\" in [[proxies]]\n";
    return 2;
  }

  uv_loop_t* loop = uv_default_loop();
  ix::proxy::ProxyServer server(loop, config->current(), proxy_id);
  if (ix::Status s = server.start(); !s) {
    spdlog::error("event=start_failed error={}", ix::quote(s.error().text));
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }

  ix::net::ProcessSignals signals(
      loop,
      [&] {
        ix::config::ReloadReport report = config->reload();
        spdlog::info("event=reload applied={} report={}", report.applied, ix::quote(report.to_string()));
        if (report.applied) server.reload(config->current());
      },
      [&](const char* signal) {
        spdlog::info("event=stopping reason={}", signal);
        server.stop();
        signals.close();
      });
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
