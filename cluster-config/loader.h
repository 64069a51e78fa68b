// Loading a configuration file: TOML parsing (toml++), validation against the option table,
// cross-reference checks, and the immutable ClusterConfig.
//
// Every problem is reported, not just the first, each naming the file, the line and the key
// path ("node-pairs[pair-1].settings.delivering-timeout") and saying what was expected.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster-config/model.h"

namespace ix::config {

struct ConfigIssue {
  std::string file;
  int line = 0;          // 0 when the problem is not on one line (a missing section)
  std::string key_path;  // empty for syntax errors
  std::string message;

  // "cluster.toml:14: node-pairs[pair-1].tag: ..."
  std::string to_string() const;
};

struct LoadResult {
  std::shared_ptr<const ClusterConfig> config;  // set only when errors is empty
  std::vector<ConfigIssue> errors;
  bool unreadable = false;  // the file could not be read at all

  bool ok() const { return config != nullptr; }
  std::string error_text() const;  // every issue, one per line
};

LoadResult load_config_file(const std::string& path);
// source_name names the text in messages; relative paths in it resolve against base_dir.
LoadResult load_config_text(std::string_view text, const std::string& source_name, const std::string& base_dir);

}  // namespace ix::config
