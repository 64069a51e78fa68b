#include "proxy/pacing/pacing_module.h"

#include <spdlog/spdlog.h>

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
    : config_(std::move(config)), engine_(*config_) {
  if (config_->pacing) {
    refresh_ms_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(config_->pacing->refresh_period).count());
    master_ = std::make_unique<PacingMaster>(*config_->pacing, std::move(proxy_id), metrics);
  }
  cycle_seconds_ = &metrics.histogram("ix_pacing_cycle_seconds", "Time of one pacing decision cycle over every target.",
                                      metrics::latency_buckets_seconds());
  events_ = &metrics.counter("ix_pacing_events_total", "Reporting events read by the pacing module.");
  for (const config::PacingTarget& target : config_->pacing_targets) {
    const metrics::Labels labels = {{"target", target.name}};
    TargetMetrics m;
    m.invitations = &metrics.gauge("ix_pacing_invitations_allowed", "Invitations allowed in the next refresh period.", labels);
    m.waiting = &metrics.gauge("ix_pacing_waiting", "Proactive interactions waiting for an agent.", labels);
    m.ready = &metrics.gauge("ix_pacing_agents_ready", "Agents of the target ready for its media.", labels);
    m.busy = &metrics.gauge("ix_pacing_agents_busy", "Agents of the target handling an interaction of its media.", labels);
    m.pending = &metrics.gauge("ix_pacing_pending_invitations", "Invitations sent and not yet answered.", labels);
    m.stale = &metrics.gauge("ix_pacing_stale", "1 while the target is paced progressively on stale statistics.", labels);
    for (size_t w = 0; w < kWindowsUs.size(); ++w) {
      const metrics::Labels windowed = {{"target", target.name}, {"window", kWindowNames[w]}};
      m.accepted[w] = &metrics.gauge("ix_pacing_accepted", "Proactive interactions accepted by an agent within the window.", windowed);
      m.abandoned[w] = &metrics.gauge("ix_pacing_abandoned", "Proactive interactions abandoned while waiting within the window.", windowed);
    }
    target_metrics_.push_back(m);
  }
  status_ = engine_.status(wall_clock_us());
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
  std::vector<proxy::FeedEvent> events = source_.take();
  for (const proxy::FeedEvent& e : events) {
    if (e.payload) engine_.on_event(e.pair, *e.payload);
  }
  events_->inc(events.size());
}

void PacingModule::cycle() {
  drain();  // decide on everything published so far
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
                [this](const std::vector<std::optional<uint32_t>>& pending) {
                  for (size_t i = 0; i < pending.size() && i < engine_.target_count(); ++i) {
                    if (pending[i]) engine_.set_pending(i, *pending[i]);
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
    m.stale->set(stale ? 1 : 0);
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
