// LocalCluster: `ixctl cluster up` — every node (primary and backup) and proxy of a
// configuration file started as local processes, watched until interrupted, then stopped.
//
// The working directory holds the logs (logs/<process>.log) and cluster.json, which says who is
// running (the launcher's pid, every process with its pid, ports, log and restarts); `ixctl
// cluster down` reads it and asks the launcher to stop. Storage paths come from the
// configuration file.
//
// A process that dies on its own is started again after a back-off (1 s, doubling to 30 s; back
// to 1 s once it has run for a minute) unless the options say not to. `ixctl cluster restart
// NAME` leaves a request in restart-requests/ and signals the launcher (SIGUSR1), which stops
// that process and starts it again at once.
// Single-threaded; one LocalCluster per launcher process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cluster-config/model.h"
#include "protocol/result.h"

namespace ix::tools {

struct LocalClusterOptions {
  std::string config_file;
  std::filesystem::path work_dir = ".ix";
  std::filesystem::path bin_dir;  // empty: next to ixctl in the build tree, then PATH
  uint64_t ready_timeout_ms = 60'000;
  bool restart = true;  // start a process that died again (with a back-off)
};

// One process of the cluster.
struct LocalProcess {
  std::string name;  // "pair-1 primary", "proxy-1"
  std::vector<std::string> argv;
  std::string host;
  uint16_t port = 0;
  uint16_t admin_port = 0;
  bool is_proxy = false;
  bool is_backup = false;
  std::filesystem::path log;
  pid_t pid = -1;
  int restarts = 0;
  // While it is down waiting for its restart: when, and the back-off that chose it.
  bool restart_pending = false;
  std::chrono::steady_clock::time_point started_at{};
  std::chrono::steady_clock::time_point restart_at{};
  std::chrono::milliseconds backoff{0};
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {}
  ~LocalCluster() { stop(); }

  // Checks everything that would make the start fail half-way (a running cluster in the same
  // directory, missing binaries, ports in use), starts every process and waits until each is
  // ready. On failure everything started is stopped again and the error says what went wrong.
  Status start();
  // Runs until SIGINT/SIGTERM, reporting processes that exit on their own; then stops.
  void run();
  // SIGTERM to every process (proxies first), SIGKILL after 10 s; removes cluster.json.
  void stop();

  const std::vector<LocalProcess>& processes() const { return processes_; }
  std::string summary() const;  // where everything is, for people

 private:
  Status plan(const config::ClusterConfig& config);
  void respawn(LocalProcess& p, const std::string& why);
  void handle_restart_requests();
  Status wait_ready(const LocalProcess& process);
  void write_state() const;

  LocalClusterOptions options_;
  std::vector<LocalProcess> processes_;
  std::vector<std::string> data_files_;
};

// `ixctl cluster down`: asks the launcher recorded in work_dir/cluster.json to stop and waits
// until it and every process it started have exited.
Status stop_local_cluster(const std::filesystem::path& work_dir, uint64_t timeout_ms = 30'000);

// `ixctl cluster restart NAME` ("pair-1 primary", "pair-1-primary", "proxy-1"): asks the launcher
// in work_dir to restart that process and waits until the new one answers its /healthz. Returns
// the new pid.
Result<pid_t> restart_local_process(const std::filesystem::path& work_dir, const std::string& name,
                                    uint64_t timeout_ms = 60'000);

}  // namespace ix::tools
