#include "cluster-config/config_store.h"

#include <set>

#include "cluster-config/options.h"

namespace ix::config {

namespace {

// "node-pairs[pair-1].settings.delivering-timeout" -> section "node-pairs.settings", key
// "delivering-timeout"; entry paths ("node-pairs[pair-1]") have no key.
std::pair<std::string, std::string> section_and_key(const std::string& path) {
  std::string section;
  std::string key;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find_first_of(".[", i);
    std::string part = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (end != std::string::npos && path[end] == '[') end = path.find(']', end) + 1;
    if (end == std::string::npos || end >= path.size()) {
      key = part;
      break;
    }
    section = section.empty() ? part : section + "." + part;
    i = end + 1;
  }
  return {section, key};
}

bool restart_for(const std::string& path) {
  auto [section, key] = section_and_key(path);
  if (const OptionSpec* option = find_option(section, key)) return option->reload == Reload::kRestart;
  if (const SectionSpec* s = find_section(section.empty() ? key : section + "." + key)) return s->reload == Reload::kRestart;
  return false;
}

// The entry an option belongs to ("node-pairs[pair-1]"), or empty for top-level sections.
std::string entry_of(const std::string& path) {
  auto close = path.find(']');
  return close == std::string::npos ? std::string() : path.substr(0, close + 1);
}

std::set<std::string> entries(const std::map<std::string, std::string>& values) {
  std::set<std::string> out;
  for (const auto& [path, value] : values) {
    std::string entry = entry_of(path);
    if (!entry.empty()) out.insert(entry);
  }
  return out;
}

}  // namespace

std::vector<ConfigChange> diff_configs(const ClusterConfig& before, const ClusterConfig& after) {
  std::vector<ConfigChange> changes;
  const std::set<std::string> old_entries = entries(before.values), new_entries = entries(after.values);
  // Whole entries added or removed are reported once, not key by key.
  for (const std::string& e : old_entries) {
    if (!new_entries.contains(e)) changes.push_back({e, "defined", "", restart_for(e.substr(0, e.find('[')))});
  }
  for (const std::string& e : new_entries) {
    if (!old_entries.contains(e)) changes.push_back({e, "", "defined", restart_for(e.substr(0, e.find('[')))});
  }
  auto counted = [&](const std::string& path) {
    std::string entry = entry_of(path);
    return entry.empty() || (old_entries.contains(entry) && new_entries.contains(entry));
  };
  for (const auto& [path, value] : after.values) {
    auto old = before.values.find(path);
    if (old != before.values.end() && old->second == value) continue;
    if (!counted(path)) continue;
    changes.push_back({path, old == before.values.end() ? "" : old->second, value, restart_for(path)});
  }
  for (const auto& [path, value] : before.values) {
    if (!after.values.contains(path) && counted(path)) changes.push_back({path, value, "", restart_for(path)});
  }
  return changes;
}

std::vector<std::string> ReloadReport::restart_needed() const {
  std::vector<std::string> out;
  for (const ConfigChange& c : changes) {
    if (c.needs_restart) out.push_back(c.key_path);
  }
  return out;
}

std::string ReloadReport::to_string() const {
  if (!applied) {
    std::string out = "configuration not reloaded; keeping the previous one:\n";
    for (const ConfigIssue& e : errors) out += "  " + e.to_string() + "\n";
    return out;
  }
  if (changes.empty()) return "configuration reloaded; nothing changed\n";
  std::string out = "configuration reloaded; " + std::to_string(changes.size()) + " change(s):\n";
  for (const ConfigChange& c : changes) {
    out += "  " + c.key_path + ": " + (c.old_value.empty() ? "(none)" : c.old_value) + " -> " +
           (c.new_value.empty() ? "(none)" : c.new_value) + (c.needs_restart ? "  [takes effect after restart]" : "") + "\n";
  }
  return out;
}

LoadResult ConfigStore::open(const std::string& path, std::unique_ptr<ConfigStore>& store) {
  LoadResult result = load_config_file(path);
  if (result.ok()) store.reset(new ConfigStore(path, result.config));
  return result;
}

ReloadReport ConfigStore::reload() {
  ReloadReport report;
  LoadResult result = load_config_file(path_);
  if (!result.ok()) {
    report.errors = std::move(result.errors);
    return report;
  }
  std::shared_ptr<const ClusterConfig> previous = current_.load();
  report.changes = diff_configs(*previous, *result.config);
  current_.store(result.config);
  report.applied = true;
  return report;
}

void ConfigStore::refuse(ReloadReport& report, std::shared_ptr<const ClusterConfig> previous,
                         const std::vector<std::string>& reasons) {
  current_.store(std::move(previous));
  report.applied = false;
  report.changes.clear();
  for (const std::string& reason : reasons) report.errors.push_back(ConfigIssue{path_, 0, "", reason});
}

}  // namespace ix::config
