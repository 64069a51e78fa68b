// Erlang-A (proxy/pacing/erlang_a.h) against an independent brute-force evaluation, the pacing
// reference's λ* table, its limits (n → ∞, θ → 0 = Erlang C) and identities, monotonicity in
// every parameter, and the bisection for the largest rate within a goal.
#include "proxy/pacing/erlang_a.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <vector>

namespace ix::pacing {
namespace {

// Direct summation of the birth–death chain from state 0 in long double, truncated far in the
// tail: independent of the mode-normalized evaluation under test.
struct Brute {
  long double abandon, wait, occupancy;
};
Brute brute_force(uint32_t n, long double lambda, long double mu, long double theta) {
  std::vector<long double> pi{1.0L};
  for (uint32_t j = 1; j < n + 20000; ++j) {
    const long double death = j <= n ? j * mu : n * mu + (j - n) * theta;
    pi.push_back(pi.back() * lambda / death);
    if (j > n + 50 && pi.back() < 1e-40L * pi[n]) break;
  }
  long double z = 0, busy = 0, waiting = 0, queue = 0;
  for (size_t j = 0; j < pi.size(); ++j) {
    z += pi[j];
    busy += std::min<long double>(j, n) * pi[j];
    if (j >= n) {
      waiting += pi[j];
      queue += (j - n) * pi[j];
    }
  }
  return {theta * queue / (lambda * z), waiting / z, busy / (n * z)};
}

// Erlang C from its textbook closed form, Σ a^k/k! in long double.
long double erlang_c_closed_form(uint32_t n, long double a) {
  long double term = 1, sum = 1;
  for (uint32_t k = 1; k < n; ++k) {
    term *= a / k;
    sum += term;
  }
  const long double last = term * a / n * n / (n - a);  // a^n/n! · n/(n − a)
  return last / (sum + last);
}

TEST(ErlangA, MatchesBruteForceSummation) {
  for (uint32_t n : {1u, 2u, 5u, 20u, 50u, 200u}) {
    for (double rho : {0.3, 0.8, 0.97, 1.2, 2.0}) {
      for (double theta_over_mu : {0.05, 0.3, 1.0, 3.0}) {
        const double mu = 1 / 180.0, lambda = rho * n * mu, theta = theta_over_mu * mu;
        const ErlangAResult r = erlang_a(n, lambda, mu, theta);
        const Brute b = brute_force(n, lambda, mu, theta);
        SCOPED_TRACE(testing::Message() << "n=" << n << " rho=" << rho << " theta/mu=" << theta_over_mu);
        EXPECT_NEAR(r.abandon_probability, static_cast<double>(b.abandon), 1e-9 * std::max(1.0L, b.abandon) + 1e-15);
        EXPECT_NEAR(r.wait_probability, static_cast<double>(b.wait), 1e-9);
        EXPECT_NEAR(r.occupancy, static_cast<double>(b.occupancy), 1e-9);
      }
    }
  }
}

TEST(ErlangA, OneAgentByHand) {
  // n = 1, λ = μ = θ = 1: π_j ∝ 1/j! for j >= 1 relative to π_1 (deaths 1, 2, 3, ...), so the
  // chain is Poisson(1): P(wait) = 1 − e^{−1}, E[Q] = Σ (j−1) π_j = 1 − (1 − e^{−1}) = e^{−1}.
  const ErlangAResult r = erlang_a(1, 1.0, 1.0, 1.0);
  EXPECT_NEAR(r.wait_probability, 1 - std::exp(-1.0), 1e-12);
  EXPECT_NEAR(r.abandon_probability, std::exp(-1.0), 1e-12);  // θ·E[Q]/λ
  EXPECT_NEAR(r.occupancy, 1 - std::exp(-1.0), 1e-12);
}

TEST(ErlangA, ReferenceTableOfMaximumRates) {
  // pacing reference §2.4: λ* (accepted per minute) at α = 3 %, AHT 180 s, and its occupancy.
  struct Row {
    uint32_t n;
    double patience, rate_per_minute, occupancy;
  };
  const Row rows[] = {{5, 60, 0.76, 0.44},    {10, 60, 2.13, 0.62},   {20, 60, 5.19, 0.76},  {50, 60, 14.99, 0.87},
                      {100, 60, 31.81, 0.93}, {20, 30, 5.03, 0.73},   {50, 300, 15.85, 0.92}, {100, 120, 32.28, 0.94},
                      {10, 300, 2.48, 0.72},  {100, 300, 32.97, 0.96}};
  for (const Row& row : rows) {
    const double mu = 1 / 180.0, theta = 1 / row.patience;
    const double rate = erlang_a_max_rate(row.n, mu, theta, 0.03);
    SCOPED_TRACE(testing::Message() << "n=" << row.n << " patience=" << row.patience);
    EXPECT_NEAR(rate * 60, row.rate_per_minute, 0.0051);
    EXPECT_NEAR(erlang_a(row.n, rate, mu, theta).occupancy, row.occupancy, 0.0051);
  }
}

TEST(ErlangA, IdentitiesHold) {
  for (uint32_t n : {1u, 7u, 60u, 700u}) {
    for (double rho : {0.5, 1.0, 1.5}) {
      const double mu = 1 / 120.0, theta = 1 / 45.0, lambda = rho * n * mu;
      const ErlangAResult r = erlang_a(n, lambda, mu, theta);
      // Flow conservation: the served share keeps the agents busy.
      EXPECT_NEAR(r.occupancy, lambda * (1 - r.abandon_probability) / (n * mu), 1e-9);
      // P(Ab) = θ·E[W], and the exact lower bound P(Ab) >= 1 − nμ/λ.
      EXPECT_NEAR(r.abandon_probability, theta * r.mean_wait_seconds, 1e-12);
      EXPECT_GE(r.abandon_probability, 1 - n * mu / lambda - 1e-12);
    }
  }
}

TEST(ErlangA, LargeGroupLimits) {
  const double mu = 1 / 180.0, theta = 1 / 60.0;
  // Fixed load, more and more agents: nobody waits, occupancy → λ/(nμ).
  const double lambda = 10 * mu;
  const ErlangAResult r = erlang_a(2000, lambda, mu, theta);
  EXPECT_LT(r.wait_probability, 1e-12);
  EXPECT_LT(r.abandon_probability, 1e-12);
  EXPECT_NEAR(r.occupancy, lambda / (2000 * mu), 1e-12);
  // Fixed overload ρ = 1.25: the fluid limit P(Ab) → 1 − 1/ρ = 0.2 as n grows.
  double previous_gap = 1;
  for (uint32_t n : {10u, 100u, 1000u}) {
    const double gap = erlang_a(n, 1.25 * n * mu, mu, theta).abandon_probability - 0.2;
    EXPECT_GT(gap, 0);  // the exact lower bound 1 − nμ/λ, approached from above
    EXPECT_LT(gap, previous_gap);
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 0.002);
  // The reference's extreme case stays finite: λ = 500/s, n = 5000, three times overloaded.
  const ErlangAResult extreme = erlang_a(5000, 500, 1 / 30.0, 1 / 30.0);
  EXPECT_TRUE(std::isfinite(extreme.abandon_probability));
  EXPECT_NEAR(extreme.abandon_probability, 2.0 / 3, 0.01);
  EXPECT_NEAR(extreme.occupancy, 1.0, 1e-6);
}

TEST(ErlangA, NoPatienceLimitIsErlangC) {
  for (uint32_t n : {1u, 3u, 10u, 80u}) {
    for (double rho : {0.2, 0.7, 0.95}) {
      const double mu = 1 / 200.0, lambda = rho * n * mu;
      const double expected = static_cast<double>(erlang_c_closed_form(n, rho * n));
      EXPECT_NEAR(erlang_c_wait_probability(n, lambda, mu), expected, 1e-9);
      EXPECT_NEAR(erlang_a(n, lambda, mu, 0).wait_probability, expected, 1e-9);
      // θ → 0 converges to Erlang C from below (impatient customers shorten the queue).
      const double tiny = erlang_a(n, lambda, mu, 1e-9 * mu).wait_probability;
      EXPECT_NEAR(tiny, expected, 1e-5);
      EXPECT_LE(erlang_a(n, lambda, mu, 0.5 * mu).wait_probability, expected);
    }
  }
  // Unstable without patience: reported, not looped on.
  const ErlangAResult unstable = erlang_a(5, 6 / 200.0, 1 / 200.0, 0);
  EXPECT_FALSE(unstable.stable);
  EXPECT_EQ(unstable.wait_probability, 1);
  EXPECT_EQ(erlang_c_wait_probability(5, 6 / 200.0, 1 / 200.0), 1);
}

TEST(ErlangA, MonotoneInEveryParameter) {
  const uint32_t n = 12;
  const double mu = 1 / 180.0, theta = 1 / 60.0, lambda = 0.9 * n * mu;
  const ErlangAResult base = erlang_a(n, lambda, mu, theta);
  // More arrivals: more abandonment, more waiting, busier agents.
  const ErlangAResult more = erlang_a(n, lambda * 1.05, mu, theta);
  EXPECT_GT(more.abandon_probability, base.abandon_probability);
  EXPECT_GT(more.wait_probability, base.wait_probability);
  EXPECT_GT(more.occupancy, base.occupancy);
  // More agents or faster service: less of all three.
  for (const ErlangAResult& better : {erlang_a(n + 1, lambda, mu, theta), erlang_a(n, lambda, mu * 1.05, theta)}) {
    EXPECT_LT(better.abandon_probability, base.abandon_probability);
    EXPECT_LT(better.wait_probability, base.wait_probability);
    EXPECT_LT(better.occupancy, base.occupancy);
  }
  // Less patience: more abandonment, shorter waits.
  const ErlangAResult impatient = erlang_a(n, lambda, mu, theta * 1.5);
  EXPECT_GT(impatient.abandon_probability, base.abandon_probability);
  EXPECT_LT(impatient.mean_wait_seconds, base.mean_wait_seconds);
  // Along a sweep of λ the abandonment only rises (what the bisection relies on).
  double previous = -1;
  for (int i = 1; i <= 200; ++i) {
    const double p = erlang_a(n, i * 0.01 * n * mu, mu, theta).abandon_probability;
    EXPECT_GT(p, previous);
    previous = p;
  }
}

TEST(ErlangA, BisectionFindsTheLargestRateWithinTheGoal) {
  for (uint32_t n : {1u, 2u, 10u, 100u, 2000u}) {
    for (double goal : {0.01, 0.03, 0.1}) {
      const double mu = 1 / 180.0, theta = 1 / 60.0;
      const double rate = erlang_a_max_rate(n, mu, theta, goal);
      SCOPED_TRACE(testing::Message() << "n=" << n << " goal=" << goal);
      EXPECT_LE(erlang_a(n, rate, mu, theta).abandon_probability, goal);
      EXPECT_GT(erlang_a(n, rate * (1 + 1e-8), mu, theta).abandon_probability, goal);
      EXPECT_LT(rate, n * mu / (1 - goal));  // the bracket's upper end
    }
  }
  EXPECT_DOUBLE_EQ(erlang_a_max_rate(10, 1 / 180.0, 0, 0.03), 10 * (1 / 180.0));  // no abandonment below n·μ
  // From a hint: the same answer to the asked precision, whether the hint brackets it or not.
  const double exact = erlang_a_max_rate(30, 1 / 180.0, 1 / 60.0, 0.03);
  for (double hint : {0.0, exact * 0.9, exact * 1.1, exact * 3, exact * 0.1}) {
    EXPECT_NEAR(erlang_a_max_rate_near(30, 1 / 180.0, 1 / 60.0, 0.03, hint, 1e-6), exact, 2e-6 * exact) << hint;
  }
}

TEST(ErlangA, RateTableAnswersPerBucketWhateverWasAskedBefore) {
  // The grid has steps of 1 % (log scale): inputs within 0.3 % of a grid point share its bucket,
  // 2 % apart they do not; the answer is λ* at the bucket's values, close to the exact one.
  ErlangARateTable table;
  const double aht = std::pow(1.01, 522), patience = std::pow(1.01, 411), goal = std::pow(1.01, -375);
  const auto key = ErlangARateTable::key(20, 180, 60, 0.024);
  EXPECT_EQ(key, ErlangARateTable::key(20, aht, patience, goal));
  EXPECT_EQ(key, ErlangARateTable::key(20, aht * 1.003, patience / 1.003, goal * 1.003));
  EXPECT_NE(key, ErlangARateTable::key(20, aht * 1.02, patience, goal));
  EXPECT_NE(key, ErlangARateTable::key(21, aht, patience, goal));
  const double exact = erlang_a_max_rate(20, 1 / 180.0, 1 / 60.0, 0.024);
  EXPECT_NEAR(table.max_rate(key), exact, 0.02 * exact);
  // Another table that saw other buckets first gives the same answer: it depends on the bucket only.
  ErlangARateTable other;
  for (uint32_t n = 1; n <= 50; ++n) other.max_rate(ErlangARateTable::key(n, 180, 60, 0.024));
  EXPECT_EQ(other.max_rate(key), table.max_rate(key));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(other.size(), 50u);
  // Across the grid the memoized rate stays within about 1 % of the exact one.
  for (uint32_t n : {1u, 5u, 100u}) {
    for (double handle : {60.0, 183.3, 600.0}) {
      const double want = erlang_a_max_rate(n, 1 / handle, 1 / 47.0, 0.013);
      EXPECT_NEAR(table.max_rate(ErlangARateTable::key(n, handle, 47, 0.013)), want, 0.02 * want) << n << " " << handle;
    }
  }
}

TEST(ErlangA, FastUpToTwoThousandAgents) {
  const auto start = std::chrono::steady_clock::now();
  double sum = 0;
  for (uint32_t n = 1; n <= 2000; n += 37) sum += erlang_a_max_rate(n, 1 / 180.0, 1 / 60.0, 0.03);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GT(sum, 0);
  // 55 bisections, up to 2000 agents each: well under a second even in a sanitizer build.
  EXPECT_LT(std::chrono::duration<double>(elapsed).count(), 5.0);
}

}  // namespace
}  // namespace ix::pacing
