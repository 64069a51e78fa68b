// Erlang-A (M/M/n+M, Palm's model): steady-state abandonment, waiting probability, occupancy and
// mean wait for Poisson arrivals, exponential handling and exponential patience, and the largest
// arrival rate whose abandonment stays within a goal. Pure functions, no state; safe from any
// thread. Used by the Pacer (proxy and perf/pacing_bench) and by `ixctl pacing model`.
//
// The evaluation is the mode-normalized birth–death summation of the pacing reference (§2.3):
// the weights start at 1 at the mode of the distribution and shrink on both sides, so nothing
// overflows for any n, and the tail is cut once its terms are negligible. Cost O(n + tail).
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace ix::pacing {

struct ErlangAResult {
  double abandon_probability = 0;  // fraction of arrivals that abandon (0..1)
  double wait_probability = 0;     // fraction of arrivals that find every agent busy (0..1)
  double occupancy = 0;            // mean busy agents / n (0..1)
  double mean_wait_seconds = 0;    // mean time in queue over all arrivals (served or not)
  bool stable = true;              // false only for patience_rate == 0 with load >= n
};

// agents >= 1; rates per second: arrival_rate >= 0, service_rate > 0 (1/handle time),
// patience_rate >= 0 (1/mean patience; 0 means Erlang C). With patience_rate == 0 and
// arrival_rate >= agents * service_rate the queue is unstable: stable = false, waits are
// infinite, wait_probability = occupancy = 1, abandon_probability = 0.
ErlangAResult erlang_a(uint32_t agents, double arrival_rate, double service_rate, double patience_rate);

// Erlang C (M/M/n) probability of waiting, by the stable Erlang-B recursion; 1 when load >= n.
double erlang_c_wait_probability(uint32_t agents, double arrival_rate, double service_rate);

// The largest arrival rate (per second) whose Erlang-A abandonment probability is <= goal
// (0 < goal < 1), by a safeguarded regula falsi (Illinois) on [0, n·μ/(1 − goal)] — at the
// upper end P(Ab) >= goal always — to a relative precision of 1e-12.
// patience_rate == 0: every rate below n·μ has no abandonment, so n·μ is returned.
double erlang_a_max_rate(uint32_t agents, double service_rate, double patience_rate, double goal);

// The same to a relative precision of `tolerance`, starting from a bracket of ±20 % around
// `hint` (an earlier answer) when it holds the answer — what the Pacer recomputes each time
// its smoothed estimates move.
double erlang_a_max_rate_near(uint32_t agents, double service_rate, double patience_rate, double goal, double hint,
                              double tolerance);

// erlang_a_max_rate memoized per bucket of its inputs, for a caller that asks for many targets
// whose inputs repeat or move little: the Pacer, every refresh period, for up to 10,000
// targets, most of them at the priors' values when the proxy starts. Handle time, patience and
// goal are rounded to a grid of 1 % steps (a log scale) and the rate is computed at the
// bucket's own values, so an answer depends on its bucket only — never on which target asked
// first, nor on what the table held before. Thread-safe (one mutex around a hash probe); bounded:
// emptied when it reaches kMaxEntries.
class ErlangARateTable {
 public:
  struct Key {
    uint32_t agents = 0;
    int32_t handle_time = 0, patience = 0, goal = 0;  // indices on the 1 % grid
    bool operator==(const Key&) const = default;
  };
  static constexpr size_t kMaxEntries = 1 << 16;

  // The bucket of these inputs (all > 0; goal < 1).
  static Key key(uint32_t agents, double handle_time_seconds, double patience_seconds, double goal);
  // erlang_a_max_rate at the bucket's values (accepted per second), computed once per bucket.
  double max_rate(const Key& key);
  size_t size() const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  mutable std::mutex mutex_;
  std::unordered_map<Key, double, KeyHash> rates_;
};

}  // namespace ix::pacing
