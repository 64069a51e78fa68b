// pacing_bench: the pacing quality benchmark (issue 16 §4). On the same random numbers it runs
// progressive pacing, a VICIdial-style adaptive controller, open-loop Erlang-A with the true
// parameters and our Pacer through perf/pacing_sim, and prints per scenario and policy the
// abandonment with its 95 % confidence interval, the share of hourly windows over 1.5 × goal,
// occupancy, and occupancy relative to open-loop Erlang-A. Without scenario flags it runs the
// default grid (4 scenarios × group sizes 1..100); with any, the one scenario they describe.
// `--decision-cycle N` instead times one Pacer decision cycle over N targets (CPU time).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "perf/pacing_sim.h"
#include "proxy/pacing/pacer.h"

namespace {

using ix::perf::PacingOutcome;
using ix::perf::PacingPolicy;
using ix::perf::PacingScenario;

// Our pacer passes the bar in a scenario when its abandonment's confidence interval reaches down
// to the goal, at most 5 % of its hourly windows are over 1.5 × goal, and its occupancy is at
// least open-loop Erlang-A's and that of every baseline whose abandonment is within the goal.
// Whether a baseline's abandonment is "within the goal" is read two ways: its long-run rate at
// or under the goal (the words, taken literally), or the same test as ours — interval
// and hourly windows (a baseline with a third of its hours over 4.5 % does not keep the goal).
// Returns what fails, empty when the bar is met.
std::string bar_failures(const PacingScenario& s, const std::vector<PacingOutcome>& results, bool same_test) {
  auto keeps_goal = [&](const PacingOutcome& o) { return o.abandon_ci_low <= s.goal && o.windows_over_share <= 0.05; };
  const PacingOutcome& ours = results.back();
  std::string failures;
  auto fail = [&](const std::string& what) { failures += (failures.empty() ? "" : ", ") + what; };
  if (ours.abandon_ci_low > s.goal) fail("own abandonment");
  if (ours.windows_over_share > 0.05) fail("own windows");
  for (const PacingOutcome& o : results) {
    if (o.policy == PacingPolicy::kIxcluster) continue;
    const bool within_goal = same_test ? keeps_goal(o) : o.abandon_rate <= s.goal;
    if ((o.policy == PacingPolicy::kErlangA || within_goal) && ours.occupancy < o.occupancy) {
      fail("below " + std::string(to_string(o.policy)));
    }
  }
  return failures;
}

void print_json(const PacingScenario& s, const PacingOutcome& o) {
  std::printf(
      "{\"scenario\":\"%s\",\"agents\":%u,\"seed\":%llu,\"policy\":\"%s\",\"abandon_rate\":%.6f,\"abandon_ci_low\":%.6f,"
      "\"abandon_ci_high\":%.6f,\"windows_over_share\":%.6f,\"windows\":%u,\"occupancy\":%.6f,\"invitations\":%llu,"
      "\"accepted\":%llu,\"abandoned\":%llu}\n",
      s.name.c_str(), s.agents, static_cast<unsigned long long>(s.seed), std::string(to_string(o.policy)).c_str(),
      o.abandon_rate, o.abandon_ci_low, o.abandon_ci_high, o.windows_over_share, o.windows, o.occupancy,
      static_cast<unsigned long long>(o.invitations), static_cast<unsigned long long>(o.accepted),
      static_cast<unsigned long long>(o.abandoned));
}

void print_text(const PacingScenario& s, const std::vector<PacingOutcome>& results) {
  std::printf("%s n=%u AHT %.0fs patience %.0fs p=%.2f delay %.0fs reactive %.1f/min goal %.1f%% (%.0f h, seed %llu)\n",
              s.name.c_str(), s.agents, s.handle_time_seconds, s.patience_seconds, s.acceptance, s.accept_delay_seconds,
              s.reactive_per_minute, 100 * s.goal, s.hours, static_cast<unsigned long long>(s.seed));
  double erlang_occupancy = 0;
  for (const PacingOutcome& o : results) {
    if (o.policy == PacingPolicy::kErlangA) erlang_occupancy = o.occupancy;
  }
  for (const PacingOutcome& o : results) {
    std::printf("  %-12s abandon %6.2f%% [%5.2f, %5.2f]  windows>1.5g %5.1f%%  occupancy %5.1f%%  vs erlang-a %5.2f\n",
                std::string(to_string(o.policy)).c_str(), 100 * o.abandon_rate, 100 * o.abandon_ci_low,
                100 * o.abandon_ci_high, 100 * o.windows_over_share, 100 * o.occupancy,
                erlang_occupancy > 0 ? o.occupancy / erlang_occupancy : 0.0);
  }
  for (const bool same_test : {false, true}) {
    const std::string failures = bar_failures(s, results, same_test);
    std::printf("  bar%s: %s%s%s\n", same_test ? " (baselines held to our test)" : "", failures.empty() ? "met" : "NOT MET (",
                failures.c_str(), failures.empty() ? "" : ")");
  }
}

// The reduced §4.5 grid: the reference prototype's case, impatient customers with rare and slow
// acceptances, long handling with patient customers, and half the load reactive.
std::vector<PacingScenario> default_grid(const PacingScenario& base) {
  std::vector<PacingScenario> grid;
  auto add = [&](const char* name, double aht, double patience, double p, double delay, double reactive_share) {
    for (uint32_t n : {1u, 2u, 5u, 10u, 20u, 50u, 100u}) {
      PacingScenario s = base;
      s.name = name;
      s.agents = n;
      s.handle_time_seconds = aht;
      s.patience_seconds = patience;
      s.acceptance = p;
      s.accept_delay_seconds = delay;
      s.reactive_per_minute = reactive_share * 0.9 * n * 60 / aht;
      grid.push_back(s);
    }
  };
  add("base", 180, 60, 0.2, 10, 0);
  add("impatient", 60, 15, 0.05, 30, 0);
  add("long", 600, 300, 0.5, 2, 0);
  add("blended", 180, 60, 0.2, 10, 0.5);
  return grid;
}

// CPU time of one decision cycle over `targets` targets of mixed sizes and states.
int decision_cycle(uint32_t targets, int cycles) {
  std::mt19937_64 rng(7);
  std::vector<ix::pacing::TargetStats> stats(targets);
  std::vector<ix::pacing::PacerState> states(targets);
  for (auto& t : stats) {
    const uint32_t n = 1 + static_cast<uint32_t>(rng() % 100);
    t.agents_ready = static_cast<uint32_t>(rng() % (n / 5 + 1));
    t.agents_busy = n - t.agents_ready;
    t.free_capacity = t.agents_ready;
    t.waiting = static_cast<uint32_t>(rng() % 3);
    t.pending_invitations = static_cast<uint32_t>(rng() % (n + 1));
    for (int w = 0; w < 3; ++w) t.windows[w] = {60.0 * (w ? w * 5 : 1), n * (w + 1), static_cast<uint32_t>(rng() % 3), 100.0 * n, 40.0};
    t.invitations_answered = 20 * n;
    t.invitations_accepted = 4 * n;
    t.handled = 5 * n;
    t.handle_time_seconds = 900.0 * n;
  }
  const ix::pacing::Pacer pacer;
  uint64_t total = 0;
  std::vector<double> cpu_ms;
  for (int c = 0; c < cycles; ++c) {
    // Each cycle reads fresh statistics: the counts move a little so cached Erlang-A values are
    // recomputed for the targets whose inputs moved, as in service.
    for (auto& t : stats) t.pending_invitations = static_cast<uint32_t>(rng() % (t.agents_busy + t.agents_ready + 1));
    const std::clock_t start = std::clock();
    for (uint32_t i = 0; i < targets; ++i) total += pacer.decide(stats[i], states[i]).invitations;
    cpu_ms.push_back(1000.0 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC);
  }
  std::sort(cpu_ms.begin() + 1, cpu_ms.end());
  if (cycles == 1) {
    std::printf("decision cycle, %u targets (1-100 agents each): first %.2f ms CPU (cold Erlang-A cache)\n", targets, cpu_ms[0]);
    return 0;
  }
  std::printf("decision cycle, %u targets (1-100 agents each): first %.2f ms CPU (cold Erlang-A cache), "
              "median %.2f ms, max %.2f ms of %d cycles (checksum %llu)\n",
              targets, cpu_ms[0], cpu_ms[cycles / 2], cpu_ms.back(), cycles, static_cast<unsigned long long>(total));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pacing_bench: pacing quality of progressive, adaptive, open-loop Erlang-A and ixcluster"};
  PacingScenario s;
  bool json = false;
  uint32_t cycle_targets = 0;
  int cycles = 50;
  std::vector<CLI::Option*> scenario_flags = {
      app.add_option("--agents", s.agents, "Agents in the group")->check(CLI::Range(1u, 5000u)),
      app.add_option("--acceptance", s.acceptance, "Probability an invitation is accepted")->check(CLI::Range(0.001, 1.0)),
      app.add_option("--accept-delay", s.accept_delay_seconds, "Mean seconds from invitation to answer")->check(CLI::Range(0.0, 3600.0)),
      app.add_option("--patience", s.patience_seconds, "Mean customer patience, seconds")->check(CLI::Range(0.1, 36000.0)),
      app.add_option("--handle-time", s.handle_time_seconds, "Mean handle time, seconds")->check(CLI::Range(1.0, 36000.0)),
      app.add_option("--reactive-per-minute", s.reactive_per_minute, "Reactive arrivals per minute")->check(CLI::Range(0.0, 1e5)),
  };
  double goal_percent = 3;
  app.add_option("--goal", goal_percent, "Abandonment goal, percent")->check(CLI::Range(0.1, 50.0));
  app.add_option("--hours", s.hours, "Measured hours per run (after a 30-minute warm-up)")->check(CLI::Range(0.1, 1000.0));
  app.add_option("--refresh", s.refresh_seconds, "Pacer refresh period, seconds")->check(CLI::Range(0.5, 300.0));
  app.add_option("--stats-lag", s.stats_lag_seconds, "Age of the statistics the policies read, seconds")->check(CLI::Range(0.0, 60.0));
  app.add_option("--seed", s.seed, "Random seed");
  app.add_flag("--json", json, "One JSON object per policy (per line)");
  app.add_option("--decision-cycle", cycle_targets, "Time one decision cycle over this many targets instead");
  app.add_option("--cycles", cycles, "Decision cycles to time (with --decision-cycle)")->check(CLI::Range(1, 100000));
  CLI11_PARSE(app, argc, argv);
  s.goal = goal_percent / 100;
  if (cycle_targets > 0) return decision_cycle(cycle_targets, cycles);

  bool single = false;
  for (CLI::Option* o : scenario_flags) single = single || o->count() > 0;
  const std::vector<PacingScenario> scenarios = single ? std::vector<PacingScenario>{s} : default_grid(s);
  int met = 0, met_same_test = 0;
  for (const PacingScenario& scenario : scenarios) {
    std::vector<PacingOutcome> results;
    for (PacingPolicy policy : ix::perf::kAllPolicies) results.push_back(simulate_pacing(scenario, policy));
    met += bar_failures(scenario, results, false).empty();
    met_same_test += bar_failures(scenario, results, true).empty();
    if (json) {
      for (const PacingOutcome& o : results) print_json(scenario, o);
    } else {
      print_text(scenario, results);
      std::fflush(stdout);
    }
  }
  if (!json) {
    std::printf("bar met in %d of %zu scenarios (%d with baselines held to our test)\n", met, scenarios.size(),
                met_same_test);
  }
  return 0;
}
