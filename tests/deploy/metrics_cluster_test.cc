// The metrics of a running cluster as an operator's monitoring sees them (issue 14): two real
// node pairs and a proxy running the pacing module, scraped over their admin ports.
//
//   - every series whose labels are known in advance exists at 0 from start-up;
//   - each endpoint's output passes `promtool check metrics`;
//   - docs/operations.md's metric tables match the processes both ways;
//   - every metric the shipped alert rules and Grafana dashboard use is exported;
//   - a pull's time held is its own series, not part of its latency;
//   - a real Prometheus scrapes every process, evaluates the shipped rules without error, and
//     answers "exactly one primary per pair" and sees the first failover with increase().
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "protocol/build_info.h"
#include "tests/proxy/cluster_fixture.h"
#include "tests/support/frame_peers.h"

namespace ix::test {
namespace {

// One /metrics answer: each family's type and the label names and values its samples carry.
struct Exposition {
  std::string text;
  std::map<std::string, std::string> types;                // family -> counter, gauge, histogram
  std::map<std::string, std::set<std::string>> labels;     // family -> label names (le excluded)
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // family -> label -> values

  explicit Exposition(std::string body) : text(std::move(body)) {
    std::istringstream in(text);
    static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? \S+$)");
    static const std::regex label(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)")re");
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("# TYPE ")) {
        std::istringstream fields(line.substr(7));
        std::string name, type;
        fields >> name >> type;
        types[name] = type;
        labels[name];
        continue;
      }
      std::smatch m;
      if (line.empty() || line[0] == '#' || !std::regex_match(line, m, sample)) continue;
      const std::string family = family_of(m[1]);
      const std::string inside = m[3];
      for (std::sregex_iterator it(inside.begin(), inside.end(), label), end; it != end; ++it) {
        if ((*it)[1] == "le") continue;
        labels[family].insert((*it)[1]);
        values[family][(*it)[1]].insert((*it)[2]);
      }
    }
  }
  // A histogram's _bucket, _sum and _count samples belong to its family.
  std::string family_of(const std::string& sample_name) const {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!sample_name.ends_with(suffix)) continue;
      const std::string base = sample_name.substr(0, sample_name.size() - std::string(suffix).size());
      auto type = types.find(base);
      if (type != types.end() && type->second == "histogram") return base;
    }
    return sample_name;
  }
  bool has_line(const std::string& line) const { return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n"); }
};

// Runs promtool (Debian's prometheus package) on the exposition text; empty when it passes.
std::string promtool_check(const std::string& exposition) {
  char path[] = "/tmp/ix-metrics-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "cannot create a temporary file";
  ::close(fd);
  std::ofstream(path) << exposition;
  const std::string command = std::string(IX_PROMTOOL) + " check metrics < " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int rc = pipe ? pclose(pipe) : -1;
  std::remove(path);
  return rc == 0 ? "" : "promtool failed (" + std::to_string(rc) + "): " + output;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// One row of docs/operations.md's metric tables: the labels its metric names carry, and the
// words the row quotes (`submit`, `ok`, ...), among them the label values it lists.
struct DocMetric {
  std::set<std::string> labels;
  std::set<std::string> quoted;
};
// The metric tables of "Reading the metrics": metric -> its row, per table ("every", "node",
// "proxy", "pacing", from the line that introduces the table).
using DocTables = std::map<std::string, std::map<std::string, DocMetric>>;

DocTables documented_metrics() {
  const std::string doc = read_file(IX_SOURCE_DIR "/docs/operations.md");
  const size_t start = doc.find("## Reading the metrics");
  const size_t end = doc.find("\n## ", start + 1);
  std::istringstream in(doc.substr(start, end - start));
  DocTables tables;
  std::string table;
  static const std::regex metric(R"(`([a-z_:][a-z0-9_:]*)(\{([a-z_,]*)\})?`)");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("Every process")) table = "every";
    else if (line.starts_with("Node (")) table = "node";
    else if (line.starts_with("Proxy (")) table = "proxy";
    else if (line.starts_with("Proxy with `[pacing]`")) table = "pacing";
    if (!line.starts_with("| `") || table.empty()) continue;
    const std::string first_cell = line.substr(1, line.find(" |", 1));
    const std::string rest = line.substr(first_cell.size() + 1);
    std::set<std::string> quoted;
    static const std::regex word("`([^`]*)`");
    for (std::sregex_iterator it(rest.begin(), rest.end(), word), stop; it != stop; ++it) quoted.insert((*it)[1]);
    for (std::sregex_iterator it(first_cell.begin(), first_cell.end(), metric), stop; it != stop; ++it) {
      DocMetric& row = tables[table][(*it)[1]];
      std::stringstream names((*it)[3].str());
      for (std::string name; std::getline(names, name, ',');) row.labels.insert(name);
      row.quoted.insert(quoted.begin(), quoted.end());
    }
  }
  return tables;
}

// The metric names a PromQL expression reads (ix_*, process_* and Prometheus' own `up`), with a
// histogram's _bucket/_sum/_count suffix kept (the caller maps them to families).
std::set<std::string> metrics_in_expression(std::string expr) {
  // Label matchers, strings and ranges hold no metric names.
  expr = std::regex_replace(expr, std::regex(R"(\{[^}]*\})"), " ");
  expr = std::regex_replace(expr, std::regex(R"("[^"]*")"), " ");
  expr = std::regex_replace(expr, std::regex(R"(\[[^\]]*\])"), " ");
  std::set<std::string> out;
  static const std::regex name(R"([a-zA-Z_:][a-zA-Z0-9_:]*)");
  for (std::sregex_iterator it(expr.begin(), expr.end(), name), end; it != end; ++it) {
    const std::string n = (*it)[0];
    if (n.starts_with("ix_") || n.starts_with("process_") || n == "up") out.insert(n);
  }
  return out;
}

void collect_exprs(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "expr" && value.is_string()) out.push_back(value.get<std::string>());
      else collect_exprs(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) collect_exprs(value, out);
  }
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

class MetricsCluster : public ClusterFixture {
 protected:
  void extend_config(ConfigBuilder& c) const override {
    c.paced_virtual_queue("VQ Chat", "101", "chat");
    c.agent_group("Chat", "101", {"a1", "a2"}, {"VQ Chat"});
    c.pacing("101", "1s");
  }
  int proxy_count() const override { return 1; }

  void start_everything() {
    start_pair(0);
    start_pair(1);
    start_proxy(0);
    // Both backups are running and reachable before anything is scraped.
    for (int pair = 0; pair < kPairs; ++pair) {
      ASSERT_TRUE(loop_.run_until([&] { return http_get(loop_, node_ports_[pair][1].second, "/healthz").status() == 200; }, 20'000));
    }
  }
  // Scraped twice, so that the admin port's own request counter has appeared.
  Exposition node_metrics(int pair, int which) {
    http_get(loop_, node_ports_[pair][which].second, "/metrics");
    return Exposition(http_get(loop_, node_ports_[pair][which].second, "/metrics").body());
  }
  Exposition proxy_exposition() {
    proxy_metrics(0);
    return Exposition(proxy_metrics(0));
  }
};

TEST_F(MetricsCluster, EverySeriesKnownInAdvanceExistsAtZeroFromStartUpAndPassesPromtool) {
  start_everything();
  const Exposition primary = node_metrics(0, 0);
  const Exposition backup = node_metrics(0, 1);
  const Exposition proxy = proxy_exposition();
  const std::string p1 = R"(pair="pair-1",node="primary")";
  const std::string p1b = R"(pair="pair-1",node="backup")";
  for (const std::string& line : {
           "ix_node_primary{" + p1 + "} 1",
           "ix_node_role{" + p1 + ",role=\"primary\"} 1",
           "ix_node_role{" + p1 + ",role=\"backup\"} 0",
           "ix_node_request_errors_total{" + p1 + ",code=\"311\"} 0",
           "ix_node_request_errors_total{" + p1 + ",code=\"201\"} 0",
           "ix_node_protocol_errors_total{" + p1 + ",code=\"102\"} 0",
           "ix_node_revocations_total{" + p1 + ",reason=\"delivering-timeout\"} 0",
           "ix_node_revocations_total{" + p1 + ",reason=\"handling-timeout\"} 0",
           "ix_node_requests_total{" + p1 + ",request=\"RequestSubmit\",result=\"ok\"} 0",
           "ix_node_requests_total{" + p1 + ",request=\"RequestSubmit\",result=\"3xx\"} 0",
           "ix_node_commits_failed_total{" + p1 + "} 0",
           "ix_config_reload_success{" + p1 + "} 1",
       }) {
    EXPECT_TRUE(primary.has_line(line)) << "missing " << line << " in\n" << primary.text;
  }
  EXPECT_TRUE(backup.has_line("ix_node_primary{" + p1b + "} 0")) << backup.text;
  EXPECT_TRUE(backup.has_line("ix_node_role{" + p1b + ",role=\"backup\"} 1")) << backup.text;
  for (const std::string& line : {
           std::string(R"(ix_proxy_failovers_total{pair="pair-1"} 0)"),
           std::string(R"(ix_proxy_failovers_total{pair="pair-2"} 0)"),
           std::string(R"(ix_proxy_errors_total{code="2002"} 0)"),
           std::string(R"(ix_proxy_errors_total{code="2003"} 0)"),
           std::string(R"(ix_proxy_errors_total{code="2006"} 0)"),
           std::string(R"(ix_proxy_errors_total{code="301"} 0)"),
           std::string(R"(ix_proxy_requests_total{request="RequestPull",route="pull",result="error"} 0)"),
           std::string(R"(ix_proxy_requests_total{request="RequestTakeSnapshot",route="snapshot",result="ok"} 0)"),
           std::string(R"(ix_proxy_request_seconds_count{route="interaction"} 0)"),
           std::string(R"(ix_proxy_request_seconds_count{route="lease"} 0)"),
           std::string(R"(ix_proxy_pull_hold_seconds_count 0)"),
           std::string(R"(ix_proxy_agent_relogins_total{step="login",result="error"} 0)"),
           std::string(R"(ix_proxy_upstream_state{pair="pair-2",endpoint="primary",worker="1"} 2)"),
           std::string(R"(ix_proxy_reporting_clients_dropped_total 0)"),
           std::string(R"(ix_proxy_reporting_feed_cut_offs_total{reader="worker"} 0)"),
           std::string(R"(ix_proxy_reporting_feed_cut_offs_total{reader="consumer"} 0)"),
       }) {
    EXPECT_TRUE(proxy.has_line(line)) << "missing " << line << " in\n" << proxy.text;
  }
  // Every process says which build it is and how it is doing.
  const std::string build = "ix_build_info{version=\"" + std::string(build_version()) + "\",commit=\"" + std::string(build_commit()) + "\"} 1";
  EXPECT_TRUE(proxy.has_line(build)) << proxy.text;
  EXPECT_NE(primary.text.find("ix_build_info{" + p1 + ",version=\"" + std::string(build_version()) + "\""), std::string::npos);
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                             "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_TRUE(proxy.types.contains(family)) << family;
    EXPECT_TRUE(primary.types.contains(family)) << family;
  }
  for (int pair = 0; pair < kPairs; ++pair) {
    for (int which = 0; which < 2; ++which) {
      EXPECT_EQ(promtool_check(node_metrics(pair, which).text), "") << "pair-" << pair + 1 << " node " << which;
    }
  }
  EXPECT_EQ(promtool_check(proxy.text), "");
}

TEST_F(MetricsCluster, TheDocsTablesTheAlertRulesAndTheDashboardMatchTheRunningProcesses) {
  start_everything();
  const Exposition node = node_metrics(1, 0);
  const Exposition proxy = proxy_exposition();
  DocTables docs = documented_metrics();
  ASSERT_EQ(docs.size(), 4u) << "docs/operations.md: expected the every-process, node, proxy and pacing tables";

  // Documented -> exported, with the documented labels. Where the row lists a label's values
  // (quotes any value the process exports), it lists every value the process exports.
  auto check_exported = [](const Exposition& out, const std::string& where, const std::string& metric, const DocMetric& row) {
    auto found = out.labels.find(metric);
    if (found == out.labels.end()) {
      ADD_FAILURE() << "docs/operations.md lists " << metric << " but " << where << " does not export it";
      return;
    }
    for (const std::string& label : row.labels) {
      if (!found->second.contains(label)) {
        ADD_FAILURE() << where << ": " << metric << " has no documented label " << label;
        continue;
      }
      const std::set<std::string>& exported = out.values.at(metric).at(label);  // a label comes with a value
      const bool lists_values = std::any_of(exported.begin(), exported.end(), [&](const std::string& v) { return row.quoted.contains(v); });
      for (const std::string& value : exported) {
        EXPECT_TRUE(!lists_values || row.quoted.contains(value))
            << where << ": " << metric << "{" << label << "=\"" << value << "\"} is missing from the values docs/operations.md lists";
      }
    }
  };
  for (const auto& [metric, row] : docs["every"]) {
    check_exported(node, "ixnode", metric, row);
    check_exported(proxy, "ixproxy", metric, row);
  }
  for (const auto& [metric, row] : docs["node"]) check_exported(node, "ixnode", metric, row);
  for (const auto& [metric, row] : docs["proxy"]) check_exported(proxy, "ixproxy", metric, row);
  for (const auto& [metric, row] : docs["pacing"]) check_exported(proxy, "ixproxy with [pacing]", metric, row);

  // Exported -> documented, every label too (a node's pair and node are documented for all its series).
  auto check_documented = [&](const Exposition& out, const std::string& where, const std::vector<std::string>& tables,
                              const std::set<std::string>& implicit) {
    for (const auto& [family, labels] : out.labels) {
      const std::set<std::string>* documented = nullptr;
      for (const std::string& t : tables) {
        if (docs[t].contains(family)) documented = &docs[t][family].labels;
      }
      if (!documented) {
        ADD_FAILURE() << where << " exports " << family << ", which docs/operations.md does not list";
        continue;
      }
      for (const std::string& label : labels) {
        EXPECT_TRUE(documented->contains(label) || implicit.contains(label))
            << where << ": label " << label << " of " << family << " is not in docs/operations.md";
      }
    }
  };
  check_documented(node, "ixnode", {"every", "node"}, {"pair", "node"});
  check_documented(proxy, "ixproxy", {"every", "proxy", "pacing"}, {});

  // The alert rules and the dashboard read only what the processes export.
  std::vector<std::string> exprs;
  collect_exprs(nlohmann::json::parse(read_file(IX_SOURCE_DIR "/deploy/grafana/ixcluster.json")), exprs);
  const size_t dashboard_exprs = exprs.size();
  EXPECT_GT(dashboard_exprs, 20u);
  const std::string rules = read_file(IX_SOURCE_DIR "/deploy/prometheus/alerts.yml");
  static const std::regex rule_expr(R"(\n\s+expr: ([^\n]+))");
  for (std::sregex_iterator it(rules.begin(), rules.end(), rule_expr), end; it != end; ++it) exprs.push_back((*it)[1]);
  EXPECT_GT(exprs.size(), dashboard_exprs + 10);
  std::set<std::string> used;
  for (const std::string& expr : exprs) {
    for (const std::string& name : metrics_in_expression(expr)) {
      used.insert(name);
      if (name == "up") continue;  // Prometheus' own, checked against a real one below
      const bool exported = node.types.contains(node.family_of(name)) || proxy.types.contains(proxy.family_of(name));
      EXPECT_TRUE(exported) << name << " (in `" << expr << "`) is exported by no process";
    }
  }
  // The dashboard covers the cluster: roles, routes, errors, queues, agents, reporting, failovers, pacing.
  for (const char* family : {"ix_node_primary", "ix_node_role", "ix_proxy_request_seconds_bucket", "ix_proxy_errors_total",
                             "ix_node_queue_depth", "ix_node_agents_logged_in", "ix_proxy_reporting_events_total",
                             "ix_proxy_failovers_total", "ix_pacing_invitations_allowed", "ix_build_info"}) {
    EXPECT_TRUE(used.contains(family)) << family << " is used by neither the dashboard nor the rules";
  }
}

TEST_F(MetricsCluster, APullsTimeHeldIsItsOwnSeriesNotItsLatency) {
  start_everything();
  auto router = proxy_client(0, proto::ClientType::RoutingEngine);
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.view_id = "all-inbound";
  pull.for_strategy = true;
  pull.hold_time_ms = 1200;  // nothing is queued: the answer is empty after about 1.2 s
  EnvelopePtr empty = router->call(pull);
  ASSERT_TRUE(empty && empty->body.AsEventPulled()) << error_text(empty);
  EXPECT_TRUE(empty->body.AsEventPulled()->interactions.empty());
  const std::string text = proxy_metrics(0);
  auto value = [&](const std::string& series) {
    std::smatch m;
    if (!std::regex_search(text, m, std::regex("\n" + series + " (\\S+)\n"))) return -1.0;
    return std::stod(m[1]);
  };
  EXPECT_EQ(value(R"(ix_proxy_pull_hold_seconds_count)"), 1) << text;
  EXPECT_GE(value(R"(ix_proxy_pull_hold_seconds_sum)"), 1.0) << text;
  EXPECT_EQ(value(R"(ix_proxy_request_seconds_count\{route="pull"\})"), 1) << text;
  EXPECT_GE(value(R"(ix_proxy_request_seconds_sum\{route="pull"\})"), 0.0) << text;
  EXPECT_LT(value(R"(ix_proxy_request_seconds_sum\{route="pull"\})"), 0.5) << text;
}

// The body of an HTTP/1.1 answer, de-chunked when the server sent it in chunks (Prometheus does
// for answers larger than its write buffer).
std::string http_body(const HttpExchange& r) {
  const size_t end = r.response.find("\r\n\r\n");
  if (end == std::string::npos) return {};
  std::string headers = r.response.substr(0, end);
  std::transform(headers.begin(), headers.end(), headers.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string body = r.response.substr(end + 4);
  if (headers.find("transfer-encoding: chunked") == std::string::npos) return body;
  std::string out;
  size_t at = 0;
  while (at < body.size()) {
    const size_t line_end = body.find("\r\n", at);
    if (line_end == std::string::npos) break;
    const size_t size = std::stoul(body.substr(at, line_end - at), nullptr, 16);
    if (size == 0) break;
    out += body.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return out;
}

// A real Prometheus, started on a free port with a generated configuration and the shipped rules.
class PrometheusServer {
 public:
  PrometheusServer(TestLoop& loop, const std::filesystem::path& dir, const std::vector<uint16_t>& nodes, const std::vector<uint16_t>& proxies)
      : loop_(loop), port_(unused_port(loop.get())) {
    auto targets = [](const std::vector<uint16_t>& ports) {
      std::string out;
      for (uint16_t p : ports) out += (out.empty() ? "\"127.0.0.1:" : ", \"127.0.0.1:") + std::to_string(p) + "\"";
      return out;
    };
    std::ofstream(dir / "prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files:\n  - " << IX_SOURCE_DIR << "/deploy/prometheus/alerts.yml\n"
        << "scrape_configs:\n"
        << "  - job_name: ixnode\n    static_configs:\n      - targets: [" << targets(nodes) << "]\n"
        << "  - job_name: ixproxy\n    static_configs:\n      - targets: [" << targets(proxies) << "]\n";
    process_ = std::make_unique<Process>(
        std::vector<std::string>{IX_PROMETHEUS, "--config.file=" + (dir / "prometheus.yml").string(),
                                 "--storage.tsdb.path=" + (dir / "prometheus-data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
        (dir / "prometheus.log").string());
  }
  bool start() { return process_->start(); }

  // The result array of an instant query (empty on any error).
  nlohmann::json query(const std::string& promql) {
    HttpExchange r = http_get(loop_, port_, "/api/v1/query?query=" + url_encode(promql));
    nlohmann::json body = nlohmann::json::parse(http_body(r), nullptr, false);
    if (r.status() != 200 || body.is_discarded() || body.value("status", "") != "success") return nlohmann::json::array();
    return body["data"]["result"];
  }
  // The value of a query that yields one sample, or nullopt.
  std::optional<double> scalar(const std::string& promql) {
    nlohmann::json result = query(promql);
    if (result.size() != 1) return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
  }
  nlohmann::json api(const std::string& path) {
    nlohmann::json body = nlohmann::json::parse(http_body(http_get(loop_, port_, path)), nullptr, false);
    return body.is_discarded() ? nlohmann::json::object() : body;
  }

 private:
  TestLoop& loop_;
  uint16_t port_;
  std::unique_ptr<Process> process_;
};

TEST_F(MetricsCluster, ARealPrometheusScrapesEveryProcessEvaluatesTheRulesAndSeesTheFirstFailover) {
  start_everything();
  std::vector<uint16_t> nodes;
  for (const auto& pair : node_ports_) {
    for (const auto& node : pair) nodes.push_back(node.second);
  }
  PrometheusServer prometheus(loop_, dir_, nodes, {proxy_ports_[0].second});
  ASSERT_TRUE(prometheus.start());
  auto eventually_equals = [&](const std::string& promql, double expected, uint64_t timeout_ms = 30'000) {
    std::optional<double> last;
    const bool ok = loop_.run_until([&] {
      last = prometheus.scalar(promql);
      return last && *last == expected;
    }, timeout_ms);
    return ok ? ::testing::AssertionSuccess()
              : ::testing::AssertionFailure() << promql << " = " << (last ? std::to_string(*last) : "nothing") << ", expected " << expected;
  };
  ASSERT_TRUE(eventually_equals(R"(count(up{job=~"ixnode|ixproxy"} == 1))", 5));
  // Exactly one primary per pair, as one expression.
  EXPECT_TRUE(eventually_equals("count(sum by (pair) (ix_node_primary) == 1)", 2));
  EXPECT_TRUE(prometheus.query("sum by (pair) (ix_node_primary) != 1").empty());
  EXPECT_TRUE(eventually_equals(R"(count(ix_build_info{version=")" + std::string(build_version()) + R"(",commit=")" +
                                    std::string(build_commit()) + R"("}))", 5));
  EXPECT_TRUE(eventually_equals("count(process_start_time_seconds)", 5));
  EXPECT_TRUE(eventually_equals(R"(sum(ix_proxy_errors_total{code="2002"}))", 0));

  // The shipped rules load and evaluate against the real series without error; none fires.
  ASSERT_TRUE(loop_.run_until([&] {
    nlohmann::json rules = prometheus.api("/api/v1/rules");
    if (!rules.contains("data") || !rules["data"].is_object() || !rules["data"].contains("groups")) return false;
    size_t ok = 0, total = 0;
    for (const auto& group : rules["data"]["groups"]) {
      for (const auto& rule : group["rules"]) {
        ++total;
        ok += rule.value("health", "") == "ok";
      }
    }
    return total >= 15 && ok == total;
  }, 30'000)) << prometheus.api("/api/v1/rules").dump(2);
  nlohmann::json alerts = prometheus.api("/api/v1/alerts");
  ASSERT_TRUE(alerts.contains("data") && alerts["data"].contains("alerts")) << alerts.dump();
  for (const auto& alert : alerts["data"]["alerts"]) {
    // Pending ones may come from the first scrapes (one node of a pair scraped before the other);
    // the rules' `for` is there for that. The pacing alarms fire: no engagement service here.
    const std::string name = alert["labels"].value("alertname", "");
    if (alert.value("state", "") != "firing" || name.starts_with("Pacing")) continue;
    ADD_FAILURE() << "unexpected alert on a healthy cluster: " << alert.dump();
  }

  // pair-1's primary dies: its backup takes over, and increase() sees the proxy's first failover
  // because the counter was there at 0 before it.
  nodes_[0][0].reset();
  EXPECT_TRUE(eventually_equals(R"(ix_node_role{pair="pair-1",node="backup",role="primary"})", 1));
  // Each of the proxy's two workers follows the pair (and counts it).
  EXPECT_TRUE(eventually_equals(R"(max(ix_proxy_failovers_total{pair="pair-1"}))", 1));
  EXPECT_TRUE(eventually_equals(R"(max(increase(ix_proxy_failovers_total{pair="pair-1"}[1m])) > bool 0)", 1));
  EXPECT_TRUE(eventually_equals(R"(up{job="ixnode",instance="127.0.0.1:)" + std::to_string(nodes[0]) + R"("})", 0));
}

}  // namespace
}  // namespace ix::test
