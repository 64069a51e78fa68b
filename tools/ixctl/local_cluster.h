// LocalCluster: `ixctl cluster up` — every node (primary and backup) and proxy of a
// configuration file started as local processes, watched until interrupted, then stopped.
//
// The working directory holds the logs (logs/<process>.log) and cluster.json, which says who is
// running (the launcher's pid, every process with its pid, ports and log); `ixctl cluster down`
// reads it and asks the launcher to stop. Storage paths come from the configuration file.
// Single-threaded; one LocalCluster per launcher process.
#pragma once

#include <sys/types.h>

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
  Status wait_ready(const LocalProcess& process);
  void write_state() const;

  LocalClusterOptions options_;
  std::vector<LocalProcess> processes_;
  std::vector<std::string> data_files_;
};

// `ixctl cluster down`: asks the launcher recorded in work_dir/cluster.json to stop and waits
// until it and every process it started have exited.
Status stop_local_cluster(const std::filesystem::path& work_dir, uint64_t timeout_ms = 30'000);

}  // namespace ix::tools
