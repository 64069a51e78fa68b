#include "proxy/pacing/pacer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "proxy/pacing/erlang_a.h"

namespace ix::pacing {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Below this binomial variance the sum is exact; above it the normal approximation is close.
constexpr double kExactVariance = 12;

double normal_pdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * kPi); }
double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// P(Poisson(mean) > limit).
double poisson_exceeds(double mean, uint32_t limit) {
  double term = std::exp(-mean), cdf = term;
  for (uint32_t i = 1; i <= limit; ++i) {
    term *= mean / i;
    cdf += term;
  }
  return std::max(0.0, 1.0 - cdf);
}

}  // namespace

std::string_view to_string(PacingMode mode) {
  return mode == PacingMode::kModel ? "model" : "progressive";
}

double largest_safe_poisson_mean(uint32_t limit, double confidence) {
  double lo = 0, hi = limit + 1;
  while (poisson_exceeds(hi, limit) <= confidence) hi *= 2;
  for (int i = 0; i < 50; ++i) {
    const double mid = 0.5 * (lo + hi);
    (poisson_exceeds(mid, limit) <= confidence ? lo : hi) = mid;
  }
  return lo;
}

namespace {

// Above this many abandonments allowed per hourly window the long-run goal decides.
constexpr uint32_t kWindowLimitMax = 2000;

// A window is over when it has more than 1.5·goal·A abandonments, i.e. more than that over
// `dispersion` clusters: the limit on clusters an hour may hold (above kWindowLimitMax: none).
uint32_t window_limit(double goal, double accepted_per_hour, double dispersion) {
  return static_cast<uint32_t>(std::min<double>(std::floor(1.5 * goal * accepted_per_hour / dispersion), kWindowLimitMax + 1));
}

// window_safe_goal with the largest safe Poisson mean per window limit from `safe_mean`.
template <class SafeMean>
double window_safe_goal_with(double goal, double accepted_per_hour, double dispersion, SafeMean safe_mean) {
  if (accepted_per_hour <= 0) return goal;
  dispersion = std::max(dispersion, 1.0);
  const uint32_t limit = window_limit(goal, accepted_per_hour, dispersion);
  if (limit > kWindowLimitMax) return goal;
  return std::min(goal, dispersion * safe_mean(limit) / accepted_per_hour);
}

}  // namespace

double window_safe_goal(double goal, double accepted_per_hour, double confidence, double dispersion) {
  return window_safe_goal_with(goal, accepted_per_hour, dispersion,
                               [confidence](uint32_t limit) { return largest_safe_poisson_mean(limit, confidence); });
}

namespace {

// Σ over the acceptances of the expected abandonments (see expected_abandonments), stopping as
// soon as the running sum passes `budget`: every term is non-negative, so the sum passes the
// budget exactly when some partial sum does. Returns the sum, or a value above `budget`.
// log_q = ln(1 − p), log_r = ln r: the caller's, computed once for many calls.
double abandonments_up_to(uint32_t invitations, double p, double log_q, int64_t free, uint32_t waiting, double r,
                          double log_r, double budget) {
  if (invitations == 0 || p <= 0) return 0;
  const int64_t c = free - static_cast<int64_t>(waiting);  // the j-th acceptance stands at j − c in line
  const double m = invitations, mean = m * p, var = m * p * (1 - p);
  if (var < kExactVariance) {
    // Exact binomial: E = Σ_{j>c} P(X >= j)·(1 − r^{j−c}); terms beyond mean + 9σ are nothing.
    const auto upper = static_cast<uint32_t>(std::min(m, std::ceil(mean + 9 * std::sqrt(var) + 2)));
    // No acceptance finds itself in line: nothing can abandon (every term would be 0).
    if (c >= static_cast<int64_t>(upper)) return 0;
    const double odds = p / (1 - p);
    double pmf = std::exp(m * log_q), cdf_below = 0, total = 0;  // pmf = P(X = j − 1) entering step j
    double r_power = -1;                                      // r^position once in line
    for (uint32_t j = 1; j <= upper; ++j) {
      cdf_below += pmf;  // P(X <= j − 1)
      pmf *= (m - (j - 1)) / j * odds;
      const int64_t position = static_cast<int64_t>(j) - c;
      if (position < 1) continue;
      r_power = r_power < 0 ? std::exp(log_r * static_cast<double>(position)) : r_power * r;
      if (cdf_below >= 1) break;  // P(X >= j) is 0 from here on: so is every later term
      total += (1 - cdf_below) * (1 - r_power);
      if (total > budget) return total;
    }
    return total;
  }
  // Normal approximation: the overflow O = (X − c⁺)⁺ waits behind max(0, −c) others, and
  // 1 − r^j is concave, so taking the mean position over-estimates a little (the safe side).
  const double sd = std::sqrt(var);
  const double c_plus = static_cast<double>(std::max<int64_t>(c, 0));
  const double z = (mean - c_plus) / sd;
  const double overflow = (mean - c_plus) * normal_cdf(z) + sd * normal_pdf(z);
  if (overflow <= 0) return 0;
  const double p_overflow = std::max(normal_cdf((mean - c_plus - 0.5) / sd), 1e-12);
  const double per_overflow = std::max(1.0, overflow / p_overflow);
  const double position = static_cast<double>(std::max<int64_t>(-c, 0)) + (per_overflow + 1) / 2;
  return overflow * (1 - std::exp(log_r * position));
}

}  // namespace

double expected_abandonments(uint32_t invitations, double p, int64_t free, uint32_t waiting, double r) {
  return abandonments_up_to(invitations, p, std::log1p(-p), free, waiting, r, std::log(r),
                            std::numeric_limits<double>::infinity());
}

// The largest k in [lo, hi] for which fits(k) holds, given that it holds at lo (the free slots
// are always allowed) and that it is monotone (more invitations never abandon fewer). Searched
// outward from `guess` (last cycle's answer, which moves little between cycles) by doubling
// steps, then by bisection: a few checks where a bisection from scratch takes a dozen.
template <class Fits>
uint32_t largest_fitting(uint32_t lo, uint32_t hi, uint32_t guess, const Fits& fits) {
  if (fits(hi)) return hi;
  guess = std::clamp(guess, lo, hi - 1);
  if (guess > lo) {
    if (fits(guess)) {
      lo = guess;
      for (uint32_t step = 1; lo + step < hi; step *= 2) {
        if (!fits(lo + step)) {
          hi = lo + step;
          break;
        }
        lo += step;
      }
    } else {
      hi = guess;
      for (uint32_t step = 1; hi - lo > step; step *= 2) {
        if (fits(hi - step)) {
          lo = hi - step;
          break;
        }
        hi -= step;
      }
    }
  }
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return lo;
}

struct Pacer::Tables {
  ErlangARateTable erlang_a;
  std::mutex mutex;
  std::vector<double> safe_mean_by_limit;  // largest_safe_poisson_mean; NaN where not computed yet
};

double Pacer::window_goal(double goal, double accepted_per_hour) const {
  // window_safe_goal, with the safe means memoized: few limits occur, and each costs a search.
  return window_safe_goal_with(goal, accepted_per_hour, config_.window_dispersion, [this](uint32_t limit) {
    std::lock_guard lock(tables_->mutex);
    std::vector<double>& means = tables_->safe_mean_by_limit;
    if (means.size() <= limit) means.resize(limit + 1, std::numeric_limits<double>::quiet_NaN());
    if (std::isnan(means[limit])) means[limit] = largest_safe_poisson_mean(limit, config_.window_confidence);
    return means[limit];
  });
}

Pacer::Pacer(PacerConfig config) : config_(config), tables_(std::make_shared<Tables>()) {
  for (size_t i = 0; i < kHorizonShares.size(); ++i) {
    answered_within_[i] = 1 - std::exp(-kHorizonShares[i] * config_.lookahead_share);
  }
}

PacingDecision Pacer::decide(const TargetStats& s, PacerState& state) const {
  PacingDecision d;
  const Estimates raw = estimate(s, config_.priors);
  const bool first_decision = !state.initialized;
  if (first_decision) {
    state.smoothed = raw;
    state.initialized = true;
  } else {
    const double a = config_.smoothing;
    Estimates& e = state.smoothed;
    e.acceptance += a * (raw.acceptance - e.acceptance);
    e.handle_time_seconds += a * (raw.handle_time_seconds - e.handle_time_seconds);
    e.patience_seconds += a * (raw.patience_seconds - e.patience_seconds);
    e.answer_delay_seconds += a * (raw.answer_delay_seconds - e.answer_delay_seconds);
    e.reactive_rate += a * (raw.reactive_rate - e.reactive_rate);
    e.observed_abandonment = raw.observed_abandonment;
    e.observed_finished = raw.observed_finished;
  }
  const Estimates& e = state.smoothed;
  d.estimates = e;

  // Free capacity first: one invitation per free slot that no waiting interaction and no
  // pending invitation has claimed yet (checked like the rest when reactive traffic shares the
  // agents, below).
  const int64_t free = s.free_capacity;
  const int64_t claimed = static_cast<int64_t>(s.waiting) + s.other_waiting + s.pending_invitations;
  const auto progressive = static_cast<uint32_t>(std::max<int64_t>(0, free - claimed));
  if (s.stale) {
    d.mode = PacingMode::kProgressive;
    d.invitations = std::min(progressive, s.agents_ready);
    d.free_capacity_share = d.invitations;
    return d;
  }

  const uint32_t busy = s.busy_capacity ? s.busy_capacity : s.agents_busy;
  const uint32_t slots = s.free_capacity + busy;
  if (slots == 0) return d;
  const double mu = 1 / e.handle_time_seconds, theta = 1 / e.patience_seconds, p = e.acceptance;
  const double goal = std::clamp(s.goal, 1e-6, 0.99);

  // The window-safe goal, every decision: it moves with the reactive traffic's share of the
  // agents as well as with their number (recomputed only when the group's size or handle time
  // moved, it could keep a reactive share long out of date — in a blended group of 10 agents one
  // or two more hourly windows over 4.5 % in 20). Cheap: its Poisson means are memoized per limit.
  const double base_goal = goal * config_.setpoint;
  state.window_goal = window_goal(goal, std::max(slots * mu - e.reactive_rate, 0.1 * slots * mu) * 3600);
  const double target = std::min(base_goal, state.window_goal);

  // The integral correction: slow, weighted by how much evidence the window holds, bounded. It
  // calibrates the model so that the abandonment observed settles at the target.
  if (e.observed_finished > 0) {
    const double evidence = std::min(1.0, e.observed_finished / 100.0);
    const double error = std::clamp((e.observed_abandonment - target) / target, -1.0, 3.0);
    const double step = s.refresh_interval_seconds / config_.trim_time_constant_seconds;
    // Above 1 only as far as the evidence reaches: a small group's window holds too few
    // interactions to prove the model pessimistic.
    const double upper = 1 + (config_.trim_max - 1) * evidence;
    state.trim = std::clamp(state.trim * std::exp(-error * evidence * step), config_.trim_min, std::max(upper, 1.0));
  }
  const double goal_eff = target * state.trim;
  d.effective_goal = goal_eff;

  // Erlang-A's steady rate at goal_eff, from the shared table (its inputs on a 1 % grid): read
  // again only when the bucket changes, computed only for a bucket no target has used yet.
  const ErlangARateTable::Key key = ErlangARateTable::key(slots, e.handle_time_seconds, e.patience_seconds, goal_eff);
  if (key != state.steady_key) {
    state.steady_key = key;
    state.steady_rate = tables_->erlang_a.max_rate(key);
  }

  // Chance constraint: the largest k whose acceptances' expected abandonments stay within
  // goal_eff of the acceptances expected. The j-th in line abandons unless j completions (at
  // rate slots·μ) come before its patience runs out (rate θ): probability 1 − r^j.
  const double r = slots * mu / (slots * mu + theta);
  const uint32_t pending = s.pending_invitations;
  // Look ahead to when the acceptances arrive, over a horizon H: the slots that free up (busy ·
  // (1 − e^{−μH}) expected) rounded down, the reactive arrivals that take a slot first (λ_r·H
  // expected) rounded up — a single reactive customer expected now and then still takes a
  // small group's one free slot. Counted at their means: the trim calibrates the rest, and
  // a pessimistic quantile on both sides cost occupancy in every group (perf/RESULTS.md).
  auto capacity_within = [&](double horizon, double busy_slots) {
    const double frees = std::floor(busy_slots * (1 - std::exp(-mu * horizon)));
    const double taken = std::ceil(e.reactive_rate * horizon);
    return free + static_cast<int64_t>(frees) - static_cast<int64_t>(taken);
  };
  // Checks at several horizons h (a quarter, half, one and two answer delays): the acceptances
  // that arrive within h — a share 1 − e^{−h/delay} of them, binomial — against the free slots
  // plus those that free up within h. Answers come early (exponential) and frees come evenly, so
  // the short horizons catch a burst the long ones would average away; the longest counts every
  // slot, none of what is out can be recalled. Later acceptances meet a state the next ticks see.
  const double delay = std::max(e.answer_delay_seconds, 1e-3);
  const uint32_t ahead = s.waiting + s.other_waiting;
  struct Horizon {
    double p, log_q;  // log_q = ln(1 − p)
    int64_t capacity;
  };
  const double log_r = std::log(r);
  Horizon horizons[4];
  for (size_t i = 0; i < kHorizonShares.size(); ++i) {
    const double h = kHorizonShares[i] * config_.lookahead_share * delay;
    const double p_h = p * answered_within_[i];
    horizons[i] = {p_h, std::log1p(-p_h), capacity_within(h, i == 3 ? slots : busy)};
  }
  // Every horizon must hold; the one that failed last is checked first, as it usually fails
  // again (the answer is the same in any order).
  auto fits = [&](uint32_t k) {
    const uint32_t m = pending + k;
    for (size_t n = 0; n < kHorizonShares.size(); ++n) {
      const size_t i = (state.last_failed_horizon + n) % kHorizonShares.size();
      const Horizon& h = horizons[i];
      const double budget = goal_eff * h.p * m;
      if (abandonments_up_to(m, h.p, h.log_q, h.capacity, ahead, r, log_r, budget) > budget) {
        state.last_failed_horizon = static_cast<uint8_t>(i);
        return false;
      }
    }
    return true;
  };
  // Enough to fill every slot, the queue aside, several times over at the estimated acceptance.
  const uint32_t hi = progressive + static_cast<uint32_t>(std::ceil(4.0 * (slots + 1) / p)) + 1;
  // A target's first search starts where, at the horizon that binds first, the acceptances
  // expected plus two standard deviations fill the slots counted there: x = √(m·p) solves
  // x² + 2x = capacity (the answer is near there for every group size and goal).
  if (first_decision) {
    double in_flight = std::numeric_limits<double>::infinity();
    for (const Horizon& h : horizons) {
      const double x = std::sqrt(1 + static_cast<double>(std::max<int64_t>(0, h.capacity))) - 1;
      in_flight = std::min(in_flight, x * x / h.p);
    }
    state.last_in_flight = static_cast<uint32_t>(std::min(in_flight, 1e9));
  }
  // Free capacity is sent into unchecked unless reactive traffic shares the agents: a reactive
  // customer can then take the slot during the answer delay, and the acceptance waits behind a
  // whole handling time — in a group of one or two agents that alone breaks most hourly windows
  // (progressive pacing's windows there: 15–40 % over 4.5 %). Those free slots then count as
  // the chance constraint counts any other.
  const uint32_t unchecked = e.reactive_rate > 0 ? 0 : progressive;
  const uint32_t guess = state.last_in_flight > pending ? state.last_in_flight - pending : 0;
  uint32_t lo = fits(unchecked) ? largest_fitting(unchecked, hi, guess, fits) : unchecked;
  state.last_in_flight = pending + lo;
  // The steady part: while nobody waits and the abandonment observed is within the target
  // (trim >= 1: the observations do not contradict the model), never below Erlang-A's open-loop
  // budget at goal_eff (λ* less the reactive arrivals, over p̂, per refresh interval), as far as
  // the invitations in flight stay within what that open-loop flow keeps in flight (one answer
  // delay plus one interval of it). With short patience an empty queue says little about free
  // agents, and an open-loop flow alone can overshoot; the trim then switches it off.
  if (ahead == 0 && state.trim >= 1 && state.window_goal >= base_goal) {
    const double flow = std::max(0.0, state.steady_rate - e.reactive_rate) / p;  // invitations per second
    const double in_flight_allowance = flow * (delay + s.refresh_interval_seconds) - pending;
    const double steady = std::min(flow * s.refresh_interval_seconds, in_flight_allowance);
    lo = std::max(lo, static_cast<uint32_t>(std::max(0.0, std::floor(steady))));
  }
  d.invitations = lo;
  d.free_capacity_share = std::min(progressive, lo);
  return d;
}

}  // namespace ix::pacing
