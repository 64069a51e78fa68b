#include "tools/ixsim/workload.h"

#include <cmath>

namespace ix::sim {

Workload::Workload(WorkloadOptions options) : options_(std::move(options)), random_(options_.seed) {
  for (const Flow& f : options_.flows) total_weight_ += f.weight;
}

// Draws are built from the raw 64-bit generator by hand, not with <random>'s distributions,
// whose algorithms differ between standard libraries: a seed means the same workload anywhere.
double Workload::uniform() { return static_cast<double>(random_() >> 11) * 0x1.0p-53; }

double Workload::exponential(double mean) { return -mean * std::log(1.0 - uniform()); }

double Workload::rate_at(double t_s) const {
  switch (options_.profile) {
    case Profile::kSteady: return options_.rate;
    case Profile::kRamp: return options_.rate * std::min(1.0, t_s / options_.ramp_s);
    case Profile::kBurst: {
      const double into_cycle = std::fmod(t_s, options_.burst_every_s);
      return into_cycle >= options_.burst_every_s - options_.burst_length_s ? options_.rate * options_.burst_factor
                                                                             : options_.rate;
    }
  }
  return options_.rate;
}

double Workload::peak_rate() const {
  return options_.profile == Profile::kBurst ? options_.rate * options_.burst_factor : options_.rate;
}

Arrival Workload::next() {
  // A Poisson process whose rate follows the profile, by thinning: candidates at the peak rate,
  // each kept with probability rate(t) / peak.
  const double peak = peak_rate();
  do {
    t_s_ += exponential(1.0 / peak);
  } while (uniform() * peak >= rate_at(t_s_));

  Arrival a;
  a.number = ++count_;
  a.at_ms = static_cast<uint64_t>(t_s_ * 1000);
  a.tenant = options_.tenants[static_cast<size_t>(uniform() * static_cast<double>(options_.tenants.size()))];
  double pick = uniform() * total_weight_;
  a.flow = &options_.flows.back();
  for (const Flow& f : options_.flows) {
    if (pick < f.weight) {
      a.flow = &f;
      break;
    }
    pick -= f.weight;
  }
  a.proactive = a.flow->media == "chat" && uniform() < options_.proactive_share;
  a.priority = static_cast<int>(uniform() * (options_.max_priority + 1));
  a.patience_ms = static_cast<uint64_t>(exponential(options_.patience_s) * 1000);
  a.handle_ms = static_cast<uint64_t>(options_.handle_s * (0.5 + uniform()) * 1000);
  return a;
}

const char* profile_name(Profile profile) {
  switch (profile) {
    case Profile::kSteady: return "steady";
    case Profile::kRamp: return "ramp";
    case Profile::kBurst: return "burst";
  }
  return "steady";
}

}  // namespace ix::sim
