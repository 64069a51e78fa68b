// The simulated outside world's demand: when customers arrive, on which tenant and media, how
// long they wait before giving up, and how long an agent will take with them. Pure and
// deterministic: the same options and seed give the same sequence of arrivals, whatever happens
// in the cluster, so two runs drive a cluster with exactly the same workload.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ix::sim {

enum class Profile { kSteady, kRamp, kBurst };

// A media type the customers use, with its share of arrivals and where it goes.
struct Flow {
  std::string media;
  std::string queue;   // where its interactions are submitted
  std::string view;    // where the routing engine pulls them from
  double weight = 1;   // share of arrivals, relative to the other flows
};

struct WorkloadOptions {
  uint64_t seed = 1;
  Profile profile = Profile::kSteady;
  double rate = 2;                  // arrivals per second (steady; the ramp's top; the burst's baseline)
  double ramp_s = 60;               // ramp: from 0 to rate over this long
  double burst_every_s = 60;        // burst: a burst starts this often …
  double burst_length_s = 10;       // … lasts this long …
  double burst_factor = 5;          // … at this multiple of the rate
  std::vector<std::string> tenants{"101"};
  std::vector<Flow> flows;
  double proactive_share = 0.2;     // share of chat arrivals that are proactive invitations
  std::string proactive_queue;      // where proactive interactions are submitted (empty: the flow's queue)
  double patience_s = 60;           // customers' mean patience (exponential)
  double handle_s = 20;             // agents' mean handling time (uniform, ±50 %)
  uint32_t max_priority = 3;        // priorities are drawn from 0..max_priority
};

struct Arrival {
  uint64_t number = 0;   // 1, 2, 3 … in arrival order
  uint64_t at_ms = 0;    // since the start of the run
  std::string tenant;
  const Flow* flow = nullptr;
  bool proactive = false;
  int priority = 0;
  uint64_t patience_ms = 0;
  uint64_t handle_ms = 0;
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);

  // The next arrival (the sequence never ends; the caller stops at its duration).
  Arrival next();
  // The arrival rate the profile asks for at time t.
  double rate_at(double t_s) const;
  const WorkloadOptions& options() const { return options_; }

 private:
  double uniform();  // [0, 1), from the seeded generator only
  double exponential(double mean);
  double peak_rate() const;

  WorkloadOptions options_;
  std::mt19937_64 random_;
  double total_weight_ = 0;
  double t_s_ = 0;
  uint64_t count_ = 0;
};

const char* profile_name(Profile profile);

}  // namespace ix::sim
