// ConfigStore: the current configuration of a process, replaced atomically on reload.
//
// A loaded configuration is an immutable snapshot. reload() parses and validates the file again
// and swaps the snapshot only if the new one is valid; a bad file keeps the old snapshot and the
// report says why. The report also lists every changed option and whether it takes effect now
// or after a restart (per the option table). current() may be called from any thread; reload()
// is meant for one thread (the one that handles SIGHUP).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cluster-config/loader.h"

namespace ix::config {

struct ConfigChange {
  std::string key_path;   // "node-pairs[pair-1].settings.delivering-timeout", or an entry path
  std::string old_value;  // empty when added
  std::string new_value;  // empty when removed
  bool needs_restart = false;
};

struct ReloadReport {
  bool applied = false;
  std::vector<ConfigIssue> errors;     // why the new file was refused
  std::vector<ConfigChange> changes;   // what differs from the previous snapshot
  std::vector<std::string> restart_needed() const;  // key paths of changes that need a restart
  std::string to_string() const;
};

// What changed between two configurations, classified by the option table.
std::vector<ConfigChange> diff_configs(const ClusterConfig& before, const ClusterConfig& after);

class ConfigStore {
 public:
  // Loads the first snapshot; returns the errors when the file is not valid.
  static LoadResult open(const std::string& path, std::unique_ptr<ConfigStore>& store);

  std::shared_ptr<const ClusterConfig> current() const { return current_.load(); }
  const std::string& path() const { return path_; }
  ReloadReport reload();
  // The process could not apply what reload() loaded (report.applied was true): the previous
  // snapshot becomes current again, the report says why (one error per reason, at the file) and
  // no longer says applied.
  void refuse(ReloadReport& report, std::shared_ptr<const ClusterConfig> previous, const std::vector<std::string>& reasons);

 private:
  ConfigStore(std::string path, std::shared_ptr<const ClusterConfig> first)
      : path_(std::move(path)), current_(std::move(first)) {}

  std::string path_;
  std::atomic<std::shared_ptr<const ClusterConfig>> current_;
};

}  // namespace ix::config
