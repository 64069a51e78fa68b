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

double erlang_a_max_rate(uint32_t agents, double service_rate, double patience_rate, double goal) {
  const uint32_t n = std::max<uint32_t>(agents, 1);
  if (service_rate <= 0) return 0;
  if (patience_rate <= 0) return n * service_rate;
  if (goal <= 0) return 0;
  if (goal >= 1) return std::numeric_limits<double>::infinity();
  double lo = 0, hi = n * service_rate / (1 - goal);
  for (int i = 0; i < 100 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (erlang_a(n, mid, service_rate, patience_rate).abandon_probability <= goal) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace ix::pacing
