#include "tools/ixctl/pacing_commands.h"

#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cluster-config/loader.h"
#include "protocol/http/http_get.h"
#include "proxy/pacing/erlang_a.h"
#include "tools/ixctl/cluster_commands.h"
#include "tools/ixctl/output.h"

namespace ix::tools {

namespace {

struct ModelOptions {
  uint32_t agents = 0;
  double handle_time = 0;
  double patience = 0;
  double rate_per_minute = -1;
  double goal_percent = -1;
  bool json = false;
};

void run_model(const ModelOptions& o) {
  const double mu = 1 / o.handle_time, theta = 1 / o.patience;
  nlohmann::ordered_json out;
  double rate = o.rate_per_minute / 60;
  if (o.goal_percent >= 0) {
    rate = pacing::erlang_a_max_rate(o.agents, mu, theta, o.goal_percent / 100);
    out["max_rate_per_minute"] = rate * 60;
  }
  const pacing::ErlangAResult r = pacing::erlang_a(o.agents, rate, mu, theta);
  out["abandon_probability"] = r.abandon_probability;
  out["wait_probability"] = r.wait_probability;
  out["occupancy"] = r.occupancy;
  out["mean_wait_seconds"] = r.mean_wait_seconds;
  if (o.json) {
    std::cout << out.dump() << "\n";
    return;
  }
  std::printf("Erlang-A: %u agents, handle time %gs, mean patience %gs\n", o.agents, o.handle_time, o.patience);
  if (o.goal_percent >= 0) {
    std::printf("largest arrival rate with abandonment <= %g%%: %.4f per minute\nat that rate:\n", o.goal_percent, rate * 60);
  } else {
    std::printf("arrival rate %g per minute (offered load %.3f erlangs):\n", o.rate_per_minute, rate / mu);
  }
  std::printf("  abandonment probability  %.4f%%\n  waiting probability      %.4f%%\n  occupancy                %.4f%%\n"
              "  mean wait                %.3fs\n",
              100 * r.abandon_probability, 100 * r.wait_probability, 100 * r.occupancy, r.mean_wait_seconds);
}

struct StatusOptions {
  std::string config;
  std::string dir = ".ix";
  std::string proxy;
  bool json = false;
  bool summary = false;
};

// "HH:MM:SS" (UTC) of a wall-clock time in microseconds.
std::string format_time_us(int64_t us) {
  const std::time_t t = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &tm);
  return text;
}

void print_pacing(const std::string& proxy, const nlohmann::json& p, std::ostream& out) {
  out << "pacing on " << proxy << (p.value("stale", false) ? " — STALE statistics, pacing progressively" : "")
      << ", refresh every " << p.value("refresh_period_ms", 0) << " ms\n";
  if (p.contains("master")) {
    const nlohmann::json& m = p["master"];
    const std::string holder = m.value("holder", "");
    out << "  master: " << (holder.empty() ? "none" : holder) << (m.value("is_master", false) ? " (this proxy)" : "");
    if (m.contains("since_us")) out << " since " << format_time_us(m["since_us"].get<int64_t>());
    out << ", fencing " << m.value("fencing", 0) << ", lease in " << m.value("lease_pair", "") << "\n";
  }
  if (p.contains("post") && p["post"].contains("at_us")) {
    const nlohmann::json& post = p["post"];
    out << "  last post: " << post.value("result", "") << " at " << format_time_us(post["at_us"].get<int64_t>());
    if (!post.value("detail", "").empty()) out << " (" << post.value("detail", "") << ")";
    out << ", " << post.value("posts", 0) << " posts\n";
  }
  if (p.contains("post") && p["post"].contains("endpoint_error")) {
    out << "  ENDPOINT UNUSABLE: " << p["post"].value("endpoint_error", "") << "\n";
  }
  for (const nlohmann::json& a : p.value("alarms", nlohmann::json::array())) {
    out << "  ALARM " << a.value("name", "") << " (" << a.value("detect_id", 0) << ") since "
        << format_time_us(a.value("since_us", int64_t{0})) << ": " << a.value("detail", "") << "\n";
  }
  if (p.contains("priors")) {
    const nlohmann::json& pr = p["priors"];
    char line[240];
    std::snprintf(line, sizeof line,
                  "  priors: acceptance %.2f (worth %g answers), answer delay %.0f s, handle %.0f s (worth %g), patience %.0f s (worth %g)\n",
                  pr.value("acceptance", 0.0), pr.value("acceptance_weight", 0.0), pr.value("answer_delay_seconds", 0.0),
                  pr.value("handle_time_seconds", 0.0), pr.value("handle_time_weight", 0.0), pr.value("patience_seconds", 0.0),
                  pr.value("patience_weight", 0.0));
    out << line;
  }
  for (const nlohmann::json& t : p["targets"]) {
    const nlohmann::json& a = t["agents"];
    out << "  " << t.value("target", "") << " (goal " << t.value("goal_percent", 0.0) << " %)\n"
        << "    waiting " << t.value("waiting", 0) << ", other waiting " << t.value("other_waiting", 0) << ", handling "
        << t.value("handling", 0) << ", pending invitations " << t.value("pending_invitations", 0) << "\n"
        << "    agents: " << a.value("logged_in", 0) << " logged in, " << a.value("ready", 0) << " ready, "
        << a.value("busy", 0) << " busy (" << a.value("busy_capacity", 0) << " slots), " << a.value("not_ready", 0)
        << " not ready, " << a.value("free_capacity", 0) << " free slots\n";
    // What the pacer saw over the longest window besides the proactive interactions.
    const nlohmann::json inv = t.value("invitations", nlohmann::json::object());
    const nlohmann::json reactive = t["windows"].value("15m", nlohmann::json::object());
    out << "    last 15m: " << reactive.value("reactive_arrivals", 0) << " reactive arrivals, "
        << inv.value("answered", 0) << " invitations answered, " << inv.value("accepted", 0) << " accepted";
    if (inv.contains("acceptance_observed") && inv["acceptance_observed"].is_number()) {
      char line[120];
      std::snprintf(line, sizeof line, " (acceptance observed %.2f, answer delay %.1f s)\n",
                    inv["acceptance_observed"].get<double>(), inv.value("answer_delay_seconds", 0.0));
      out << line;
    } else {
      out << " (no acceptance observed: the prior)\n";
    }
    for (const char* window : {"1m", "5m", "15m"}) {  // shortest first (JSON keeps them sorted)
      if (!t["windows"].contains(window)) continue;
      const nlohmann::json& w = t["windows"][window];
      const double accepted = w.value("accepted", 0), abandoned = w.value("abandoned", 0);
      char rate[32] = "-";
      if (accepted + abandoned > 0) std::snprintf(rate, sizeof rate, "%.1f %%", 100 * abandoned / (accepted + abandoned));
      out << "    last " << window << ": " << accepted << " accepted, " << abandoned << " abandoned (" << rate << ")\n";
    }
    if (t.contains("stale_pairs") && !t["stale_pairs"].empty()) {
      out << "    STALE: the stream of " << t["stale_pairs"].dump() << " stopped; paced progressively until it is back\n";
    }
    if (t.contains("decision")) {
      const nlohmann::json& d = t["decision"];
      const nlohmann::json& e = t["estimates"];
      char line[200];
      std::snprintf(line, sizeof line,
                    "    allowed %d invitations (%s, %d into free slots); acceptance %.2f, handle %.0f s, patience %.0f s\n",
                    d.value("invitations", 0), d.value("mode", "").c_str(), d.value("into_free_capacity", 0),
                    e.value("acceptance", 0.0), e.value("handle_time_seconds", 0.0), e.value("patience_seconds", 0.0));
      out << line;
    }
  }
}

// One line per target: the proactive abandonment of the last 5 minutes against the goal.
void print_summary(const std::string& proxy, const nlohmann::json& p, std::ostream& out) {
  const nlohmann::json& m = p.value("master", nlohmann::json::object());
  const std::string master = m.value("holder", "");
  for (const nlohmann::json& t : p["targets"]) {
    const nlohmann::json w = t["windows"].value("5m", nlohmann::json::object());
    const double accepted = w.value("accepted", 0), abandoned = w.value("abandoned", 0);
    const double goal = t.value("goal_percent", 0.0);
    char line[300];
    if (accepted + abandoned > 0) {
      const double rate = 100 * abandoned / (accepted + abandoned);
      std::snprintf(line, sizeof line, "pacing: %s: proactive abandonment %.1f %% (%.0f of %.0f) over the last 5 min, goal %.1f %% — %s",
                    t.value("target", "").c_str(), rate, abandoned, accepted + abandoned, goal,
                    rate <= goal ? "within the goal" : "ABOVE the goal");
    } else {
      std::snprintf(line, sizeof line, "pacing: %s: no proactive interaction finished in the last 5 min, goal %.1f %%",
                    t.value("target", "").c_str(), goal);
    }
    out << line << "; master " << (master.empty() ? "none" : master) << " (status from " << proxy << ")\n";
  }
}

// Asks the proxies of the configuration (or the one named) for /status and prints the pacing
// section of the master (the one that posts and knows the pending invitations), or else of the
// first that answers with one.
int run_status(const StatusOptions& o) {
  const std::string path = cluster_config_path(o.config, o.dir);
  config::LoadResult loaded = config::load_config_file(path);
  if (!loaded.ok()) throw CLI::ValidationError("--config", path + ": " + loaded.error_text());
  if (!loaded.config->pacing) {
    std::cerr << "ixctl pacing status: " << path << " has no [pacing] section\n";
    return kExitRefused;
  }
  std::string tried, chosen;
  nlohmann::json pacing;
  for (const config::Proxy& proxy : loaded.config->proxies) {
    if (!o.proxy.empty() && proxy.id != o.proxy) continue;
    Result<http::HttpReply> reply = http::http_get(proxy.endpoint.host, proxy.endpoint.admin_port, "/status");
    nlohmann::json status = reply ? nlohmann::json::parse(reply->body, nullptr, false) : nlohmann::json();
    if (!reply || status.is_discarded() || !status.contains("pacing")) {
      tried += (tried.empty() ? "" : ", ") + proxy.id;
      continue;
    }
    const bool master = status["pacing"].value("master", nlohmann::json::object()).value("is_master", false);
    if (chosen.empty() || master) {
      chosen = proxy.id;
      pacing = status["pacing"];
    }
    if (master) break;
  }
  if (!chosen.empty()) {
    if (o.json) {
      std::cout << nlohmann::json{{"proxy", chosen}, {"pacing", pacing}}.dump(2) << "\n";
    } else if (o.summary) {
      print_summary(chosen, pacing, std::cout);
    } else {
      print_pacing(chosen, pacing, std::cout);
    }
    return kExitOk;
  }
  std::cerr << "ixctl pacing status: no proxy answered with a pacing status"
            << (tried.empty() ? (o.proxy.empty() ? "" : " (no proxy " + o.proxy + " in " + path + ")") : " (asked " + tried + ")")
            << "\n";
  return kExitUnreachable;
}

}  // namespace

void add_pacing_commands(CLI::App& app, int& exit_code) {
  CLI::App* pacing = app.add_subcommand("pacing", "Pacing of proactive engagement");
  pacing->require_subcommand(1);
  auto o = std::make_shared<ModelOptions>();
  CLI::App* model = pacing->add_subcommand(
      "model", "What-if: Erlang-A (M/M/n+M) abandonment at a rate, or the largest rate within a goal");
  model->add_option("--agents", o->agents, "Agents (or chat slots) serving the target")->required()->check(CLI::Range(1u, 100000u));
  model->add_option("--handle-time", o->handle_time, "Mean handle time, seconds")->required()->check(CLI::PositiveNumber);
  model->add_option("--patience", o->patience, "Mean customer patience, seconds")->required()->check(CLI::PositiveNumber);
  CLI::Option* rate = model->add_option("--rate-per-minute", o->rate_per_minute, "Poisson arrivals per minute")
                          ->check(CLI::NonNegativeNumber);
  CLI::Option* goal = model->add_option("--goal", o->goal_percent, "Abandonment goal, percent (0-100, exclusive)")
                          ->check(CLI::Range(0.0, 100.0));
  rate->excludes(goal);
  model->add_flag("--json", o->json, "Print the result as JSON (probabilities as fractions)");
  model->callback([o, rate, goal, &exit_code] {
    if (rate->count() == 0 && goal->count() == 0) {
      std::cerr << "ixctl pacing model: give --rate-per-minute or --goal\n";
      exit_code = kExitUsage;
      return;
    }
    if (goal->count() && (o->goal_percent <= 0 || o->goal_percent >= 100)) {
      std::cerr << "ixctl pacing model: --goal must be above 0 and below 100 percent\n";
      exit_code = kExitUsage;
      return;
    }
    // The exact evaluation walks every likely queue length: refuse queues of tens of millions
    // (λ/θ beyond 1e7), where the answer is the fluid limit P(Ab) ≈ 1 − nμ/λ anyway.
    if (rate->count() && o->rate_per_minute / 60 * o->patience > 1e7) {
      std::cerr << "ixctl pacing model: rate × patience above 10 million waiting customers; "
                   "abandonment there is about 1 − agents / (rate × handle time)\n";
      exit_code = kExitUsage;
      return;
    }
    run_model(*o);
    exit_code = kExitOk;
  });

  auto so = std::make_shared<StatusOptions>();
  CLI::App* status = pacing->add_subcommand(
      "status", "Per pacing target: waiting, agents, accepted and abandoned per window, estimates and the last decision "
                "(from a proxy's admin port)");
  status->add_option("--config", so->config, "the cluster's configuration (default: the local cluster's)");
  status->add_option("--dir", so->dir, "the local cluster's working directory")->capture_default_str();
  status->add_option("--proxy", so->proxy, "ask this proxy (default: the first that answers)");
  status->add_flag("--json", so->json, "Print the status as JSON");
  status->add_flag("--summary", so->summary, "One line per target: proactive abandonment against the goal");
  status->callback([so, &exit_code] { exit_code = run_status(*so); });
}

}  // namespace ix::tools
