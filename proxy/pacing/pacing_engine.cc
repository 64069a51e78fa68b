#include "proxy/pacing/pacing_engine.h"

#include <algorithm>
#include <cstdint>

#include "protocol/wire/messages.h"

namespace ix::pacing {

namespace {

// The Pacer's configuration with the priors of [pacing.priors], when the file has [pacing].
PacerConfig with_priors(PacerConfig pacer, const config::ClusterConfig& config) {
  if (!config.pacing) return pacer;
  const config::PacingPriorSettings& p = config.pacing->priors;
  auto seconds = [](config::Duration d) { return std::chrono::duration<double>(d).count(); };
  pacer.priors = {.acceptance = p.acceptance,
                  .handle_time_seconds = seconds(p.handle_time),
                  .patience_seconds = seconds(p.patience),
                  .answer_delay_seconds = seconds(p.answer_delay),
                  .acceptance_weight = p.acceptance_weight,
                  .handle_time_weight = p.handle_time_weight,
                  .patience_weight = p.patience_weight};
  return pacer;
}

}  // namespace

PacingEngine::PacingEngine(const config::ClusterConfig& config, PacerConfig pacer)
    : statistics_(config), pacer_(with_priors(pacer, config)) {
  if (config.pacing) {
    refresh_seconds_ = std::chrono::duration<double>(config.pacing->refresh_period).count();
  }
  states_.resize(statistics_.target_count());
  pending_.resize(statistics_.target_count(), 0);
  answers_.resize(statistics_.target_count());
}

void PacingEngine::reconfigure(const config::ClusterConfig& config) {
  const std::vector<std::optional<size_t>> kept = statistics_.reconfigure(config);
  if (config.pacing) refresh_seconds_ = std::chrono::duration<double>(config.pacing->refresh_period).count();
  pacer_ = Pacer(with_priors(pacer_.config(), config));
  std::vector<PacerState> states(statistics_.target_count());
  std::vector<uint32_t> pending(statistics_.target_count(), 0);
  std::vector<InvitationAnswers> answers(statistics_.target_count());
  for (size_t before = 0; before < kept.size(); ++before) {
    if (!kept[before]) continue;
    states[*kept[before]] = states_[before];
    pending[*kept[before]] = pending_[before];
    answers[*kept[before]] = std::move(answers_[before]);
  }
  states_ = std::move(states);
  pending_ = std::move(pending);
  answers_ = std::move(answers);
  decisions_.clear();  // by the old targets: the next cycle decides the new ones
}

void PacingEngine::on_event(size_t pair, std::span<const uint8_t> payload) {
  Result<const proto::Envelope*> envelope = wire::verify_envelope(payload);
  if (envelope.ok()) statistics_.on_event(pair, **envelope);
}

void PacingEngine::set_pending(size_t target, uint32_t pending) {
  if (target < pending_.size()) pending_[target] = pending;
}

void PacingEngine::report_invitations(size_t target, const InvitationTotals& totals, int64_t now_us) {
  if (target < answers_.size()) answers_[target].report(totals, now_us);
}

TargetStats PacingEngine::pacer_input(size_t target, int64_t now_us, bool stale) const {
  return pacer_input(statistics_.figures(target, now_us), target, now_us, stale);
}

TargetStats PacingEngine::pacer_input(const TargetFigures& f, size_t target, int64_t now_us, bool stale) const {
  TargetStats in;
  in.goal = f.target->optimization_goal / 100.0;
  in.refresh_interval_seconds = refresh_seconds_;
  in.agents_ready = f.agents.ready;
  in.agents_busy = f.agents.busy;
  in.agents_not_ready = f.agents.not_ready;
  in.free_capacity = f.agents.free_capacity;
  in.busy_capacity = f.agents.busy_capacity;
  in.waiting = f.waiting;
  in.other_waiting = f.other_waiting;
  in.pending_invitations = pending_[target];
  in.waiting_in_progress = f.waiting;
  in.waiting_in_progress_seconds = f.waiting_seconds;
  for (size_t w = 0; w < kWindowsUs.size(); ++w) {
    // In the first minutes after the proxy started, a window holds only what was counted since
    // (at least the shortest window's length, so that a first arrival is not a burst).
    const double shortest = static_cast<double>(kWindowsUs.front()) / 1e6, full = static_cast<double>(kWindowsUs[w]) / 1e6;
    in.windows[w].length_seconds = std::clamp(f.counting_seconds, shortest, full);
    in.windows[w].accepted = static_cast<uint32_t>(f.accepted[w].count);
    in.windows[w].abandoned = static_cast<uint32_t>(f.abandoned[w].count);
    in.windows[w].accepted_wait_seconds = f.accepted[w].wait_seconds;
    in.windows[w].abandoned_wait_seconds = f.abandoned[w].wait_seconds;
  }
  in.handled = static_cast<uint32_t>(f.handled.back().count);
  in.handle_time_seconds = f.handled.back().wait_seconds;
  in.reactive_arrivals = static_cast<uint32_t>(f.reactive_arrivals.back().count);
  // As the engagement service reported them; none reported: the pacer keeps to its priors.
  const InvitationAnswers::Observed answers = answers_[target].observed(now_us, kWindowsUs.back());
  // Saturated: the totals are the peer's, and a wrapped count would turn the acceptance upside down.
  auto saturated = [](uint64_t n) { return static_cast<uint32_t>(std::min<uint64_t>(n, UINT32_MAX)); };
  in.invitations_answered = saturated(answers.answered);
  in.invitations_accepted = saturated(answers.accepted);
  in.answer_delay_seconds = answers.answer_delay_seconds;
  // Stale as a whole (the stream is not flowing), or a pair serving the target stopped.
  in.stale = stale || !f.stale_pairs.empty();
  return in;
}

const std::vector<TargetDecision>& PacingEngine::decide(int64_t now_us, bool stale) {
  statistics_.counting_from(now_us);
  const size_t targets = statistics_.target_count();
  decisions_.resize(targets);
  for (size_t i = 0; i < targets; ++i) {
    TargetDecision& d = decisions_[i];
    const TargetFigures f = statistics_.figures(i, now_us);
    d.target = f.target;
    d.input = pacer_input(f, i, now_us, stale);
    d.decision = pacer_.decide(d.input, states_[i]);
  }
  decided_at_us_ = now_us;
  return decisions_;
}

nlohmann::json PacingEngine::status(int64_t now_us) const {
  nlohmann::json targets = nlohmann::json::array();
  for (size_t i = 0; i < statistics_.target_count(); ++i) {
    const TargetFigures f = statistics_.figures(i, now_us);
    nlohmann::json windows = nlohmann::json::object();
    for (size_t w = 0; w < kWindowsUs.size(); ++w) {
      windows[kWindowNames[w]] = {{"accepted", f.accepted[w].count},
                                  {"abandoned", f.abandoned[w].count},
                                  {"accepted_wait_seconds", f.accepted[w].wait_seconds},
                                  {"abandoned_wait_seconds", f.abandoned[w].wait_seconds},
                                  {"handled", f.handled[w].count},
                                  {"handle_time_seconds", f.handled[w].wait_seconds},
                                  {"reactive_arrivals", f.reactive_arrivals[w].count}};
    }
    // What the engagement service reported over the longest window (the pacer's acceptance
    // evidence); null where nothing was answered: the pacer uses its prior.
    const InvitationAnswers::Observed answers = answers_[i].observed(now_us, kWindowsUs.back());
    const double answered = static_cast<double>(answers.answered);
    nlohmann::json invitations = {
        {"answered", answers.answered},
        {"accepted", answers.accepted},
        {"acceptance_observed", answers.answered ? nlohmann::json(answers.accepted / answered) : nlohmann::json()},
        {"answer_delay_seconds", answers.accepted ? nlohmann::json(answers.answer_delay_seconds / static_cast<double>(answers.accepted))
                                                  : nlohmann::json()}};
    nlohmann::json target = {
        {"target", f.target->name},
        {"media", f.target->media},
        {"goal_percent", f.target->optimization_goal},
        {"waiting", f.waiting},
        {"waiting_seconds", f.waiting_seconds},
        {"handling", f.handling},
        {"other_waiting", f.other_waiting},
        {"pending_invitations", pending_[i]},
        {"invitations", std::move(invitations)},
        {"agents",
         {{"logged_in", f.agents.logged_in},
          {"ready", f.agents.ready},
          {"busy", f.agents.busy},
          {"not_ready", f.agents.not_ready},
          {"free_capacity", f.agents.free_capacity},
          {"busy_capacity", f.agents.busy_capacity}}},
        {"windows", windows},
        {"stale_pairs", f.stale_pairs},
    };
    if (i < decisions_.size()) {
      const PacingDecision& d = decisions_[i].decision;
      target["stale"] = decisions_[i].input.stale;
      target["decision"] = {{"invitations", d.invitations},
                            {"mode", std::string(to_string(d.mode))},
                            {"into_free_capacity", d.free_capacity_share},
                            {"effective_goal_percent", d.effective_goal * 100.0},
                            {"decided_at_us", decided_at_us_}};
      target["estimates"] = {{"acceptance", d.estimates.acceptance},
                             {"handle_time_seconds", d.estimates.handle_time_seconds},
                             {"patience_seconds", d.estimates.patience_seconds},
                             {"answer_delay_seconds", d.estimates.answer_delay_seconds},
                             {"reactive_per_minute", d.estimates.reactive_rate * 60},
                             {"observed_abandonment", d.estimates.observed_abandonment}};
    }
    targets.push_back(std::move(target));
  }
  const PacingPriors& priors = pacer_.config().priors;
  return {{"targets", std::move(targets)},
          {"priors",
           {{"acceptance", priors.acceptance},
            {"acceptance_weight", priors.acceptance_weight},
            {"answer_delay_seconds", priors.answer_delay_seconds},
            {"handle_time_seconds", priors.handle_time_seconds},
            {"handle_time_weight", priors.handle_time_weight},
            {"patience_seconds", priors.patience_seconds},
            {"patience_weight", priors.patience_weight}}},
          {"events_counted", statistics_.events_counted()},
          {"events_skipped", statistics_.events_skipped()}};
}

}  // namespace ix::pacing
