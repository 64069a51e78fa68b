// ixsim: the workload simulator. Drives a cluster through its proxies with the real protocol —
// media servers, customers who abandon, a routing engine, agent desktops — prints a live
// summary line and a final report. Deterministic for a given seed (the workload; what the
// cluster makes of it depends on timing). `ixsim --help` lists the knobs.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "cluster-config/loader.h"
#include "protocol/build_info.h"
#include "tools/ixsim/simulator.h"

namespace {

using ix::sim::Flow;

// "chat=inbound-chat/chat-view" or "chat=inbound-chat/chat-view:3" (with a weight).
Flow parse_flow(const std::string& text) {
  const size_t eq = text.find('='), slash = text.find('/', eq == std::string::npos ? 0 : eq);
  if (eq == std::string::npos || slash == std::string::npos || eq == 0) {
    throw CLI::ValidationError("--flow", "\"" + text + "\" is not MEDIA=QUEUE/VIEW[:WEIGHT]");
  }
  Flow f;
  f.media = text.substr(0, eq);
  f.queue = text.substr(eq + 1, slash - eq - 1);
  std::string view = text.substr(slash + 1);
  if (const size_t colon = view.find(':'); colon != std::string::npos) {
    try {
      f.weight = std::stod(view.substr(colon + 1));
    } catch (const std::exception&) {
      throw CLI::ValidationError("--flow", "\"" + text + "\": the weight must be a number");
    }
    view.resize(colon);
  }
  f.view = view;
  if (f.queue.empty() || f.view.empty() || f.weight <= 0) throw CLI::ValidationError("--flow", "\"" + text + "\" is incomplete");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ixsim: drives an ixcluster through its proxies like a contact center's outside world"};
  app.set_version_flag("--version", "ixsim " + std::string(ix::build_version()) + " (commit " + std::string(ix::build_commit()) + ")");
  std::vector<std::string> servers{"127.0.0.1:7001"};
  std::string config_file, report_file, profile = "steady";
  std::vector<std::string> flows{"chat=inbound-chat/chat-view:3", "email=inbound-email/email-view:1"};
  std::vector<std::string> capacities{"chat:2", "email:1"};
  size_t max_agents = 0;
  uint64_t print_schedule = 0;
  ix::sim::SimOptions options;
  ix::sim::WorkloadOptions& w = options.workload;
  w.tenants.clear();
  w.proactive_queue = "proactive-chat";

  app.add_option("-s,--server", servers, "proxy host:port; repeatable (peers are spread over them)")->capture_default_str();
  app.add_option("--config", config_file, "the cluster's configuration: the agents (with their places) come from it")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--tenant", w.tenants, "tenants to drive; repeatable (default: every tenant with agents)");
  app.add_option("--agents", max_agents, "use at most this many of the configured agents (default: all)");
  app.add_option("--flow", flows, "MEDIA=QUEUE/VIEW[:WEIGHT]: a media, where it is queued and pulled from, its share")
      ->capture_default_str();
  app.add_option("--capacity", capacities, "MEDIA:N interactions an agent handles at once")->capture_default_str();
  app.add_option("--profile", profile, "arrival profile")->check(CLI::IsMember({"steady", "ramp", "burst"}))->capture_default_str();
  app.add_option("--rate", w.rate, "arrivals per second (ramp: the top; burst: the baseline)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--ramp", w.ramp_s, "ramp: seconds from 0 to --rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--burst-every", w.burst_every_s, "burst: seconds between burst starts")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--burst-length", w.burst_length_s, "burst: seconds a burst lasts")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--burst-factor", w.burst_factor, "burst: multiple of --rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--proactive-share", w.proactive_share, "share of chats that are proactive invitations")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--proactive-queue", w.proactive_queue, "queue for proactive chats")->capture_default_str();
  app.add_option("--patience", w.patience_s, "customers' mean patience, seconds (they abandon while queued)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--handle-time", w.handle_s, "agents' mean handling time, seconds")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--seed", w.seed, "random seed: the same seed gives the same workload")->capture_default_str();
  app.add_option("--duration", options.duration_s, "seconds to run (default: until Ctrl-C)");
  app.add_option("--summary-every", options.summary_every_s, "seconds between summary lines")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--report", report_file, "write the final report as JSON to this file");
  app.add_option("--print-schedule", print_schedule, "print the first N arrivals of the workload and exit");
  try {
    app.parse(argc, argv);
    for (const std::string& f : flows) w.flows.push_back(parse_flow(f));
    for (const std::string& c : capacities) {
      const size_t colon = c.find(':');
      int n = 0;
      try {
        n = colon == std::string::npos ? 0 : std::stoi(c.substr(colon + 1));
      } catch (const std::exception&) {
      }
      if (n <= 0) throw CLI::ValidationError("--capacity", "\"" + c + "\" is not MEDIA:N with N > 0");
      options.capacity[c.substr(0, colon)] = n;
    }
    for (const Flow& f : w.flows) {
      if (!options.capacity.count(f.media)) options.capacity[f.media] = 1;
    }
    for (const std::string& s : servers) {
      auto endpoint = ix::net::parse_endpoint(s);
      if (!endpoint) throw CLI::ValidationError("--server", "\"" + s + "\": " + endpoint.error().text);
      options.servers.push_back(*endpoint);
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 3;
  }
  w.profile = profile == "ramp" ? ix::sim::Profile::kRamp : profile == "burst" ? ix::sim::Profile::kBurst : ix::sim::Profile::kSteady;

  ix::config::LoadResult loaded = ix::config::load_config_file(config_file);
  if (!loaded.ok()) {
    std::cerr << "ixsim: " << config_file << " is not a valid configuration:\n" << loaded.error_text() << "\n";
    return 3;
  }
  for (const ix::config::Agent& a : loaded.config->agents) {
    const bool tenant_wanted = w.tenants.empty() || std::find(w.tenants.begin(), w.tenants.end(), a.tenant) != w.tenants.end();
    if (!tenant_wanted || (max_agents && options.agents.size() >= max_agents)) continue;
    options.agents.push_back({a.id, a.tenant, a.place.empty() ? "place-" + a.id : a.place});
  }
  // Proactive interactions name their pacing target's virtual queue; the routing engine gives
  // them only to the agents of the target's groups.
  const ix::config::ClusterConfig& cluster = *loaded.config;
  if (cluster.pacing) options.virtual_queue_key = cluster.pacing->virtual_queue_key;
  for (const ix::config::PacingTarget& t : cluster.pacing_targets) {
    ix::sim::SimPacingTarget target{t.tenant, t.media, t.virtual_queue, {}};
    for (const ix::config::AgentGroup& g : cluster.agent_groups) {
      if (std::find(t.agent_groups.begin(), t.agent_groups.end(), g.id) != t.agent_groups.end()) {
        target.agents.insert(g.agents.begin(), g.agents.end());
      }
    }
    options.pacing_targets.push_back(std::move(target));
  }
  if (w.tenants.empty()) {
    for (const auto& a : options.agents) {
      if (std::find(w.tenants.begin(), w.tenants.end(), a.tenant) == w.tenants.end()) w.tenants.push_back(a.tenant);
    }
  }
  if (options.agents.empty() || w.tenants.empty()) {
    std::cerr << "ixsim: " << config_file << " configures no agents for the tenants to drive\n";
    return 3;
  }

  if (print_schedule > 0) {
    ix::sim::Workload workload(w);
    for (uint64_t i = 0; i < print_schedule; ++i) {
      ix::sim::Arrival a = workload.next();
      std::printf("%llu at=%llums tenant=%s media=%s%s priority=%d patience=%llums handle=%llums\n",
                  static_cast<unsigned long long>(a.number), static_cast<unsigned long long>(a.at_ms), a.tenant.c_str(),
                  a.flow->media.c_str(), a.proactive ? " proactive" : "", a.priority,
                  static_cast<unsigned long long>(a.patience_ms), static_cast<unsigned long long>(a.handle_ms));
    }
    return 0;
  }

  options.live_line = ::isatty(STDERR_FILENO) != 0;
  std::cerr << "ixsim: " << options.agents.size() << " agents, " << profile << " arrivals at " << w.rate << "/s, seed " << w.seed
            << (options.duration_s > 0 ? ", for " + std::to_string(static_cast<int>(options.duration_s)) + " s" : ", until Ctrl-C")
            << std::endl;
  uv_loop_t loop;
  uv_loop_init(&loop);
  int exit_code = 0;
  {
    ix::sim::Simulator simulator(&loop, options);
    uv_signal_t interrupt, terminate;
    auto on_signal = [](uv_signal_t* handle, int) { static_cast<ix::sim::Simulator*>(handle->data)->stop(); };
    for (auto [handle, signal] : {std::pair{&interrupt, SIGINT}, std::pair{&terminate, SIGTERM}}) {
      uv_signal_init(&loop, handle);
      handle->data = &simulator;
      uv_signal_start(handle, on_signal, signal);
    }
    simulator.start([&] {
      uv_close(reinterpret_cast<uv_handle_t*>(&interrupt), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&terminate), nullptr);
      // Pending patience and handling deadlines die with the simulator; do not wait for them.
      uv_stop(&loop);
    });
    uv_run(&loop, UV_RUN_DEFAULT);
    std::cout << simulator.report_text();
    if (!report_file.empty()) std::ofstream(report_file) << simulator.report().dump(2) << "\n";
    exit_code = simulator.failed() ? 1 : 0;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return exit_code;
}
