#include "proxy/pacing/erlang_a.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ix::pacing {

namespace {

// Weights below this (relative to the mode's weight of 1) no longer change any sum in double.
constexpr double kNegligible = 1e-18;

double death_rate(uint64_t j, uint32_t n, double mu, double theta) {
  return j <= n ? static_cast<double>(j) * mu : n * mu + static_cast<double>(j - n) * theta;
}

}  // namespace

ErlangAResult erlang_a(uint32_t agents, double arrival_rate, double service_rate, double patience_rate) {
  ErlangAResult r;
  const uint32_t n = std::max<uint32_t>(agents, 1);
  const double lambda = std::max(arrival_rate, 0.0);
  const double mu = service_rate;
  const double theta = std::max(patience_rate, 0.0);
  if (lambda <= 0 || mu <= 0) return r;
  if (theta == 0 && lambda >= n * mu) {
    r.stable = false;
    r.wait_probability = 1;
    r.occupancy = 1;
    r.mean_wait_seconds = std::numeric_limits<double>::infinity();
    return r;
  }
  // The mode: the first state whose death rate out of the next state reaches λ.
  uint64_t mode;
  if (lambda <= n * mu) {
    mode = static_cast<uint64_t>(std::max(0.0, std::ceil(lambda / mu - 1)));
  } else {
    mode = static_cast<uint64_t>(std::ceil(n - 1 + (lambda - n * mu) / theta));
  }
  // Sums over the states: Z = Σw, busy = Σ min(j,n)·w, waiting = Σ_{j≥n} w, queue = Σ (j−n)⁺·w.
  double z = 0, busy = 0, at_or_above_n = 0, queue = 0;
  auto add = [&](uint64_t j, double w) {
    z += w;
    busy += static_cast<double>(std::min<uint64_t>(j, n)) * w;
    if (j >= n) {
      at_or_above_n += w;
      queue += static_cast<double>(j - n) * w;
    }
  };
  add(mode, 1.0);
  double w = 1.0;
  for (uint64_t j = mode; j > 0; --j) {  // downwards: w_{j−1} = w_j · d_j / λ
    w *= death_rate(j, n, mu, theta) / lambda;
    add(j - 1, w);
    if (w < kNegligible) break;
  }
  w = 1.0;
  for (uint64_t j = mode;; ++j) {  // upwards: w_{j+1} = w_j · λ / d_{j+1}
    w *= lambda / death_rate(j + 1, n, mu, theta);
    add(j + 1, w);
    if (j + 1 >= n && w < kNegligible * z) break;
  }
  r.wait_probability = at_or_above_n / z;
  r.occupancy = busy / (n * z);
  if (theta > 0) {
    r.abandon_probability = std::min(1.0, theta * queue / (lambda * z));
    r.mean_wait_seconds = r.abandon_probability / theta;  // P(Ab) = θ·E[W]
  } else {
    r.mean_wait_seconds = queue / (lambda * z);  // Little: E[Q] = λ·E[W]
  }
  return r;
}

double erlang_c_wait_probability(uint32_t agents, double arrival_rate, double service_rate) {
  const uint32_t n = std::max<uint32_t>(agents, 1);
  const double a = arrival_rate / service_rate;
  if (a >= n) return 1.0;
  double b = 1.0;  // Erlang B by B_k = a·B_{k−1} / (k + a·B_{k−1})
  for (uint32_t k = 1; k <= n; ++k) b = a * b / (k + a * b);
  return n * b / (n - a * (1 - b));
}

namespace {

// The largest rate in [lo, hi] with P(Ab) <= goal, given P(Ab)(lo) <= goal < P(Ab)(hi), to a
// relative width of `tolerance`: regula falsi with the Illinois modification (the retained end's
// value halved when the same end moves twice), and a plain bisection step every third iteration
// so that the bracket always shrinks. P(Ab) is smooth and increasing in λ, so a few evaluations
// suffice where bisection needs twenty to forty.
double bisect(uint32_t n, double mu, double theta, double goal, double lo, double hi, double tolerance) {
  auto excess = [&](double rate) { return erlang_a(n, rate, mu, theta).abandon_probability - goal; };
  double f_lo = excess(lo), f_hi = excess(hi);
  int side = 0;
  for (int i = 0; i < 200 && hi - lo > tolerance * hi; ++i) {
    double x = 0.5 * (lo + hi);
    if (i % 3 != 2 && f_hi > f_lo) {
      const double secant = (lo * f_hi - hi * f_lo) / (f_hi - f_lo);
      if (secant > lo && secant < hi) x = secant;
    }
    const double f = excess(x);
    if (f <= 0) {
      lo = x;
      f_lo = f;
      if (side == -1) f_hi /= 2;
      side = -1;
    } else {
      hi = x;
      f_hi = f;
      if (side == 1) f_lo /= 2;
      side = 1;
    }
  }
  return lo;
}

}  // namespace

double erlang_a_max_rate(uint32_t agents, double service_rate, double patience_rate, double goal) {
  return erlang_a_max_rate_near(agents, service_rate, patience_rate, goal, 0, 1e-12);
}

double erlang_a_max_rate_near(uint32_t agents, double service_rate, double patience_rate, double goal, double hint,
                              double tolerance) {
  const uint32_t n = std::max<uint32_t>(agents, 1);
  if (service_rate <= 0) return 0;
  if (patience_rate <= 0) return n * service_rate;
  if (goal <= 0) return 0;
  if (goal >= 1) return std::numeric_limits<double>::infinity();
  const double upper = n * service_rate / (1 - goal);  // P(Ab) >= goal here for any n
  if (hint > 0 && hint < upper) {
    const double lo = 0.8 * hint, hi = std::min(1.2 * hint, upper);
    if (erlang_a(n, lo, service_rate, patience_rate).abandon_probability <= goal &&
        erlang_a(n, hi, service_rate, patience_rate).abandon_probability > goal) {
      return bisect(n, service_rate, patience_rate, goal, lo, hi, tolerance);
    }
  }
  return bisect(n, service_rate, patience_rate, goal, 0, upper, tolerance);
}

namespace {

// The grid of ErlangARateTable: steps of 1 % on a log scale.
const double kGridStep = std::log(1.01);

int32_t grid_index(double value) { return static_cast<int32_t>(std::lround(std::log(value) / kGridStep)); }
double grid_value(int32_t index) { return std::exp(index * kGridStep); }

}  // namespace

ErlangARateTable::Key ErlangARateTable::key(uint32_t agents, double handle_time_seconds, double patience_seconds,
                                            double goal) {
  return {std::max<uint32_t>(agents, 1), grid_index(handle_time_seconds), grid_index(patience_seconds), grid_index(goal)};
}

size_t ErlangARateTable::KeyHash::operator()(const Key& k) const {
  uint64_t h = k.agents;
  for (int32_t part : {k.handle_time, k.patience, k.goal}) h = h * 0x9E3779B97F4A7C15ull + static_cast<uint32_t>(part);
  return static_cast<size_t>(h ^ (h >> 29));
}

double ErlangARateTable::max_rate(const Key& key) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = rates_.find(key); it != rates_.end()) return it->second;
  }
  // Computed outside the lock: two threads may both compute a new bucket, with the same answer.
  const double rate = erlang_a_max_rate_near(key.agents, 1 / grid_value(key.handle_time), 1 / grid_value(key.patience),
                                             std::min(grid_value(key.goal), 0.99), 0, 1e-6);
  std::lock_guard lock(mutex_);
  if (rates_.size() >= kMaxEntries) rates_.clear();
  rates_.emplace(key, rate);
  return rate;
}

size_t ErlangARateTable::size() const {
  std::lock_guard lock(mutex_);
  return rates_.size();
}

}  // namespace ix::pacing
