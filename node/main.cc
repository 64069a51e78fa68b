// ixnode: one node of a primary/backup pair.
//
//   ixnode --config FILE --node PAIR-ID --role primary|backup [--log-level info]
//
// SIGTERM/SIGINT stop it gracefully (pending commits complete, the lease is released); SIGHUP
// reloads the configuration file and logs what changed and what needs a restart.
#include <CLI/CLI.hpp>
#include <uv.h>

#include <iostream>

#include "cluster-config/config_store.h"
#include "node/server/node_server.h"
#include "protocol/log.h"

namespace {

struct Signals {
  uv_signal_t term, interrupt, hangup;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ixnode: an interaction server node (one of a primary/backup pair)"};
  std::string config_path, pair_id, role = "primary", log_level = "info", commit_mode = "group";
  app.add_option("--config", config_path, "Cluster configuration file (TOML)")->required();
  app.add_option("--node", pair_id, "ID of the node pair this process belongs to")->required();
  app.add_option("--role", role, "Preferred role; the pair's lease decides")->check(CLI::IsMember({"primary", "backup"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--commit-mode", commit_mode,
                 "group: commit concurrent requests together (default); single: one transaction per request "
                 "(the baseline perf/node_submit_bench compares against)")
      ->check(CLI::IsMember({"group", "single"}));
  CLI11_PARSE(app, argc, argv);

  ix::init_logging("ixnode", log_level);
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
  Signals signals;
  auto shutdown = [&](const std::string& why, int code) {
    spdlog::info("event=stopping reason={}", ix::quote(why));
    exit_code = code;
    server.stop();
    for (uv_signal_t* s : {&signals.term, &signals.interrupt, &signals.hangup}) {
      uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
    }
  };
  server.set_on_fatal([&](const std::string& why) { shutdown(why, 1); });
  if (ix::Status s = server.start(); !s) {
    spdlog::error("event=start_failed error={}", ix::quote(s.error().text));
    server.stop();
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }

  struct Context {
    std::function<void(int)> on_signal;
  } context;
  context.on_signal = [&](int signum) {
    if (signum == SIGHUP) {
      ix::config::ReloadReport report = config->reload();
      spdlog::info("event=reload applied={} report={}", report.applied, ix::quote(report.to_string()));
      if (report.applied) server.reload(config->current());
      return;
    }
    shutdown(signum == SIGTERM ? "SIGTERM" : "SIGINT", 0);
  };
  for (auto [handle, signum] : {std::pair{&signals.term, SIGTERM}, std::pair{&signals.interrupt, SIGINT},
                                std::pair{&signals.hangup, SIGHUP}}) {
    uv_signal_init(loop, handle);
    handle->data = &context;
    uv_signal_start(handle, [](uv_signal_t* h, int received) { static_cast<Context*>(h->data)->on_signal(received); }, signum);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return exit_code;
}
