// ixnode: one node of a primary/backup pair.
//
//   ixnode --config FILE --node PAIR-ID --role primary|backup [--log-level info] [--log-file PATH]
//          [--ports-file PATH]
//
// With --ports-file the node writes the ports it listens on (the ones the OS chose when the
// configuration says port 0) to PATH once both are listening; see cluster-config/ports_file.h.
// SIGTERM/SIGINT stop it gracefully (pending commits complete, the lease is released); SIGHUP
// reloads the configuration file and logs what changed and what needs a restart; SIGUSR1 reopens
// the --log-file (logrotate). Every log line carries the pair, the node and its current role.
#include <CLI/CLI.hpp>
#include <uv.h>

#include <iostream>

#include "cluster-config/config_store.h"
#include "cluster-config/ports_file.h"
#include "cluster-config/reload_log.h"
#include "node/server/node_server.h"
#include "protocol/build_info.h"
#include "protocol/http/process_metrics.h"
#include "protocol/log.h"
#include "protocol/net/process_signals.h"

int main(int argc, char** argv) {
  CLI::App app{"ixnode: an interaction server node (one of a primary/backup pair)"};
  std::string config_path, pair_id, role = "primary", log_level = "info", commit_mode = "group", ports_file, log_file;
  app.set_version_flag("--version", "ixnode " + std::string(ix::build_version()) + " (commit " + std::string(ix::build_commit()) + ")");
  app.add_option("--config", config_path, "Cluster configuration file (TOML)")->required();
  app.add_option("--node", pair_id, "ID of the node pair this process belongs to")->required();
  app.add_option("--role", role, "Preferred role; the pair's lease decides")->check(CLI::IsMember({"primary", "backup"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-file", log_file, "Also append the log to this file (reopened on SIGUSR1, for logrotate)");
  app.add_option("--commit-mode", commit_mode,
                 "group: commit concurrent requests together (default); single: one transaction per request "
                 "(the baseline perf/node_submit_bench compares against)")
      ->check(CLI::IsMember({"group", "single"}));
  app.add_option("--ports-file", ports_file,
                 "Once listening, write the protocol and admin ports to this file as {\"port\": N, \"admin-port\": M} "
                 "(atomically; useful with port 0 in the configuration, where the OS chooses)");
  CLI11_PARSE(app, argc, argv);

  if (std::string error; !ix::init_logging("ixnode", log_level, log_file, &error)) {
    std::cerr << "ixnode: " << error << "\n";
    return 2;
  }
  std::unique_ptr<ix::config::ConfigStore> config;
  ix::config::LoadResult loaded = ix::config::ConfigStore::open(config_path, config);
  if (!loaded.ok()) {
    std::cerr << loaded.error_text();
    return 2;
  }
  if (config->current()->node_pair(pair_id) == nullptr) {
    std::cerr << config_path << ": no node pair \"" << pair_id << "\" in [[node-pairs]]\n";
    return 2;
  }

  uv_loop_t* loop = uv_default_loop();
  int exit_code = 0;
  ix::node::NodeServer server(loop, config->current(), {pair_id, role == "primary", commit_mode == "group"});
  // role: starting until the first lease attempt, then primary while it holds the lease, else backup.
  bool started = false;
  ix::set_log_fields([&server, &started, fields = "pair=" + pair_id + " node=" + role + " role="] {
    return fields + (server.is_primary() ? "primary" : started ? "backup" : "starting");
  });
  struct ForgetFields {  // destroyed before the server: no line asks a destroyed server its role
    ~ForgetFields() { ix::set_log_fields(nullptr); }
  } forget_fields;
  std::unique_ptr<ix::net::ProcessSignals> signals;
  auto shutdown = [&](const std::string& why, int code) {
    spdlog::log(code == 0 ? spdlog::level::info : spdlog::level::err, "event=stopping reason={}", ix::quote(why));
    exit_code = code;
    server.stop();
    if (signals) signals->close();
  };
  server.set_on_fatal([&](const std::string& why) { shutdown(why, 1); });
  if (ix::Status s = server.start(); !s) {
    spdlog::error("event=start_failed error={}", ix::quote(s.error().text));
    server.stop();
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  if (!ports_file.empty() && !ix::config::write_ports_file(ports_file, {server.port(), server.admin_port()})) {
    spdlog::error("event=start_failed error={}", ix::quote("cannot write the ports file " + ports_file));
    server.stop();
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  started = true;
  signals = std::make_unique<ix::net::ProcessSignals>(
      loop,
      [&] {
        // One line with the outcome: a file that loads may still be refused by the node.
        std::shared_ptr<const ix::config::ClusterConfig> previous = config->current();
        ix::config::ReloadReport report = config->reload();
        if (report.applied) {
          if (ix::Status s = server.reload(config->current()); !s) config->refuse(report, previous, {s.error().text});
        } else {
          ix::metrics::record_config_reload(server.registry(), false);
        }
        ix::config::log_reload(report, ix::config::ReloadingProcess::Node, pair_id);
      },
      [&](const char* signal) { shutdown(signal, 0); });
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return exit_code;
}
