#include "cluster-config/loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <cstring>
#include <sstream>
#include <toml++/toml.h>

#include "cluster-config/options.h"
#include "protocol/query/condition.h"

namespace ix::config {

std::string ConfigIssue::to_string() const {
  std::string out = file + ":" + (line > 0 ? std::to_string(line) + ":" : "") + " ";
  if (!key_path.empty()) out += key_path + ": ";
  return out + message;
}

std::string LoadResult::error_text() const {
  std::string out;
  for (const ConfigIssue& issue : errors) out += issue.to_string() + "\n";
  return out;
}

namespace {

int line_of(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "a list";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool looks_like_secret(std::string_view key) {
  for (std::string_view word : {"password", "secret", "token", "client-id", "api-key"}) {
    if (key.find(word) != std::string_view::npos) return true;
  }
  return false;
}

std::string join_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

// Checks the file's shape against the option table: known sections and keys, value types and
// ranges, required keys. Knows nothing about what the values mean.
class ShapeValidator {
 public:
  ShapeValidator(const std::string& file, std::vector<ConfigIssue>& errors) : file_(file), errors_(errors) {}

  void walk(const toml::table& table, std::string_view section, const std::string& path, int table_line) {
    for (auto&& [key, node] : table) {
      const std::string name(key.str());
      const std::string child_section = section.empty() ? name : std::string(section) + "." + name;
      const std::string child_path = join_path(path, name);
      const int line = static_cast<int>(key.source().begin.line);
      if (const SectionSpec* sub = find_section(child_section)) {
        walk_section(*sub, node, child_path, line);
      } else if (const OptionSpec* option = find_option(section, name)) {
        check_value(*option, node, child_path, line);
      } else {
        unknown_key(section, name, child_path, line);
      }
    }
    for (const OptionSpec& option : option_specs()) {
      if (option.section == section && option.required && !table.contains(option.key)) {
        error(table_line, join_path(path, option.key), "missing required key (" + describe_expected(option) + ")");
      }
    }
    for (const SectionSpec& sub : section_specs()) {
      if (!sub.required || sub.path.empty() || !is_child(section, sub.path)) continue;
      std::string_view leaf = sub.path.substr(section.empty() ? 0 : section.size() + 1);
      if (!table.contains(leaf)) {
        error(table_line, join_path(path, leaf),
              sub.array ? "missing: at least one [[" + std::string(sub.path) + "]] entry is required"
                        : "missing required [" + std::string(sub.path) + "] table");
      }
    }
  }

 private:
  static bool is_child(std::string_view parent, std::string_view path) {
    if (parent.empty()) return path.find('.') == std::string_view::npos;
    return path.size() > parent.size() + 1 && path.starts_with(parent) && path[parent.size()] == '.' &&
           path.substr(parent.size() + 1).find('.') == std::string_view::npos;
  }

  void walk_section(const SectionSpec& spec, const toml::node& node, const std::string& path, int line) {
    if (!spec.array) {
      if (const toml::table* table = node.as_table()) {
        walk(*table, spec.path, path, line_of(node));
      } else {
        error(line, path, "expected a [" + std::string(spec.path) + "] table, found " + type_name(node));
      }
      return;
    }
    const toml::array* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables() || array->empty()) {
      error(line, path, "expected [[" + std::string(spec.path) + "]] entries, found " + type_name(node));
      return;
    }
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table& entry = *array->get(i)->as_table();
      std::string id = "#" + std::to_string(i + 1);
      if (const auto* named = entry.get_as<std::string>(spec.id_key)) id = named->get();
      walk(entry, spec.path, path + "[" + id + "]", line_of(entry));
    }
  }

  void check_value(const OptionSpec& spec, const toml::node& node, const std::string& path, int line) {
    auto wrong = [&] { error(line, path, "expected " + describe_expected(spec) + ", found " + type_name(node)); };
    auto out_of_range = [&](const std::string& shown) {
      error(line, path, shown + " is out of range; expected " + describe_expected(spec));
    };
    const bool ranged = spec.min != 0 || spec.max != 0;
    switch (spec.type) {
      case ValueType::kString:
        if (!node.is_string()) wrong();
        return;
      case ValueType::kBool:
        if (!node.is_boolean()) wrong();
        return;
      case ValueType::kInt: {
        if (!node.is_integer()) return wrong();
        auto v = static_cast<double>(node.as_integer()->get());
        if (ranged && (v < spec.min || v > spec.max)) out_of_range(std::to_string(node.as_integer()->get()));
        return;
      }
      case ValueType::kFloat: {
        if (!node.is_number()) return wrong();
        double v = node.is_integer() ? static_cast<double>(node.as_integer()->get()) : node.as_floating_point()->get();
        std::ostringstream shown;
        shown << v;
        if (ranged && (v < spec.min || v > spec.max)) out_of_range(shown.str());
        return;
      }
      case ValueType::kDuration: {
        std::optional<long long> ms;
        std::string shown;
        if (node.is_integer()) {
          long long seconds = node.as_integer()->get();
          if (seconds >= 0 && seconds < (1LL << 40)) ms = seconds * 1000;
          shown = std::to_string(seconds) + "s";
        } else if (node.is_string()) {
          shown = in_quotes(node.as_string()->get());
          ms = parse_duration_ms(node.as_string()->get());
        } else {
          return wrong();
        }
        if (!ms) return error(line, path, shown + " is not a duration; expected " + describe_expected(spec));
        if (ranged && (static_cast<double>(*ms) < spec.min || static_cast<double>(*ms) > spec.max)) out_of_range(shown);
        return;
      }
      case ValueType::kEnum: {
        std::string value;
        if (node.is_boolean()) value = node.as_boolean()->get() ? "true" : "false";
        else if (node.is_string()) value = node.as_string()->get();
        else return wrong();
        if (std::find(spec.choices.begin(), spec.choices.end(), value) == spec.choices.end()) {
          error(line, path, in_quotes(value) + " is not allowed; expected " + describe_expected(spec));
        }
        return;
      }
      case ValueType::kStringList: {
        const toml::array* array = node.as_array();
        if (array == nullptr || (!array->empty() && !array->is_homogeneous(toml::node_type::string))) wrong();
        return;
      }
    }
  }

  void unknown_key(std::string_view section, const std::string& name, const std::string& path, int line) {
    if (looks_like_secret(name)) {
      error(line, path,
            "secrets do not belong in the configuration file; use credentials-file or credentials-env "
            "(pacing), postgresql-password-env (storage) or secret-file or secret-env ([proxy-auth])");
      return;
    }
    std::vector<std::string> valid;
    for (const OptionSpec& o : option_specs()) {
      if (o.section == section) valid.emplace_back(o.key);
    }
    for (const SectionSpec& s : section_specs()) {
      if (!s.path.empty() && is_child(section, s.path)) {
        valid.emplace_back(s.path.substr(section.empty() ? 0 : section.size() + 1));
      }
    }
    std::string best;
    size_t best_distance = 3;
    for (const std::string& v : valid) {
      size_t d = edit_distance(name, v);
      if (d < best_distance) best_distance = d, best = v;
    }
    std::string message = "unknown key";
    if (!best.empty()) {
      message += "; did you mean " + in_quotes(best) + "?";
    } else {
      message += "; expected one of:";
      for (size_t i = 0; i < valid.size(); ++i) message += (i ? ", " : " ") + valid[i];
    }
    error(line, path, message);
  }

  void error(int line, const std::string& path, const std::string& message) {
    errors_.push_back({file_, line, path, message});
  }

  const std::string& file_;
  std::vector<ConfigIssue>& errors_;
};

// Reads one validated table into model values, filling defaults from the option table and
// recording every value (for reload diffs) and line (for cross-reference errors).
class Builder;

class Entry {
 public:
  Entry(Builder& builder, const toml::table* table, std::string section, std::string path, int line)
      : builder_(builder), table_(table), section_(std::move(section)), path_(std::move(path)), line_(line) {}

  std::string str(std::string_view key);
  int64_t integer(std::string_view key);
  double number(std::string_view key);
  bool boolean(std::string_view key);
  Duration duration(std::string_view key);
  std::vector<std::string> strings(std::string_view key);
  std::string path_value(std::string_view key);  // a file path, resolved against the base folder
  Entry sub(std::string_view key);
  bool has(std::string_view key) const { return table_ != nullptr && table_->contains(key); }
  const std::string& path() const { return path_; }
  int line() const { return line_; }

 private:
  const toml::node* node(std::string_view key) const { return table_ ? table_->get(key) : nullptr; }
  const OptionSpec& spec(std::string_view key) const;
  void record(std::string_view key, const std::string& value);

  Builder& builder_;
  const toml::table* table_;
  std::string section_;
  std::string path_;
  int line_;
};

class Builder {
 public:
  Builder(const std::string& file, const std::string& base_dir, std::vector<ConfigIssue>& errors)
      : file_(file), base_dir_(base_dir), errors_(errors) {}

  // The entries of an array section, each with its path ("node-pairs[pair-1]").
  std::vector<Entry> entries(const toml::table& root, std::string_view section) {
    std::vector<Entry> out;
    const SectionSpec* spec = find_section(section);
    const toml::array* array = root.get_as<toml::array>(section);
    if (array == nullptr) return out;
    std::map<std::string, int> first_line;
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table* table = array->get(i)->as_table();
      std::string id = "#" + std::to_string(i + 1);
      if (const auto* named = table->get_as<std::string>(spec->id_key)) id = named->get();
      const std::string path = std::string(section) + "[" + id + "]";
      const int line = line_of(*table);
      if (auto [it, fresh] = first_line.try_emplace(id, line); !fresh) {
        errors_.push_back({file_, line, path + "." + std::string(spec->id_key),
                           "duplicate " + in_quotes(id) + "; it is already defined on line " + std::to_string(it->second)});
        continue;
      }
      lines_[path] = line;
      out.emplace_back(*this, table, std::string(section), path, line);
    }
    return out;
  }

  void error(const std::string& path, const std::string& message) {
    errors_.push_back({file_, line(path), path, message});
  }

  int line(const std::string& path) const {
    std::string p = path;
    while (!p.empty()) {
      auto it = lines_.find(p);
      if (it != lines_.end()) return it->second;
      auto cut = p.find_last_of(".[");
      if (cut == std::string::npos) break;
      p.resize(cut);
    }
    return 0;
  }

  std::string resolve(const std::string& file_path) const {
    if (file_path.empty()) return file_path;
    std::filesystem::path p(file_path);
    if (p.is_relative()) p = std::filesystem::path(base_dir_) / p;
    return p.lexically_normal().string();
  }

  std::map<std::string, std::string> values;
  std::map<std::string, int> lines_;

 private:
  const std::string& file_;
  std::string base_dir_;
  std::vector<ConfigIssue>& errors_;
};

const OptionSpec& Entry::spec(std::string_view key) const {
  const OptionSpec* s = find_option(section_, key);
  if (s == nullptr) throw std::logic_error("option " + section_ + "." + std::string(key) + " is not in the option table");
  return *s;
}

void Entry::record(std::string_view key, const std::string& value) {
  std::string full = join_path(path_, key);
  builder_.values[full] = value;
  const toml::node* n = node(key);
  builder_.lines_[full] = n ? line_of(*n) : line_;
}

std::string Entry::str(std::string_view key) {
  const toml::node* n = node(key);
  std::string v = n && n->is_string() ? n->as_string()->get() : std::string(spec(key).default_value);
  if (n && n->is_boolean()) v = n->as_boolean()->get() ? "true" : "false";  // enums spelled as booleans
  record(key, v);
  return v;
}

int64_t Entry::integer(std::string_view key) {
  const toml::node* n = node(key);
  int64_t v = n ? n->as_integer()->get() : std::stoll(std::string(spec(key).default_value));
  record(key, std::to_string(v));
  return v;
}

double Entry::number(std::string_view key) {
  const toml::node* n = node(key);
  double v = !n ? std::stod(std::string(spec(key).default_value))
                : n->is_integer() ? static_cast<double>(n->as_integer()->get()) : n->as_floating_point()->get();
  std::ostringstream shown;
  shown << v;
  record(key, shown.str());
  return v;
}

bool Entry::boolean(std::string_view key) {
  const toml::node* n = node(key);
  bool v = n ? n->as_boolean()->get() : spec(key).default_value == "true";
  record(key, v ? "true" : "false");
  return v;
}

Duration Entry::duration(std::string_view key) {
  const toml::node* n = node(key);
  long long ms = !n ? *parse_duration_ms(spec(key).default_value)
                 : n->is_integer() ? n->as_integer()->get() * 1000 : *parse_duration_ms(n->as_string()->get());
  record(key, format_duration(Duration(ms)));
  return Duration(ms);
}

std::vector<std::string> Entry::strings(std::string_view key) {
  std::vector<std::string> out;
  if (const toml::node* n = node(key)) {
    for (const toml::node& item : *n->as_array()) out.push_back(item.as_string()->get());
  }
  std::string shown = "[";
  for (size_t i = 0; i < out.size(); ++i) shown += (i ? ", " : "") + out[i];
  record(key, shown + "]");
  return out;
}

std::string Entry::path_value(std::string_view key) {
  std::string raw = str(key);
  return builder_.resolve(raw);
}

Entry Entry::sub(std::string_view key) {
  std::string child_section = join_path(section_, key);
  std::string child_path = join_path(path_, key);
  const toml::node* n = node(key);
  const int line = n ? line_of(*n) : line_;
  builder_.lines_[child_path] = line;
  return Entry(builder_, n ? n->as_table() : nullptr, child_section, child_path, line);
}

ServerEndpoint read_endpoint(Entry e) {
  return {e.str("host"), static_cast<uint16_t>(e.integer("port")), static_cast<uint16_t>(e.integer("admin-port"))};
}

TlsSettings read_tls(Entry e) {
  return {e.boolean("enabled"), e.path_value("cert-file"), e.path_value("key-file"), e.path_value("ca-file"),
          e.boolean("require-client-cert")};
}

NodePair read_node_pair(Entry e) {
  NodePair p;
  p.id = e.str("id");
  p.tag = e.str("tag");
  p.tenants = e.strings("tenants");
  p.media_types = e.strings("media-types");
  p.enable_submit = e.boolean("enable-submit");
  p.agent_seats = static_cast<uint32_t>(e.integer("agent-seats"));
  p.primary = read_endpoint(e.sub("primary"));
  p.backup = read_endpoint(e.sub("backup"));
  p.tls = read_tls(e.sub("tls"));
  Entry storage = e.sub("storage");
  p.storage = {storage.path_value("sqlite-path"), storage.str("postgresql"), storage.str("postgresql-password-env")};
  Entry s = e.sub("settings");
  p.settings.delivering_timeout = s.duration("delivering-timeout");
  p.settings.handling_timeout = s.duration("handling-timeout");
  p.settings.max_interactions_per_snapshot = static_cast<uint32_t>(s.integer("max-interactions-per-snapshot"));
  p.settings.max_live_interactions = static_cast<uint32_t>(s.integer("max-live-interactions"));
  std::string multiple = s.str("allow-multiple-agent-connections");
  p.settings.allow_multiple_agent_connections = multiple == "true"    ? MultipleAgentConnections::kAllow
                                                : multiple == "false" ? MultipleAgentConnections::kDeny
                                                                      : MultipleAgentConnections::kForceLogout;
  p.settings.pull_hold_timeout = s.duration("pull-hold-timeout");
  p.settings.lease_timeout = s.duration("lease-timeout");
  p.settings.event_log_retention = s.duration("event-log-retention");
  p.settings.max_frame_size = static_cast<uint32_t>(s.integer("max-frame-size"));
  p.settings.submit_key_window = s.duration("submit-key-window");
  p.settings.proxy_session_grace = s.duration("proxy-session-grace");
  return p;
}

Proxy read_proxy(Entry e) {
  Proxy p;
  p.id = e.str("id");
  p.cluster = e.str("cluster");
  p.endpoint = read_endpoint(e);
  p.tls = read_tls(e.sub("tls"));
  Entry link = e.sub("link-tls");
  p.link_tls = {link.path_value("cert-file"), link.path_value("key-file")};
  Entry s = e.sub("settings");
  p.settings.pull_hold_timeout = s.duration("pull-hold-timeout");
  p.settings.interaction_cache_size = static_cast<uint32_t>(s.integer("interaction-cache-size"));
  p.settings.request_timeout = s.duration("request-timeout");
  p.settings.mark_internal_requests = s.boolean("mark-internal-requests");
  p.settings.workers = static_cast<uint32_t>(s.integer("workers"));
  p.settings.reporting_buffer = static_cast<uint32_t>(s.integer("reporting-buffer"));
  p.settings.max_frame_size = static_cast<uint32_t>(s.integer("max-frame-size"));
  return p;
}

PacingService read_pacing(Entry e) {
  PacingService p;
  p.tenant = e.str("tenant");
  p.refresh_period = e.duration("refresh-period");
  p.http_timeout = e.duration("http-timeout");
  p.credentials_file = e.path_value("credentials-file");
  p.credentials_env = e.str("credentials-env");
  p.ca_file = e.path_value("ca-file");
  p.proactive_filter = e.str("proactive-filter");
  p.virtual_queue_key = e.str("virtual-queue-key");
  p.auth_url = e.str("auth-url");
  p.proxies = e.strings("proxies");
  p.lease_pair = e.str("lease-pair");
  p.lease_ttl = e.duration("lease-ttl");
  Entry endpoint = e.sub("endpoint");
  p.base_urls = endpoint.strings("base-urls");
  p.target_endpoint = endpoint.str("target-endpoint");
  if (e.has("forward-proxy")) {
    Entry fp = e.sub("forward-proxy");
    p.forward_proxy = ForwardProxy{fp.str("host"), static_cast<uint16_t>(fp.integer("port"))};
  }
  Entry alarms = e.sub("alarms");
  p.alarms.requests_failed_threshold = static_cast<uint32_t>(alarms.integer("requests-failed-threshold"));
  p.alarms.target_error_threshold = static_cast<uint32_t>(alarms.integer("target-error-threshold"));
  p.alarms.validation_error_threshold = static_cast<uint32_t>(alarms.integer("validation-error-threshold"));
  Entry priors = e.sub("priors");
  p.priors.acceptance = priors.number("acceptance");
  p.priors.acceptance_weight = priors.number("acceptance-weight");
  p.priors.answer_delay = priors.duration("answer-delay");
  p.priors.handle_time = priors.duration("handle-time");
  p.priors.handle_time_weight = priors.number("handle-time-weight");
  p.priors.patience = priors.duration("patience");
  p.priors.patience_weight = priors.number("patience-weight");
  return p;
}

// Cross-reference rules: what the option table cannot say on its own.
class CrossChecker {
 public:
  CrossChecker(const ClusterConfig& c, Builder& b) : c_(c), b_(b) {}

  void run() {
    node_pairs();
    ports();
    proxies();
    proxy_links();
    tenant_objects();
    view_expressions();
    pacing();
  }

 private:
  bool has_tenant(const std::string& id) const {
    return std::any_of(c_.tenants.begin(), c_.tenants.end(), [&](const Tenant& t) { return t.id == id; });
  }

  void check_tenant(const std::string& path, const std::string& tenant) {
    if (!has_tenant(tenant)) b_.error(path, "tenant " + in_quotes(tenant) + " is not defined in [[tenants]]");
  }

  void check_tls(const std::string& path, const TlsSettings& tls) {
    if (!tls.enabled) return;
    if (tls.cert_file.empty() || tls.key_file.empty()) b_.error(path + ".enabled", "TLS needs cert-file and key-file");
    if (tls.require_client_cert && tls.ca_file.empty()) {
      b_.error(path + ".require-client-cert", "requiring client certificates needs ca-file to verify them");
    }
  }

  void node_pairs() {
    static const std::regex tag_pattern("[a-z0-9]{1,8}");
    std::map<std::string, std::string> tags;
    for (const NodePair& p : c_.node_pairs) {
      const std::string path = "node-pairs[" + p.id + "]";
      if (!std::regex_match(p.tag, tag_pattern)) {
        b_.error(path + ".tag", in_quotes(p.tag) + " is not a valid tag; expected 1 to 8 characters of a-z and 0-9");
      } else if (auto [it, fresh] = tags.try_emplace(p.tag, p.id); !fresh) {
        b_.error(path + ".tag", "tag " + in_quotes(p.tag) + " is already used by node pair " + in_quotes(it->second));
      }
      for (const std::string& t : p.tenants) check_tenant(path + ".tenants", t);
      for (const std::string& m : p.media_types) {
        if (!c_.media_type(m)) b_.error(path + ".media-types", "media type " + in_quotes(m) + " is not defined in [[media-types]]");
      }
      const bool sqlite = !p.storage.sqlite_path.empty(), postgresql = !p.storage.postgresql.empty();
      if (sqlite == postgresql) {
        b_.error(path + ".storage", "set exactly one of sqlite-path and postgresql");
      }
      if (p.storage.postgresql.find("password") != std::string::npos) {
        b_.error(path + ".storage.postgresql",
                 "secrets do not belong in the configuration file; put the password in the variable named by postgresql-password-env");
      }
      check_tls(path + ".tls", p.tls);
    }
  }

  void ports() {
    std::map<std::pair<std::string, uint16_t>, std::string> used;
    auto claim = [&](const std::string& host, uint16_t port, const std::string& path) {
      if (port == 0) return;  // chosen by the OS at start: never the same as another
      auto [it, fresh] = used.try_emplace({host, port}, path);
      if (!fresh) b_.error(path, "port " + std::to_string(port) + " on " + host + " is already used by " + it->second);
    };
    for (const NodePair& p : c_.node_pairs) {
      for (auto [role, endpoint] : {std::pair{"primary", &p.primary}, std::pair{"backup", &p.backup}}) {
        std::string path = "node-pairs[" + p.id + "]." + role;
        claim(endpoint->host, endpoint->port, path + ".port");
        claim(endpoint->host, endpoint->admin_port, path + ".admin-port");
      }
    }
    for (const Proxy& p : c_.proxies) {
      claim(p.endpoint.host, p.endpoint.port, "proxies[" + p.id + "].port");
      claim(p.endpoint.host, p.endpoint.admin_port, "proxies[" + p.id + "].admin-port");
    }
  }

  void proxies() {
    for (const Proxy& p : c_.proxies) {
      const std::string path = "proxies[" + p.id + "]";
      bool known = std::any_of(c_.proxy_clusters.begin(), c_.proxy_clusters.end(),
                               [&](const ProxyCluster& pc) { return pc.id == p.cluster; });
      if (!known) b_.error(path + ".cluster", "proxy cluster " + in_quotes(p.cluster) + " is not defined in [[proxy-clusters]]");
      check_tls(path + ".tls", p.tls);
    }
  }

  // Nodes accept the proxy client type only from an authenticated proxy (docs/operations.md,
  // "Proxy authentication"): a link certificate the pair's CA verifies, on a TLS port, or the
  // [proxy-auth] secret. Refuses every pair/proxy combination that could never register.
  void proxy_links() {
    if (c_.proxy_auth && c_.proxy_auth->secret_file.empty() == c_.proxy_auth->secret_env.empty()) {
      b_.error("proxy-auth", "set exactly one of secret-file and secret-env");
    }
    const bool secret = c_.proxy_auth.has_value();
    for (const Proxy& p : c_.proxies) {
      if (p.link_tls.cert_file.empty() != p.link_tls.key_file.empty()) {
        b_.error("proxies[" + p.id + "].link-tls", "set both cert-file and key-file (the link certificate and its key)");
      }
    }
    if (c_.proxies.empty()) return;
    std::string proxy_list;
    for (const Proxy& p : c_.proxies) proxy_list += (proxy_list.empty() ? "" : ", ") + p.id;
    for (const NodePair& pair : c_.node_pairs) {
      const std::string pair_path = "node-pairs[" + pair.id + "]";
      if (!pair.tls.enabled) {
        if (!secret) {
          b_.error(pair_path, "no proxy can register with this pair (proxies: " + proxy_list +
                                  "): it serves plain TCP and the file has no [proxy-auth] secret; set secret-file or "
                                  "secret-env in [proxy-auth], or serve TLS ([node-pairs.tls]) and give the proxies "
                                  "link certificates ([proxies.link-tls])");
        }
        continue;
      }
      for (const Proxy& p : c_.proxies) {
        const std::string proxy_path = "proxies[" + p.id + "].link-tls";
        const bool has_cert = !p.link_tls.cert_file.empty();
        if (pair.tls.require_client_cert && !has_cert) {
          b_.error(proxy_path, "proxy " + in_quotes(p.id) + " cannot connect to node pair " + in_quotes(pair.id) +
                                   ": the pair requires client certificates (" + pair_path +
                                   ".tls.require-client-cert) and the proxy has no link certificate; set cert-file and "
                                   "key-file in [proxies.link-tls] (a certificate signed by the pair's ca-file, naming " +
                                   in_quotes(p.id) + ")");
        } else if (!secret && !has_cert) {
          b_.error(proxy_path, "proxy " + in_quotes(p.id) + " cannot register with node pair " + in_quotes(pair.id) +
                                   ": it has no link certificate and the file has no [proxy-auth] secret; set cert-file "
                                   "and key-file in [proxies.link-tls] (signed by " + pair_path +
                                   ".tls.ca-file), or secret-file or secret-env in [proxy-auth]");
        } else if (!secret && pair.tls.ca_file.empty()) {
          b_.error(pair_path + ".tls.ca-file", "proxy " + in_quotes(p.id) + " cannot register with node pair " +
                                                   in_quotes(pair.id) + ": the pair has no ca-file to verify its link "
                                                   "certificate with, and the file has no [proxy-auth] secret; set "
                                                   "ca-file, or secret-file or secret-env in [proxy-auth]");
        }
      }
    }
  }

  template <class T>
  const T* find(const std::vector<T>& items, const std::string& id) const {
    auto it = std::find_if(items.begin(), items.end(), [&](const T& i) { return i.id == id; });
    return it == items.end() ? nullptr : &*it;
  }

  // A reference from `path` to an object of `kind` that must exist in the same tenant.
  template <class T>
  void check_ref(const std::vector<T>& items, const std::string& id, const std::string& tenant,
                 const std::string& path, const char* kind) {
    const T* target = find(items, id);
    if (target == nullptr) {
      b_.error(path, std::string(kind) + " " + in_quotes(id) + " is not defined");
    } else if (target->tenant != tenant) {
      b_.error(path, std::string(kind) + " " + in_quotes(id) + " belongs to tenant " + in_quotes(target->tenant) +
                         ", not " + in_quotes(tenant));
    }
  }

  void tenant_objects() {
    for (const Queue& q : c_.queues) check_tenant("queues[" + q.id + "].tenant", q.tenant);
    for (const View& v : c_.views) {
      const std::string path = "views[" + v.id + "]";
      check_tenant(path + ".tenant", v.tenant);
      if (v.queues.empty()) b_.error(path + ".queues", "a view needs at least one queue");
      for (const std::string& q : v.queues) check_ref(c_.queues, q, v.tenant, path + ".queues", "queue");
    }
    for (const WorkbinType& w : c_.workbin_types) check_tenant("workbin-types[" + w.id + "].tenant", w.tenant);
    for (const Place& p : c_.places) check_tenant("places[" + p.id + "].tenant", p.tenant);
    for (const Agent& a : c_.agents) {
      check_tenant("agents[" + a.id + "].tenant", a.tenant);
      if (!a.place.empty()) check_ref(c_.places, a.place, a.tenant, "agents[" + a.id + "].place", "place");
    }
    for (const AgentGroup& g : c_.agent_groups) {
      const std::string path = "agent-groups[" + g.id + "]";
      check_tenant(path + ".tenant", g.tenant);
      for (const std::string& a : g.agents) check_ref(c_.agents, a, g.tenant, path + ".agents", "agent");
      for (const std::string& vq : g.origination_dns) {
        check_ref(c_.virtual_queues, vq, g.tenant, path + ".origination-dns", "virtual queue");
      }
    }
    for (const VirtualQueue& vq : c_.virtual_queues) {
      check_tenant("virtual-queues[" + vq.id + "].tenant", vq.tenant);
      if (vq.pacing && !c_.media_type(vq.pacing->media)) {
        b_.error("virtual-queues[" + vq.id + "].pacing.media",
                 "media type " + in_quotes(vq.pacing->media) + " is not defined in [[media-types]]");
      }
    }
  }

  void pacing() {
    if (!c_.pacing) return;
    const PacingService& p = *c_.pacing;
    check_tenant("pacing.tenant", p.tenant);
    if (p.credentials_file.empty() == p.credentials_env.empty()) {
      b_.error("pacing", "set exactly one of credentials-file and credentials-env");
    }
    if (p.base_urls.empty()) b_.error("pacing.endpoint.base-urls", "at least one base URL is required");
    for (const std::string& url : p.base_urls) {
      if (!url.starts_with("https://") && !url.starts_with("http://")) {
        b_.error("pacing.endpoint.base-urls", in_quotes(url) + " is not an http:// or https:// URL");
      }
    }
    if (Result<query::Condition> filter = query::Condition::parse(p.proactive_filter); !filter) {
      b_.error("pacing.proactive-filter", filter.error().text);
    }
    if (p.virtual_queue_key.empty()) b_.error("pacing.virtual-queue-key", "the user-data key must not be empty");
    if (!p.auth_url.empty() && !p.auth_url.starts_with("https://") && !p.auth_url.starts_with("http://")) {
      b_.error("pacing.auth-url", in_quotes(p.auth_url) + " is not an http:// or https:// URL");
    }
    std::set<std::string> seen;
    for (const std::string& id : p.proxies) {
      if (!c_.proxy(id)) b_.error("pacing.proxies", "proxy " + in_quotes(id) + " is not defined in [[proxies]]");
      if (!seen.insert(id).second) b_.error("pacing.proxies", "proxy " + in_quotes(id) + " is listed twice");
    }
    if (!p.lease_pair.empty() && !c_.node_pair(p.lease_pair)) {
      b_.error("pacing.lease-pair", "node pair " + in_quotes(p.lease_pair) + " is not defined in [[node-pairs]]");
    }
    if (p.http_timeout >= p.refresh_period) {
      b_.error("pacing.http-timeout", format_duration(p.http_timeout) + " is not shorter than refresh-period (" +
                                          format_duration(p.refresh_period) + "): a post must end before the next one is due");
    }
    if (p.lease_ttl < 2 * p.http_timeout) {
      b_.error("pacing.lease-ttl", format_duration(p.lease_ttl) + " is shorter than 2 x http-timeout (" +
                                       format_duration(p.http_timeout) +
                                       "): a post started while master must end before the lease could pass on");
    }
  }

  // Conditions and orders are parsed here too, so that a typo is a configuration error with its
  // line rather than a node that refuses to start.
  void view_expressions() {
    for (const View& v : c_.views) {
      if (Result<query::Condition> condition = query::Condition::parse(v.condition); !condition) {
        b_.error("views[" + v.id + "].condition", condition.error().text);
      }
      if (Result<query::Order> order = query::Order::parse(v.order); !order) {
        b_.error("views[" + v.id + "].order", order.error().text);
      }
    }
  }

  const ClusterConfig& c_;
  Builder& b_;
};

void derive(ClusterConfig& c) {
  for (ProxyCluster& pc : c.proxy_clusters) {
    for (const Proxy& p : c.proxies) {
      if (p.cluster == pc.id) pc.proxies.push_back(p.id);
    }
  }
  for (const VirtualQueue& vq : c.virtual_queues) {
    if (!vq.pacing) continue;
    PacingTarget target{vq.id + " - " + vq.pacing->media, vq.id, vq.tenant, vq.pacing->media,
                        vq.pacing->optimization_goal, {}};
    for (const AgentGroup& g : c.agent_groups) {
      if (std::find(g.origination_dns.begin(), g.origination_dns.end(), vq.id) != g.origination_dns.end()) {
        target.agent_groups.push_back(g.id);
      }
    }
    c.pacing_targets.push_back(std::move(target));
  }
  if (c.pacing) {
    if (c.pacing->proxies.empty()) {
      for (const Proxy& p : c.proxies) c.pacing->proxies.push_back(p.id);
    }
    if (c.pacing->lease_pair.empty() && !c.node_pairs.empty()) c.pacing->lease_pair = c.node_pairs.front().id;
  }
}

}  // namespace

LoadResult load_config_text(std::string_view text, const std::string& source_name, const std::string& base_dir) {
  LoadResult result;
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    result.errors.push_back({source_name, static_cast<int>(e.source().begin.line), "",
                             "TOML syntax error: " + std::string(e.description())});
    return result;
  }

  ShapeValidator(source_name, result.errors).walk(root, "", "", 1);
  if (!result.errors.empty()) return result;

  auto config = std::make_shared<ClusterConfig>();
  Builder b(source_name, base_dir, result.errors);
  Entry top(b, &root, "", "", 1);
  config->source_file = source_name;
  config->name = top.str("name");
  for (Entry e : b.entries(root, "tenants")) config->tenants.push_back({e.str("id"), e.str("name")});
  for (Entry e : b.entries(root, "media-types")) config->media_types.push_back({e.str("name"), e.boolean("enabled")});
  for (Entry e : b.entries(root, "node-pairs")) config->node_pairs.push_back(read_node_pair(e));
  for (Entry e : b.entries(root, "proxy-clusters")) config->proxy_clusters.push_back({e.str("id"), e.str("description"), {}});
  for (Entry e : b.entries(root, "proxies")) config->proxies.push_back(read_proxy(e));
  if (top.has("proxy-auth")) {
    Entry auth = top.sub("proxy-auth");
    config->proxy_auth = ProxyAuth{auth.path_value("secret-file"), auth.str("secret-env")};
  }
  for (Entry e : b.entries(root, "queues")) config->queues.push_back({e.str("id"), e.str("tenant"), e.str("description")});
  for (Entry e : b.entries(root, "views")) {
    config->views.push_back({e.str("id"), e.str("tenant"), e.strings("queues"), e.str("condition"), e.str("order"),
                             e.boolean("ordered-pull")});
  }
  for (Entry e : b.entries(root, "workbin-types")) {
    config->workbin_types.push_back({e.str("id"), e.str("tenant"), e.str("owner") == "place" ? WorkbinOwner::kPlace : WorkbinOwner::kAgent});
  }
  for (Entry e : b.entries(root, "places")) config->places.push_back({e.str("id"), e.str("tenant")});
  for (Entry e : b.entries(root, "agents")) config->agents.push_back({e.str("id"), e.str("tenant"), e.str("name"), e.str("place")});
  for (Entry e : b.entries(root, "agent-groups")) {
    config->agent_groups.push_back({e.str("id"), e.str("tenant"), e.strings("agents"), e.strings("origination-dns")});
  }
  for (Entry e : b.entries(root, "virtual-queues")) {
    VirtualQueue vq{e.str("id"), e.str("tenant"), std::nullopt};
    if (e.has("pacing")) {
      Entry pacing = e.sub("pacing");
      vq.pacing = PacingSection{pacing.str("media"), pacing.number("optimizationGoal")};
    }
    config->virtual_queues.push_back(std::move(vq));
  }
  if (top.has("pacing")) config->pacing = read_pacing(top.sub("pacing"));

  CrossChecker(*config, b).run();
  if (!result.errors.empty()) return result;
  derive(*config);
  config->values = std::move(b.values);
  result.config = std::move(config);
  return result;
}

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.unreadable = true;
    result.errors.push_back({path, 0, "", "cannot read the file: " + std::string(std::strerror(errno))});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::filesystem::path base = std::filesystem::absolute(path).parent_path();
  return load_config_text(text.str(), path, base.string());
}

}  // namespace ix::config
