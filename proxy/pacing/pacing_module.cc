#include "proxy/pacing/pacing_module.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>

namespace ix::pacing {

namespace {

int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PacingModule::PacingModule(std::shared_ptr<const config::ClusterConfig> config, std::string proxy_id,
                           metrics::Registry& metrics)
    : config_(std::move(config)), engine_(*config_), metrics_(metrics) {
  if (config_->pacing) {
    refresh_ms_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(config_->pacing->refresh_period).count());
    master_ = std::make_unique<PacingMaster>(*config_->pacing, std::move(proxy_id), metrics);
  }
  cycle_seconds_ = &metrics.histogram("ix_pacing_cycle_seconds", "Time of one pacing decision cycle over every target.",
                                      metrics::latency_buckets_seconds());
  events_ = &metrics.counter("ix_pacing_events_total", "Reporting events read by the pacing module.");
  make_target_metrics(metrics);
  status_ = engine_.status(wall_clock_us());
}

void PacingModule::make_target_metrics(metrics::Registry& metrics) {
  target_metrics_.clear();
  for (const config::PacingTarget& target : config_->pacing_targets) {
    const metrics::Labels labels = {{"target", target.name}};
    TargetMetrics m;
    m.invitations = &metrics.gauge("ix_pacing_invitations_allowed", "Invitations allowed in the next refresh period.", labels);
    m.waiting = &metrics.gauge("ix_pacing_waiting", "Proactive interactions waiting for an agent.", labels);
    m.ready = &metrics.gauge("ix_pacing_agents_ready", "Agents of the target ready for its media.", labels);
    m.busy = &metrics.gauge("ix_pacing_agents_busy", "Agents of the target handling an interaction of its media.", labels);
    m.pending = &metrics.gauge("ix_pacing_pending_invitations", "Invitations sent and not yet answered.", labels);
    m.stale = &metrics.gauge("ix_pacing_stale", "1 while the target is paced progressively on stale statistics.", labels);
    m.other_waiting = &metrics.gauge("ix_pacing_other_waiting", "Reactive interactions waiting for the target's agents.", labels);
    for (size_t e = 0; e < kEstimateNames.size(); ++e) {
      m.estimates[e] = &metrics.gauge("ix_pacing_estimate", "The smoothed estimates the last decision used.",
                                      {{"target", target.name}, {"estimate", kEstimateNames[e]}});
    }
    for (size_t w = 0; w < kWindowsUs.size(); ++w) {
      const metrics::Labels windowed = {{"target", target.name}, {"window", kWindowNames[w]}};
      m.accepted[w] = &metrics.gauge("ix_pacing_accepted", "Proactive interactions accepted by an agent within the window.", windowed);
      m.abandoned[w] = &metrics.gauge("ix_pacing_abandoned", "Proactive interactions abandoned while waiting within the window.", windowed);
    }
    target_metrics_.push_back(m);
  }
}

PacingModule::~PacingModule() { stop(); }

void PacingModule::start(Source source) {
  source_ = std::move(source);
  std::promise<void> started;
  std::future<void> ready = started.get_future();
  thread_ = std::thread([this, &started] {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &wake_, [](uv_async_t* a) { static_cast<PacingModule*>(a->data)->drain(); });
    wake_.data = this;
    uv_timer_init(&loop_, &timer_);
    timer_.data = this;
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<PacingModule*>(t->data)->cycle(); }, refresh_ms_, refresh_ms_);
    if (master_ && source_.lease) master_->start(&loop_, source_.lease, [this] { publish(); });
    {
      std::lock_guard lock(mutex_);
      running_ = true;
    }
    started.set_value();
    run();
  });
  ready.wait();
  spdlog::info("event=pacing_started targets={} refresh_ms={}", engine_.target_count(), refresh_ms_);
}

void PacingModule::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) spdlog::error("event=pacing_loop_not_closed");
}

void PacingModule::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_ || stopping_) return;
    stopping_ = true;
    uv_async_send(&wake_);  // the loop sees stopping_ and closes its handles
  }
  if (thread_.joinable()) thread_.join();
}

void PacingModule::wake() {
  std::lock_guard lock(mutex_);
  if (running_ && !stopping_) uv_async_send(&wake_);
}

void PacingModule::drain() {
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
  }
  if (stopping) {
    if (master_) master_->stop();  // hands the lease over at once if this proxy holds it
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    return;
  }
  apply_reload();  // before the events: a pair's state asked for after the reload seeds the new targets
  std::vector<proxy::FeedEvent> events = source_.take();
  for (const proxy::FeedEvent& e : events) {
    // The statistics know pairs by their position in this module's configuration; an event of
    // a pair it does not have (a reload the workers applied first) is not counted.
    const auto& pairs = config_->node_pairs;
    auto pair = std::find_if(pairs.begin(), pairs.end(), [&](const config::NodePair& p) { return p.id == e.pair_id; });
    if (pair == pairs.end()) continue;
    const auto position = static_cast<size_t>(pair - pairs.begin());
    if (e.payload) {
      engine_.on_event(position, *e.payload);
    } else if (e.stream_stopped) {
      engine_.statistics().stream_stopped(position);
    }
  }
  events_->inc(events.size());
}

void PacingModule::reload(std::shared_ptr<const config::ClusterConfig> config) {
  std::lock_guard lock(mutex_);
  if (!running_ || stopping_) return;
  reloaded_ = std::move(config);
  uv_async_send(&wake_);
}

void PacingModule::apply_reload() {
  std::shared_ptr<const config::ClusterConfig> config;
  {
    std::lock_guard lock(mutex_);
    config = std::move(reloaded_);
  }
  if (!config) return;
  // The series of the targets that are gone drop to 0 (the registry keeps a series once made).
  for (size_t i = 0; i < target_metrics_.size() && i < config_->pacing_targets.size(); ++i) {
    const std::string& name = config_->pacing_targets[i].name;
    const bool stays = std::any_of(config->pacing_targets.begin(), config->pacing_targets.end(),
                                   [&](const config::PacingTarget& t) { return t.name == name; });
    if (stays) continue;
    TargetMetrics& m = target_metrics_[i];
    for (metrics::Gauge* g : {m.invitations, m.waiting, m.ready, m.busy, m.pending, m.stale, m.other_waiting}) g->set(0);
    for (metrics::Gauge* g : m.estimates) g->set(0);
    for (size_t w = 0; w < m.accepted.size(); ++w) {
      m.accepted[w]->set(0);
      m.abandoned[w]->set(0);
    }
  }
  engine_.reconfigure(*config);
  config_ = std::move(config);  // the engine's targets point into it
  if (master_ && config_->pacing) master_->reconfigure(*config_->pacing);
  ++generation_;
  make_target_metrics(metrics_);
  if (config_->pacing) {
    const auto refresh = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(config_->pacing->refresh_period).count());
    if (refresh != refresh_ms_) {
      refresh_ms_ = refresh;
      uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<PacingModule*>(t->data)->cycle(); }, refresh_ms_, refresh_ms_);
    }
  }
  spdlog::info("event=pacing_reloaded targets={} refresh_ms={}", engine_.target_count(), refresh_ms_);
  cycle();  // decide the new targets now rather than a refresh period from now
}

void PacingModule::cycle() {
  drain();  // decide on everything published so far
  if (source_.rejoin && source_.rejoin()) {
    // What was published while cut off is lost: every pair is behind until its state is in.
    engine_.statistics().all_streams_stopped();
    spdlog::warn("event=pacing_rejoined reason={}", "cut off by the reporting feed; rebuilding from the pairs' states");
  }
  stale_ = !source_.streaming();
  const auto started = std::chrono::steady_clock::now();
  engine_.decide(wall_clock_us(), stale_);
  cycle_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  publish();
  post();
}

void PacingModule::post() {
  if (!master_) return;
  master_->post(engine_.last_decisions(), static_cast<double>(refresh_ms_) / 1000.0,
                [this, generation = generation_](const PostResult& result) {
                  if (generation != generation_) return;  // posted for the targets before a reload
                  const int64_t now = wall_clock_us();
                  for (size_t i = 0; i < result.pending.size() && i < engine_.target_count(); ++i) {
                    if (result.pending[i]) engine_.set_pending(i, *result.pending[i]);
                    if (i < result.invitations.size() && result.invitations[i]) {
                      engine_.report_invitations(i, *result.invitations[i], now);
                    }
                  }
                  publish();
                });
}

void PacingModule::publish() {
  const bool stale = stale_;
  nlohmann::json status = engine_.status(wall_clock_us());
  status["stale"] = stale;
  status["refresh_period_ms"] = refresh_ms_;
  if (master_) status.update(master_->status());
  const std::vector<TargetDecision>& decisions = engine_.last_decisions();
  for (size_t i = 0; i < decisions.size() && i < target_metrics_.size(); ++i) {
    const TargetDecision& d = decisions[i];
    TargetMetrics& m = target_metrics_[i];
    m.invitations->set(d.decision.invitations);
    m.waiting->set(d.input.waiting);
    m.ready->set(d.input.agents_ready);
    m.busy->set(d.input.agents_busy);
    m.pending->set(d.input.pending_invitations);
    m.stale->set(d.input.stale ? 1 : 0);
    m.other_waiting->set(d.input.other_waiting);
    const Estimates& e = d.decision.estimates;
    const double estimates[] = {e.acceptance, e.answer_delay_seconds, e.handle_time_seconds, e.patience_seconds, e.reactive_rate};
    for (size_t k = 0; k < m.estimates.size(); ++k) m.estimates[k]->set(estimates[k]);
    for (size_t w = 0; w < d.input.windows.size(); ++w) {
      m.accepted[w]->set(d.input.windows[w].accepted);
      m.abandoned[w]->set(d.input.windows[w].abandoned);
    }
  }
  std::lock_guard lock(status_mutex_);
  status_ = std::move(status);
}

nlohmann::json PacingModule::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

}  // namespace ix::pacing
