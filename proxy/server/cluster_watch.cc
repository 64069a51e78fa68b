#include "proxy/server/cluster_watch.h"

#include <algorithm>
#include <cstdlib>

#include "cluster-config/admin_status.h"
#include "protocol/http/http_get.h"

namespace ix::proxy {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRecentErrors = std::chrono::minutes(5);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The sum of every series of `name` in a Prometheus text exposition.
double metric_sum(const std::string& text, const std::string& name) {
  double sum = 0;
  size_t at = 0;
  while ((at = text.find(name, at)) != std::string::npos) {
    const bool line_start = at == 0 || text[at - 1] == '\n';
    const size_t after = at + name.size();
    at = after;
    if (!line_start || after >= text.size() || (text[after] != '{' && text[after] != ' ')) continue;
    const size_t end = text.find('\n', after);
    const size_t space = text.rfind(' ', end == std::string::npos ? text.size() : end);
    if (space == std::string::npos || space < after) continue;
    sum += std::strtod(text.c_str() + space + 1, nullptr);
  }
  return sum;
}

// Per value of `label`, the sum of the series of `name` in a Prometheus text exposition.
std::map<std::string, double> metric_by_label(const std::string& text, const std::string& name, const std::string& label) {
  std::map<std::string, double> out;
  const std::string prefix = name + "{";
  const std::string key = label + "=\"";
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    const bool line_start = at == 0 || text[at - 1] == '\n';
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    at += prefix.size();
    if (!line_start) continue;
    const size_t close = line.find("} ");
    const size_t value_at = line.find(key);
    if (close == std::string::npos || value_at == std::string::npos || value_at > close) continue;
    const size_t value_end = line.find('"', value_at + key.size());
    out[line.substr(value_at + key.size(), value_end - value_at - key.size())] += std::strtod(line.c_str() + close + 2, nullptr);
  }
  return out;
}

// What a proxy's /metrics says, totals since it started: the errors it answered by code, and per
// pair the time its requests took to be answered (ix_proxy_upstream_seconds' sum and count).
struct ProxyTotals {
  std::map<std::string, double> errors;
  std::map<std::string, double> upstream_seconds, upstream_replies;
};

// A proxy's /status: its version and uptime, and the pairs it cannot reach; its /metrics into
// `totals`.
void add_proxy_details(const config::ClusterConfig& config, nlohmann::json& proxy, uint64_t timeout_ms, ProxyTotals& totals) {
  const config::Proxy* p = config.proxy(proxy.value("id", ""));
  if (p == nullptr || proxy.value("state", "") == "down") return;
  if (Result<http::HttpReply> metrics = http::http_get(p->endpoint.host, p->endpoint.admin_port, "/metrics", timeout_ms);
      metrics && metrics->status == 200) {
    totals.errors = metric_by_label(metrics->body, "ix_proxy_errors_total", "code");
    totals.upstream_seconds = metric_by_label(metrics->body, "ix_proxy_upstream_seconds_sum", "pair");
    totals.upstream_replies = metric_by_label(metrics->body, "ix_proxy_upstream_seconds_count", "pair");
  }
  Result<http::HttpReply> reply = http::http_get(p->endpoint.host, p->endpoint.admin_port, "/status", timeout_ms);
  if (!reply || reply->status != 200) return;
  nlohmann::json status = nlohmann::json::parse(reply->body, nullptr, false);
  if (!status.is_object()) return;
  for (const char* key : {"version", "commit", "uptime_seconds"}) {
    if (status.contains(key)) proxy[key] = status[key];
  }
  nlohmann::json unreachable = nlohmann::json::array();
  for (const auto& pair : status.value("pairs", nlohmann::json::array())) {
    if (pair.is_object() && !pair.value("reachable", true)) unreachable.push_back(pair.value("id", ""));
  }
  proxy["unreachable_pairs"] = unreachable;
}

}  // namespace

ClusterWatch::ClusterWatch(std::shared_ptr<const config::ClusterConfig> config, const metrics::Registry& metrics,
                           std::chrono::milliseconds interval, size_t history_samples)
    : metrics_(metrics), interval_(interval), history_samples_(history_samples), config_(std::move(config)) {}

ClusterWatch::~ClusterWatch() { stop(); }

void ClusterWatch::start() {
  thread_ = std::thread([this] { run(); });
}

void ClusterWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ClusterWatch::set_config(std::shared_ptr<const config::ClusterConfig> config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
}

void ClusterWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    sample();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void ClusterWatch::sample() {
  std::shared_ptr<const config::ClusterConfig> config;
  {
    std::lock_guard lock(mutex_);
    config = config_;
  }
  // The slow part (one GET per process, two for proxies and serving nodes) runs without the lock.
  nlohmann::json s = config::admin_status(*config, 1000);
  std::map<std::string, std::map<std::string, double>> proxy_errors;  // proxy → code → total answered
  // pair → the seconds and replies every proxy's requests to it added since that proxy's last
  // sample (since it started, the first time it is seen or after it restarted)
  std::map<std::string, std::pair<double, double>> upstream;
  for (auto& proxy : s["proxies"]) {
    ProxyTotals totals;
    add_proxy_details(*config, proxy, 1000, totals);
    const std::string id = proxy.value("id", "");
    if (!totals.errors.empty()) proxy_errors[id] = std::move(totals.errors);
    for (const auto& [pair, replies] : totals.upstream_replies) {
      const double seconds = totals.upstream_seconds[pair];
      auto& [seconds_before, replies_before] = upstream_totals_[id][pair];
      const bool restarted = replies < replies_before || seconds < seconds_before;
      upstream[pair].first += restarted ? seconds : seconds - seconds_before;
      upstream[pair].second += restarted ? replies : replies - replies_before;
      seconds_before = seconds, replies_before = replies;
    }
  }
  // pair → its serving node's request, error and commit totals
  struct NodeTotals {
    double requests, errors, commit_seconds, commits;
  };
  std::map<std::string, NodeTotals> node_totals;
  for (const auto& pair : s["pairs"]) {
    const config::NodePair* p = config->node_pair(pair.value("id", ""));
    const std::string serving = pair.value("serving", "");
    if (p == nullptr || serving.empty()) continue;
    const config::ServerEndpoint& e = serving == "primary" ? p->primary : p->backup;
    Result<http::HttpReply> metrics = http::http_get(e.host, e.admin_port, "/metrics", 1000);
    if (!metrics || metrics->status != 200) continue;
    node_totals[p->id] = {metric_sum(metrics->body, "ix_node_requests_total"),
                          metric_sum(metrics->body, "ix_node_request_errors_total"),
                          metric_sum(metrics->body, "ix_node_commit_seconds_sum"),
                          metric_sum(metrics->body, "ix_node_commit_seconds_count")};
  }
  std::map<std::string, double> failovers;
  for (const auto& [labels, value] : metrics_.values("ix_proxy_failovers_total")) {
    for (const auto& [key, pair] : labels) {
      if (key == "pair") failovers[pair] += value;
    }
  }
  const Clock::time_point now = Clock::now();
  const double since_last = std::chrono::duration<double>(now - last_sample_).count();

  // Per pair: rates, failovers, and what is wrong. Every red line of the page is in "trouble".
  nlohmann::json trouble = nlohmann::json::array();
  for (auto& pair : s["pairs"]) {
    const std::string id = pair.value("id", "");
    PairTotals& totals = pair_totals_[id];
    nlohmann::json wrong = nlohmann::json::array();
    const std::string serving = pair.value("serving", "");
    if (serving.empty()) {
      wrong.push_back("no serving node");
    } else {
      for (const auto& node : pair["nodes"]) {
        if (node.value("state", "") == "down") wrong.push_back("lost its backup: its " + node.value("configured_as", "") + " is down");
      }
    }
    for (const auto& proxy : s["proxies"]) {
      for (const auto& unreachable : proxy.value("unreachable_pairs", nlohmann::json::array())) {
        if (unreachable == id) wrong.push_back(proxy.value("id", "") + " cannot reach it");
      }
    }
    // The pair's event log grows with every reporting event, whether or not anyone streams it
    // (the log is the pair's, so the rate carries across a failover).
    const nlohmann::json* serving_node = nullptr;
    for (const auto& node : pair["nodes"]) {
      if (node.value("state", "") == "primary") serving_node = &node;
    }
    const double seq = serving_node ? serving_node->value("event_log_seq", -1.0) : -1.0;
    pair["events_per_s"] = seq >= 0 && totals.seq >= 0 && seq >= totals.seq && since_last > 0 ? (seq - totals.seq) / since_last : 0.0;
    totals.seq = seq;
    auto found = node_totals.find(id);
    if (found != node_totals.end()) {
      const auto [requests, errors, commit_seconds, commits] = found->second;
      // A new serving node (failover, restart) counts from zero: no rate until the next sample.
      const bool comparable = totals.serving == serving && totals.requests >= 0 && requests >= totals.requests &&
                              errors >= totals.errors && since_last > 0;
      pair["requests_per_s"] = comparable ? (requests - totals.requests) / since_last : 0.0;
      pair["errors_per_s"] = comparable ? (errors - totals.errors) / since_last : 0.0;
      // Every change commits before it is answered, so the serving node's mean commit time is
      // the latency the pair adds to each change: over the last sample's commits, else the last
      // one measured (a quiet pair keeps its figure; a new serving node starts without one).
      if (totals.serving != serving) totals.commit_ms = -1;
      if (comparable && commits > totals.commits && commit_seconds >= totals.commit_seconds) {
        totals.commit_ms = 1000 * (commit_seconds - totals.commit_seconds) / (commits - totals.commits);
      }
      if (totals.commit_ms >= 0) pair["commit_ms"] = totals.commit_ms;
      totals.requests = requests, totals.errors = errors;
      totals.commit_seconds = commit_seconds, totals.commits = commits;
    } else {
      totals.requests = totals.errors = -1;
      totals.commit_ms = -1;
    }
    totals.serving = serving;
    // What a request to the pair takes through the proxies (sent to the node, answered), over the
    // replies the proxies had since their last samples, else the last one measured.
    if (const auto [seconds, replies] = upstream[id]; replies > 0) totals.latency_ms = 1000 * seconds / replies;
    if (totals.latency_ms >= 0) pair["latency_ms"] = totals.latency_ms;
    const double count = failovers[id];
    if (count > totals.failovers) totals.last_failover_ms = unix_ms();
    totals.failovers = count;
    pair["failovers"] = count;
    if (totals.last_failover_ms > 0) pair["last_failover_ms"] = totals.last_failover_ms;
    for (const auto& w : wrong) trouble.push_back(id + ": " + w.get<std::string>());
    pair["trouble"] = std::move(wrong);
  }
  for (const auto& proxy : s["proxies"]) {
    if (proxy.value("state", "") == "down") trouble.push_back(proxy.value("id", "") + ": down");
  }

  // Queue depths summed over the pairs' serving nodes; agents by state as the busiest pair sees
  // them (an agent logged in through a proxy is logged in on every pair of its tenant).
  nlohmann::json queues = nlohmann::json::object();
  for (const config::Queue& q : config->queues) queues[q.id] = 0;
  // Agents across the cluster: an agent logged in through a proxy is logged in on every pair of
  // its tenant, busy on the pairs whose interactions it holds and in its other state on the rest.
  // So: logged in, do-not-disturb and not ready as the pair that counts the most; busy summed
  // over the pairs (at most everyone); ready what is left.
  nlohmann::json agents{{"logged_in", 0}, {"ready", 0}, {"busy", 0}, {"not_ready", 0}, {"dnd", 0}};
  int64_t busy = 0, most_ready = 0;
  nlohmann::json pair_rates = nlohmann::json::object();
  double requests_per_s = 0, errors_per_s = 0, events_per_s = 0;
  for (const auto& pair : s["pairs"]) {
    pair_rates[pair.value("id", "")] = {{"requests_per_s", pair.value("requests_per_s", 0.0)},
                                        {"errors_per_s", pair.value("errors_per_s", 0.0)}};
    requests_per_s += pair.value("requests_per_s", 0.0);
    errors_per_s += pair.value("errors_per_s", 0.0);
    events_per_s += pair.value("events_per_s", 0.0);
    for (const auto& node : pair["nodes"]) {
      if (node.value("state", "") != "primary") continue;
      if (node.contains("queues")) {
        for (const auto& [queue, depth] : node["queues"].items()) {
          queues[queue] = queues.value(queue, int64_t{0}) + depth.get<int64_t>();
        }
      }
      agents["logged_in"] = std::max(agents["logged_in"].get<int64_t>(), node.value("agents_logged_in", int64_t{0}));
      if (!node.contains("agents")) continue;
      for (const char* state : {"not_ready", "dnd"}) {
        agents[state] = std::max(agents[state].get<int64_t>(), node["agents"].value(state, int64_t{0}));
      }
      busy += node["agents"].value("busy", int64_t{0});
      most_ready = std::max(most_ready, node["agents"].value("ready", int64_t{0}));
    }
  }
  const int64_t logged_in = agents["logged_in"].get<int64_t>();
  agents["busy"] = std::min(busy, logged_in);
  agents["ready"] = std::clamp<int64_t>(logged_in - agents["busy"].get<int64_t>() - agents["dnd"].get<int64_t>() -
                                            agents["not_ready"].get<int64_t>(),
                                        0, most_ready);

  // This proxy's own merged stream: 0 while no reporting client (and no pacing) asks for it.
  double proxy_events = 0;
  for (const auto& [labels, value] : metrics_.values("ix_proxy_reporting_events_total")) proxy_events += value;
  const double proxy_events_per_s =
      last_reporting_events_ >= 0 && since_last > 0 ? (proxy_events - last_reporting_events_) / since_last : 0;

  std::lock_guard lock(mutex_);
  last_sample_ = now;
  last_reporting_events_ = proxy_events;
  // Errors answered in the last five minutes, per proxy and merged. A proxy that restarted
  // counts from its new totals.
  nlohmann::json recent = nlohmann::json::object(), recent_by_proxy = nlohmann::json::object();
  for (const auto& [proxy, totals] : proxy_errors) {
    auto& samples = error_totals_[proxy];
    samples.emplace_back(now, totals);
    while (samples.size() > 1 && now - samples[1].first >= kRecentErrors) samples.pop_front();
    for (const auto& [code, total] : totals) {
      auto before = samples.front().second.find(code);
      const double earlier = samples.size() == 1 || before == samples.front().second.end() ? 0 : before->second;
      const double since = total >= earlier ? total - earlier : total;
      if (since <= 0) continue;
      recent_by_proxy[proxy][code] = since;
      recent[code] = recent.value(code, 0.0) + since;
    }
  }
  history_.push_back({{"t_ms", unix_ms()},
                      {"queues", queues},
                      {"agents_ready", agents["ready"]},
                      {"agents_busy", agents["busy"]},
                      {"requests_per_s", requests_per_s},
                      {"errors_per_s", errors_per_s},
                      {"pairs", pair_rates},
                      {"reporting_events_per_s", events_per_s}});
  while (history_.size() > history_samples_) history_.pop_front();
  latest_ = {{"pairs", s["pairs"]},
             {"proxies", s["proxies"]},
             {"trouble", trouble},
             {"queues", queues},
             {"agents", agents},
             {"requests_per_s", requests_per_s},
             {"errors_per_s", errors_per_s},
             {"reporting_events_per_s", events_per_s},
             {"proxy_reporting_events_per_s", proxy_events_per_s},
             {"recent_errors", recent},
             {"recent_errors_by_proxy", recent_by_proxy},
             {"interval_ms", interval_.count()}};
}

nlohmann::json ClusterWatch::snapshot() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = latest_;
  out["history"] = nlohmann::json(history_);
  return out;
}

}  // namespace ix::proxy
