#include "tools/ixctl/pacing_commands.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "proxy/pacing/erlang_a.h"
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
}

}  // namespace ix::tools
