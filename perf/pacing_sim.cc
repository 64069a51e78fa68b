#include "perf/pacing_sim.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <queue>
#include <random>

#include "proxy/pacing/erlang_a.h"
#include "proxy/pacing/pacer.h"

namespace ix::perf {

std::string_view to_string(PacingPolicy policy) {
  switch (policy) {
    case PacingPolicy::kProgressive: return "progressive";
    case PacingPolicy::kAdaptive: return "adaptive";
    case PacingPolicy::kErlangA: return "erlang-a";
    case PacingPolicy::kIxcluster: return "ixcluster";
  }
  return "?";
}

namespace {

using Rng = std::mt19937_64;

double exponential(Rng& rng, double mean) {
  return -mean * std::log1p(-std::uniform_real_distribution<double>(0, 1)(rng));
}
double uniform(Rng& rng) { return std::uniform_real_distribution<double>(0, 1)(rng); }

enum class EventType { kTick, kSnapshot, kAnswer, kAbandon, kServiceEnd, kBreakEnd, kReactive, kStaffingStep };

struct Event {
  double time;
  uint64_t seq;
  EventType type;
  uint64_t id;  // invitation, interaction or agent
  bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

enum class AgentState { kReady, kBusy, kNotReady, kOff };

struct Agent {
  AgentState state = AgentState::kReady;
  bool leaving = false;  // logs out after the interaction in hand
};

// What a customer brings, drawn when it arrives from the stream of its kind (proactive or
// reactive), so that the i-th reactive customer is the same under every policy whatever the
// proactive traffic did: its patience, its handle time, and the break its agent takes after it.
struct Customer {
  double patience = 0, handle_time = 0;
  bool break_after = false;  // the agent goes not ready after this interaction...
  double break_seconds = 0;  // ...for this long
};

struct Interaction {
  double arrival = 0;
  bool proactive = true;
  bool done = false;  // served or abandoned
  Customer customer;
};

// One finished wait or answer, kept while it is inside the longest window.
struct Finished {
  double time;
  double value;  // wait or handle time
  bool flag;     // abandoned / accepted
};

class Simulation {
 public:
  Simulation(const PacingScenario& s, PacingPolicy policy)
      : s_(s),
        policy_(policy),
        invitation_rng_(s.seed * 0x9E3779B97F4A7C15ull + 1),
        proactive_customer_rng_(s.seed * 0x9E3779B97F4A7C15ull + 2),
        reactive_customer_rng_(s.seed * 0x9E3779B97F4A7C15ull + 3),
        reactive_arrival_rng_(s.seed * 0x9E3779B97F4A7C15ull + 4),
        policy_rng_(s.seed * 0x9E3779B97F4A7C15ull + 5) {
    agents_.resize(s.agents);
    for (uint32_t i = 0; i < s.agents; ++i) ready_.push_back(i);
    end_ = (s.warmup_hours + s.hours) * 3600;
    warmup_ = s.warmup_hours * 3600;
    windows_.resize(static_cast<size_t>(std::ceil(s.hours)));
    pacing::PacerConfig config;
    pacer_ = pacing::Pacer(config);
  }

  PacingOutcome run() {
    schedule(0, EventType::kTick, 0);
    if (s_.stats_lag_seconds > 0) schedule(std::max(0.0, s_.refresh_seconds - s_.stats_lag_seconds), EventType::kSnapshot, 1);
    if (s_.reactive_per_minute > 0) schedule(exponential(reactive_arrival_rng_, 60 / s_.reactive_per_minute), EventType::kReactive, 0);
    schedule(warmup_ + s_.staffing_step_at * (end_ - warmup_), EventType::kStaffingStep, 0);
    acceptance_step_time_ = warmup_ + s_.acceptance_step_at * (end_ - warmup_);
    while (!events_.empty()) {
      const Event e = events_.top();
      if (e.time > end_) break;
      events_.pop();
      advance(e.time);
      handle(e);
    }
    advance(end_);
    return outcome();
  }

 private:
  void schedule(double time, EventType type, uint64_t id) { events_.push(Event{time, seq_++, type, id}); }

  // Integrates agent time up to `t` (after the warm-up only).
  void advance(double t) {
    const double from = std::max(now_, warmup_);
    if (t > from) {
      busy_time_ += (t - from) * busy_count_;
      ready_time_ += (t - from) * static_cast<double>(ready_.size());
    }
    now_ = t;
  }

  void handle(const Event& e) {
    switch (e.type) {
      case EventType::kTick: tick(); break;
      case EventType::kSnapshot: snapshots_.push_back(snapshot()); break;
      case EventType::kAnswer: answer(e.id); break;
      case EventType::kAbandon: abandon(e.id); break;
      case EventType::kServiceEnd: service_end(static_cast<uint32_t>(e.id)); break;
      case EventType::kBreakEnd:
        agents_[e.id].state = agents_[e.id].leaving ? AgentState::kOff : AgentState::kReady;
        --not_ready_count_;
        if (agents_[e.id].state == AgentState::kReady) agent_ready(static_cast<uint32_t>(e.id));
        break;
      case EventType::kReactive:
        arrive(false);
        schedule(now_ + exponential(reactive_arrival_rng_, 60 / s_.reactive_per_minute), EventType::kReactive, 0);
        break;
      case EventType::kStaffingStep: staffing_step(); break;
    }
  }

  double acceptance_now() const { return now_ >= acceptance_step_time_ ? s_.acceptance / 2 : s_.acceptance; }

  void invite(uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
      // Draw the answer and its delay for this invitation, in order: invitation i gets the same
      // numbers under every policy.
      const double u = uniform(invitation_rng_);
      const double delay = exponential(invitation_rng_, s_.accept_delay_seconds);
      const uint64_t id = invitation_accepts_.size();
      invitation_accepts_.push_back(u < acceptance_now());
      invitation_sent_.push_back(now_);
      ++pending_;
      ++invitations_;
      schedule(now_ + delay, EventType::kAnswer, id);
    }
  }

  void answer(uint64_t id) {
    --pending_;
    const bool accepted = invitation_accepts_[id];
    answers_.push_back({now_, now_ - invitation_sent_[id], accepted});
    if (accepted) arrive(true);
  }

  Customer draw_customer(Rng& rng) const {
    Customer c;
    c.patience = exponential(rng, s_.patience_seconds);
    c.handle_time = exponential(rng, s_.handle_time_seconds);
    c.break_after = uniform(rng) < s_.break_probability;
    c.break_seconds = exponential(rng, s_.break_seconds);  // drawn either way: as many draws per customer
    return c;
  }

  void arrive(bool proactive) {
    const uint64_t id = interactions_.size();
    const Customer c = draw_customer(proactive ? proactive_customer_rng_ : reactive_customer_rng_);
    interactions_.push_back({now_, proactive, false, c});
    if (proactive) {
      ++proactive_total_;
      if (now_ >= warmup_) {
        ++accepted_;
        ++window(now_).accepted;
      }
    } else {
      reactive_arrivals_.push_back(now_);
    }
    if (!ready_.empty()) {
      const uint32_t agent = ready_.back();
      ready_.pop_back();
      start(agent, id);
      return;
    }
    queue_.push_back(id);
    if (proactive) ++waiting_proactive_;
    ++waiting_all_;
    schedule(now_ + c.patience, EventType::kAbandon, id);
  }

  struct Window {
    uint32_t accepted = 0, abandoned = 0;
  };
  Window& window(double t) {
    const auto i = static_cast<size_t>((t - warmup_) / 3600);
    return windows_[std::min(i, windows_.size() - 1)];
  }

  void abandon(uint64_t id) {
    Interaction& x = interactions_[id];
    if (x.done) return;
    x.done = true;
    --waiting_all_;
    if (!x.proactive) return;
    --waiting_proactive_;
    ++abandoned_total_;
    waits_.push_back({now_, now_ - x.arrival, true});
    if (x.arrival >= warmup_) {
      ++abandoned_;
      ++window(x.arrival).abandoned;
    }
  }

  void start(uint32_t agent, uint64_t id) {
    Interaction& x = interactions_[id];
    x.done = true;
    if (x.proactive) waits_.push_back({now_, now_ - x.arrival, false});
    agents_[agent].state = AgentState::kBusy;
    ++busy_count_;
    in_service_[agent] = id;
    schedule(now_ + x.customer.handle_time, EventType::kServiceEnd, agent);
  }

  void service_end(uint32_t agent) {
    --busy_count_;
    const uint64_t id = in_service_[agent];
    const Interaction& x = interactions_[id];
    if (x.proactive) handled_.push_back({now_, x.customer.handle_time, false});
    Agent& a = agents_[agent];
    if (a.leaving) {
      a.state = AgentState::kOff;
      return;
    }
    if (x.customer.break_after) {
      a.state = AgentState::kNotReady;
      ++not_ready_count_;
      schedule(now_ + x.customer.break_seconds, EventType::kBreakEnd, agent);
      return;
    }
    agent_ready(agent);
  }

  void agent_ready(uint32_t agent) {
    agents_[agent].state = AgentState::kReady;
    while (!queue_.empty()) {
      const uint64_t id = queue_.front();
      queue_.pop_front();
      if (interactions_[id].done) continue;  // abandoned while waiting
      --waiting_all_;
      if (interactions_[id].proactive) --waiting_proactive_;
      start(agent, id);
      return;
    }
    ready_.push_back(agent);
  }

  void staffing_step() {
    const auto leaving = static_cast<uint32_t>(std::lround(0.2 * s_.agents));
    for (uint32_t i = s_.agents - leaving; i < s_.agents; ++i) {
      Agent& a = agents_[i];
      a.leaving = true;
      if (a.state == AgentState::kReady) {
        a.state = AgentState::kOff;
        ready_.erase(std::find(ready_.begin(), ready_.end(), i));
      }
    }
  }

  // What the statistics module would hand the pacer now.
  pacing::TargetStats snapshot() {
    pacing::TargetStats t;
    t.goal = s_.goal;
    t.refresh_interval_seconds = s_.refresh_seconds;
    t.agents_ready = static_cast<uint32_t>(ready_.size());
    t.free_capacity = t.agents_ready;
    t.agents_busy = busy_count_;
    t.agents_not_ready = not_ready_count_;
    t.waiting = waiting_proactive_;
    t.other_waiting = waiting_all_ - waiting_proactive_;
    t.pending_invitations = pending_;
    const double lengths[3] = {60, 300, 900};
    const double horizon = now_ - lengths[2];
    auto trim = [horizon](std::deque<Finished>& d) {
      while (!d.empty() && d.front().time < horizon) d.pop_front();
    };
    trim(waits_);
    trim(answers_);
    trim(handled_);
    while (!reactive_arrivals_.empty() && reactive_arrivals_.front() < horizon) reactive_arrivals_.pop_front();
    // As the proxy's statistics: a window holds only what was counted since the start.
    for (int w = 0; w < 3; ++w) t.windows[w].length_seconds = std::clamp(now_, lengths[0], lengths[w]);
    for (const Finished& f : waits_) {
      for (int w = 0; w < 3; ++w) {
        if (f.time < now_ - lengths[w]) continue;
        pacing::WaitWindow& win = t.windows[w];
        if (f.flag) {
          ++win.abandoned;
          win.abandoned_wait_seconds += f.value;
        } else {
          ++win.accepted;
          win.accepted_wait_seconds += f.value;
        }
      }
    }
    for (const Finished& f : answers_) {
      ++t.invitations_answered;
      if (!f.flag) continue;
      ++t.invitations_accepted;
      t.answer_delay_seconds += f.value;
    }
    for (const Finished& f : handled_) {
      ++t.handled;
      t.handle_time_seconds += f.value;
    }
    t.reactive_arrivals = static_cast<uint32_t>(reactive_arrivals_.size());
    for (uint64_t id : queue_) {
      const Interaction& x = interactions_[id];
      if (x.done || !x.proactive) continue;
      ++t.waiting_in_progress;
      t.waiting_in_progress_seconds += now_ - x.arrival;
    }
    return t;
  }

  void tick() {
    pacing::TargetStats stats;
    if (s_.stats_lag_seconds > 0) {
      if (!snapshots_.empty()) {
        stats = snapshots_.front();
        snapshots_.pop_front();
      } else {
        stats = snapshot();  // the first tick: nothing older exists
      }
      schedule(now_ + 2 * s_.refresh_seconds - s_.stats_lag_seconds, EventType::kSnapshot, 0);
    } else {
      stats = snapshot();
    }
    invite(decide(stats));
    schedule(now_ + s_.refresh_seconds, EventType::kTick, 0);
  }

  uint32_t decide(const pacing::TargetStats& stats) {
    const int64_t claimed = static_cast<int64_t>(stats.waiting) + stats.other_waiting + stats.pending_invitations;
    switch (policy_) {
      case PacingPolicy::kProgressive:
        return static_cast<uint32_t>(std::max<int64_t>(0, static_cast<int64_t>(stats.free_capacity) - claimed));
      case PacingPolicy::kAdaptive: return adaptive(stats);
      case PacingPolicy::kErlangA: {
        // Open loop with the true parameters: Poisson invitations at (λ* − λ_r)/p.
        const uint32_t n = busy_count_ + static_cast<uint32_t>(ready_.size());
        if (n == 0) return 0;
        const double lambda = pacing::erlang_a_max_rate(n, 1 / s_.handle_time_seconds, 1 / s_.patience_seconds, s_.goal);
        const double rate = std::max(0.0, lambda - s_.reactive_per_minute / 60) / acceptance_now();
        return static_cast<uint32_t>(std::poisson_distribution<uint32_t>(rate * s_.refresh_seconds)(policy_rng_));
      }
      case PacingPolicy::kIxcluster: return pacer_.decide(stats, pacer_state_).invitations;
    }
    return 0;
  }

  // VICIdial's ADAPT_HARD_LIMIT (pacing reference §3.1): a 15-sample moving average of ready and
  // waiting, the dial level moved every 15 s on (ready − waiting) / agents, halved on a bad
  // minute, forced to 1.0 while the drops since the start exceed the goal; lines = agents × level.
  uint32_t adaptive(const pacing::TargetStats& stats) {
    const uint32_t active = stats.agents_ready + stats.agents_busy;
    samples_.push_back({static_cast<double>(stats.agents_ready), static_cast<double>(stats.waiting + stats.other_waiting),
                        static_cast<double>(active)});
    if (samples_.size() > 15) samples_.pop_front();
    if (now_ >= next_level_update_) {
      next_level_update_ = now_ + 15;
      double ready = 0, waiting = 0, agents = 0;
      for (const auto& x : samples_) {
        ready += x[0];
        waiting += x[1];
        agents += x[2];
      }
      ready /= samples_.size();
      waiting /= samples_.size();
      agents /= samples_.size();
      const double m = agents > 0 ? (ready - waiting) / agents : 0;
      level_ = std::clamp(level_ * (1 + m), 1.0, 3.0);
      const pacing::WaitWindow& minute = stats.windows[0];
      const uint32_t minute_calls = minute.accepted + minute.abandoned;
      if (minute_calls > 20 && minute.abandoned > 0.5 * minute_calls) level_ = std::max(1.0, level_ / 2);
      if (proactive_total_ > 50 && static_cast<double>(abandoned_total_) / proactive_total_ > s_.goal) level_ = 1.0;
    }
    const auto lines = static_cast<int64_t>(std::floor(active * level_));
    const int64_t in_progress = static_cast<int64_t>(stats.pending_invitations) + stats.waiting + stats.other_waiting + stats.agents_busy;
    return static_cast<uint32_t>(std::max<int64_t>(0, lines - in_progress));
  }

  PacingOutcome outcome() const {
    PacingOutcome o;
    o.policy = policy_;
    o.invitations = invitations_;
    o.accepted = accepted_;
    o.abandoned = abandoned_;
    o.abandon_rate = accepted_ ? static_cast<double>(abandoned_) / accepted_ : 0;
    o.occupancy = busy_time_ + ready_time_ > 0 ? busy_time_ / (busy_time_ + ready_time_) : 0;
    // Batch means over the hourly windows (ratio estimator), and the windows over 1.5 × goal.
    double sum_sq = 0;
    uint32_t used = 0, over = 0;
    for (const Window& w : windows_) {
      if (w.accepted == 0) continue;
      ++used;
      if (static_cast<double>(w.abandoned) / w.accepted > 1.5 * s_.goal) ++over;
      const double dev = w.abandoned - o.abandon_rate * w.accepted;
      sum_sq += dev * dev;
    }
    o.windows = used;
    o.windows_over_share = used ? static_cast<double>(over) / used : 0;
    if (used > 1 && accepted_ > 0) {
      const double mean_accepted = static_cast<double>(accepted_) / used;
      const double se = std::sqrt(sum_sq / (used * (used - 1.0))) / mean_accepted;
      o.abandon_ci_low = std::max(0.0, o.abandon_rate - 1.96 * se);
      o.abandon_ci_high = o.abandon_rate + 1.96 * se;
    } else {
      o.abandon_ci_low = 0;
      o.abandon_ci_high = 1;
    }
    return o;
  }

  const PacingScenario s_;
  const PacingPolicy policy_;
  Rng invitation_rng_, proactive_customer_rng_, reactive_customer_rng_, reactive_arrival_rng_, policy_rng_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  uint64_t seq_ = 0;
  double now_ = 0, end_ = 0, warmup_ = 0, acceptance_step_time_ = 0;
  std::vector<Agent> agents_;
  std::vector<uint32_t> ready_;
  std::vector<uint64_t> in_service_ = std::vector<uint64_t>(s_.agents);
  uint32_t busy_count_ = 0, not_ready_count_ = 0;
  std::vector<Interaction> interactions_;
  std::vector<bool> invitation_accepts_;
  std::vector<double> invitation_sent_;
  std::deque<uint64_t> queue_;
  uint32_t waiting_proactive_ = 0, waiting_all_ = 0, pending_ = 0;
  std::deque<Finished> waits_, answers_, handled_;
  std::deque<double> reactive_arrivals_;
  std::deque<pacing::TargetStats> snapshots_;
  std::vector<Window> windows_;
  uint64_t invitations_ = 0, accepted_ = 0, abandoned_ = 0, proactive_total_ = 0, abandoned_total_ = 0;
  double busy_time_ = 0, ready_time_ = 0;
  pacing::Pacer pacer_;
  pacing::PacerState pacer_state_;
  std::deque<std::array<double, 3>> samples_;
  double level_ = 1.0, next_level_update_ = 0;
};

}  // namespace

PacingOutcome simulate_pacing(const PacingScenario& scenario, PacingPolicy policy) {
  return Simulation(scenario, policy).run();
}

}  // namespace ix::perf
