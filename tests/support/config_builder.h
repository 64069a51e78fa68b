// ConfigBuilder: the cluster configuration file (TOML) of a test, built from the model's own
// words — tenants, media types, node pairs with their endpoints, storage, settings and TLS,
// proxies, queues, views, workbin types, agents — instead of a TOML string pasted into each
// fixture. The result is plain text that the real loader reads (and that the real binaries read
// from the file the fixture writes), so a test still exercises the real parser.
//
// Every [[array]] entry is a TomlEntry: its keys in the order they were set, then its sub-tables
// ([node-pairs.primary], [node-pairs.settings], ...) in the order they were first used. Entries
// come out in the order they were added, each after a blank line.
//
// Owned by one test on its thread; no I/O.
#pragma once

#include <concepts>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace ix::test {

// A TOML value written as text: strings are quoted, numbers and booleans are not, a list of
// strings becomes an array. raw() takes text as it is (a value a test keeps as TOML already).
class TomlValue {
 public:
  TomlValue(const char* s) : text_(quote(s)) {}
  TomlValue(const std::string& s) : text_(quote(s)) {}
  TomlValue(bool b) : text_(b ? "true" : "false") {}
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  TomlValue(T n) : text_(std::to_string(n)) {}
  TomlValue(const std::vector<std::string>& list) {
    text_ = "[";
    for (size_t i = 0; i < list.size(); ++i) text_ += (i ? ", " : "") + quote(list[i]);
    text_ += "]";
  }
  TomlValue(std::initializer_list<const char*> list) : TomlValue(std::vector<std::string>(list.begin(), list.end())) {}

  static TomlValue raw(std::string text) {
    TomlValue v("");
    v.text_ = std::move(text);
    return v;
  }
  const std::string& text() const { return text_; }

 private:
  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }
  std::string text_;
};

// One entry of an array of tables ([[node-pairs]], [[queues]], ...).
class TomlEntry {
 public:
  explicit TomlEntry(std::string array) : array_(std::move(array)) {}

  TomlEntry& set(const std::string& key, const TomlValue& value) {
    lines_.push_back(key + " = " + value.text());
    return *this;
  }
  // A line as it is (for tests that check how the loader treats odd lines).
  TomlEntry& raw_line(const std::string& line) {
    lines_.push_back(line);
    return *this;
  }
  // A key of the sub-table [array.table].
  TomlEntry& set_in(const std::string& table, const std::string& key, const TomlValue& value) {
    for (auto& [name, lines] : tables_) {
      if (name == table) {
        lines.push_back(key + " = " + value.text());
        return *this;
      }
    }
    tables_.push_back({table, {key + " = " + value.text()}});
    return *this;
  }

  // Where a process listens: [array.role] (node-pairs: "primary", "backup") or, with an empty
  // role, the entry's own host/port/admin-port (proxies). Port 0 lets the OS choose.
  TomlEntry& endpoint(const std::string& role, uint16_t port, uint16_t admin_port, const std::string& host = "127.0.0.1") {
    if (role.empty()) return set("host", host).set("port", port).set("admin-port", admin_port);
    return set_in(role, "host", host).set_in(role, "port", port).set_in(role, "admin-port", admin_port);
  }
  // [array.tls]: serve TLS with these files (paths relative to the configuration file).
  TomlEntry& tls(const std::string& cert_file, const std::string& key_file, const std::string& ca_file) {
    return set_in("tls", "enabled", true).set_in("tls", "cert-file", cert_file).set_in("tls", "key-file", key_file).set_in("tls", "ca-file", ca_file);
  }
  TomlEntry& setting(const std::string& key, const TomlValue& value) { return set_in("settings", key, value); }
  // [proxies.link-tls]: the proxy's client certificate toward TLS node pairs.
  TomlEntry& link_tls(const std::string& cert_file, const std::string& key_file) {
    return set_in("link-tls", "cert-file", cert_file).set_in("link-tls", "key-file", key_file);
  }

  std::string text() const {
    std::string out = "\n[[" + array_ + "]]\n";
    for (const std::string& line : lines_) out += line + "\n";
    for (const auto& [name, lines] : tables_) {
      out += "[" + array_ + "." + name + "]\n";
      for (const std::string& line : lines) out += line + "\n";
    }
    return out;
  }

 private:
  std::string array_;
  std::vector<std::string> lines_;
  std::vector<std::pair<std::string, std::vector<std::string>>> tables_;
};

class ConfigBuilder {
 public:
  // Any entry; the helpers below name the common ones.
  TomlEntry& add(const std::string& array) { return entries_.emplace_back(array); }

  ConfigBuilder& tenant(const std::string& id) {
    add("tenants").set("id", id);
    return *this;
  }
  ConfigBuilder& media_type(const std::string& name, bool enabled = true) {
    TomlEntry& e = add("media-types").set("name", name);
    if (!enabled) e.set("enabled", false);
    return *this;
  }
  // A pair serving `tenants` and `media_types`; its endpoints, storage and settings follow on the
  // returned entry.
  TomlEntry& node_pair(const std::string& id, const std::string& tag, const std::vector<std::string>& tenants,
                       const std::vector<std::string>& media_types) {
    return add("node-pairs").set("id", id).set("tag", tag).set("tenants", tenants).set("media-types", media_types);
  }
  ConfigBuilder& proxy_cluster(const std::string& id) {
    add("proxy-clusters").set("id", id);
    return *this;
  }
  TomlEntry& proxy(const std::string& id, const std::string& cluster, uint16_t port, uint16_t admin_port) {
    return add("proxies").set("id", id).set("cluster", cluster).endpoint("", port, admin_port);
  }
  ConfigBuilder& queue(const std::string& id, const std::string& tenant) {
    add("queues").set("id", id).set("tenant", tenant);
    return *this;
  }
  TomlEntry& view(const std::string& id, const std::string& tenant, const std::vector<std::string>& queues) {
    return add("views").set("id", id).set("tenant", tenant).set("queues", queues);
  }
  ConfigBuilder& workbin_type(const std::string& id, const std::string& tenant, const std::string& owner) {
    add("workbin-types").set("id", id).set("tenant", tenant).set("owner", owner);
    return *this;
  }
  ConfigBuilder& agent(const std::string& id, const std::string& tenant) {
    add("agents").set("id", id).set("tenant", tenant);
    return *this;
  }
  // A virtual queue with a pacing section: a pacing target for `media` (goal in percent; the
  // default when 0).
  TomlEntry& paced_virtual_queue(const std::string& id, const std::string& tenant, const std::string& media,
                                 double goal_percent = 0) {
    TomlEntry& e = add("virtual-queues").set("id", id).set("tenant", tenant).set_in("pacing", "media", media);
    if (goal_percent > 0) e.set_in("pacing", "optimizationGoal", TomlValue::raw(std::to_string(goal_percent)));
    return e;
  }
  TomlEntry& agent_group(const std::string& id, const std::string& tenant, const std::vector<std::string>& agents,
                         const std::vector<std::string>& origination_dns) {
    return add("agent-groups").set("id", id).set("tenant", tenant).set("agents", agents).set("origination-dns", origination_dns);
  }
  // The [pacing] section for `tenant`, posting nowhere reachable (the tests read its decisions).
  ConfigBuilder& pacing(const std::string& tenant, const std::string& refresh_period = "5s") {
    return raw("\n[pacing]\ntenant = \"" + tenant + "\"\nrefresh-period = \"" + refresh_period +
               "\"\nhttp-timeout = \"500ms\"\ncredentials-env = \"IX_TEST_ENGAGEMENT\"\nauth-url = \"https://127.0.0.1:9/oauth/token\"\n[pacing.endpoint]\nbase-urls = [\"https://127.0.0.1:9/api/\"]\n");
  }
  // [proxy-auth] with the secret in `file` (relative to the configuration file).
  ConfigBuilder& proxy_secret_file(const std::string& file) {
    return raw("\n[proxy-auth]\nsecret-file = " + TomlValue(file).text() + "\n");
  }
  // Text appended as it is, after the entries (a test's own extra sections).
  ConfigBuilder& raw(const std::string& text) {
    tail_ += text;
    return *this;
  }

  std::string text() const {
    std::string out;
    for (const TomlEntry& e : entries_) out += e.text();
    return out + tail_;
  }

 private:
  std::deque<TomlEntry> entries_;  // a deque: the entries handed out stay where they are
  std::string tail_;
};

}  // namespace ix::test
