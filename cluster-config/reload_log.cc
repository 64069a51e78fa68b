#include "cluster-config/reload_log.h"

#include <optional>

#include "protocol/log.h"

namespace ix::config {

bool change_concerns(const std::string& key_path, ReloadingProcess process, const std::string& id) {
  auto entry_of = [&](const std::string& section) -> std::optional<std::string> {
    const std::string prefix = section + "[";
    if (key_path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    const size_t end = key_path.find(']', prefix.size());
    return key_path.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size());
  };
  if (std::optional<std::string> pair = entry_of("node-pairs")) {
    // A proxy routes to every pair: their endpoints and media concern it.
    return process == ReloadingProcess::Proxy || *pair == id;
  }
  if (std::optional<std::string> proxy = entry_of("proxies")) return process == ReloadingProcess::Proxy && *proxy == id;
  // The pacing module and the proxy clusters are the proxies' alone.
  for (const char* section : {"pacing", "proxy-clusters"}) {
    const std::string name = section;
    if (key_path == name || key_path.starts_with(name + ".") || key_path.starts_with(name + "[")) {
      return process == ReloadingProcess::Proxy;
    }
  }
  return true;
}

std::string log_reload(const ReloadReport& report, ReloadingProcess process, const std::string& id) {
  std::string line;
  if (!report.applied) {
    line = "event=reload applied=false errors=" + std::to_string(report.errors.size());
    for (size_t i = 0; i < report.errors.size(); ++i) {
      line += " error." + std::to_string(i + 1) + "=" + quote(report.errors[i].to_string());
    }
    line += " kept=previous";
    spdlog::error("{}", line);
    return line;
  }
  size_t n = 0;
  std::string fields;
  for (const ConfigChange& c : report.changes) {
    if (!change_concerns(c.key_path, process, id)) continue;
    ++n;
    fields += " change." + std::to_string(n) + "=" +
              quote(c.key_path + ": " + (c.old_value.empty() ? "(none)" : c.old_value) + " -> " +
                    (c.new_value.empty() ? "(none)" : c.new_value)) +
              " restart." + std::to_string(n) + "=" + (c.needs_restart ? "true" : "false");
  }
  line = "event=reload applied=true changes=" + std::to_string(n) + fields;
  spdlog::info("{}", line);
  return line;
}

}  // namespace ix::config
