#include "proxy/pacing/pacing_alarms.h"

#include <spdlog/spdlog.h>

namespace ix::pacing {

namespace {

struct AlarmSpec {
  const char* name;
  int detect_id;
  int cancel_id;
};

constexpr std::array<AlarmSpec, PacingAlarms::kAlarmCount> kSpecs = {{
    {"PacingRequestsFailed", 100603, 100604},
    {"PacingResponseTargetError", 100605, 100606},
    {"PacingResponseValidationError", 100607, 100608},
}};

}  // namespace

PacingAlarms::PacingAlarms(const config::PacingAlarms& thresholds, metrics::Registry& metrics) {
  for (size_t a = 0; a < kAlarmCount; ++a) {
    const metrics::Labels labels = {{"alarm", kSpecs[a].name}};
    state_[a].gauge = &metrics.gauge("ix_pacing_alarm_active", "1 while the pacing alarm is raised.", labels);
    state_[a].raised = &metrics.counter("ix_pacing_alarms_raised_total", "Times the pacing alarm was raised.", labels);
  }
  set_thresholds(thresholds);
}

void PacingAlarms::set_thresholds(const config::PacingAlarms& thresholds) {
  state_[kRequestsFailed].threshold = std::max<uint32_t>(1, thresholds.requests_failed_threshold);
  state_[kResponseTargetError].threshold = std::max<uint32_t>(1, thresholds.target_error_threshold);
  state_[kResponseValidationError].threshold = std::max<uint32_t>(1, thresholds.validation_error_threshold);
}

void PacingAlarms::record(const PostOutcome& outcome, int64_t now_us) {
  switch (outcome.kind) {
    case PostOutcome::Kind::kFailed:
      // Says nothing about what a response would contain: the response alarms stay as they are.
      bad(kRequestsFailed, outcome.detail, now_us);
      return;
    case PostOutcome::Kind::kInvalid:
      good(kRequestsFailed);
      bad(kResponseValidationError, outcome.detail, now_us);
      return;
    case PostOutcome::Kind::kAnswered:
      good(kRequestsFailed);
      good(kResponseValidationError);
      if (outcome.target_errors > 0) {
        bad(kResponseTargetError, outcome.detail, now_us);
      } else {
        good(kResponseTargetError);
      }
      return;
  }
}

void PacingAlarms::bad(Alarm a, const std::string& detail, int64_t now_us) {
  State& s = state_[a];
  ++s.consecutive;
  s.detail = detail;
  if (s.active || s.consecutive < s.threshold) return;
  s.active = true;
  s.since_us = now_us;
  s.gauge->set(1);
  s.raised->inc();
  spdlog::error("event=alarm_raised alarm={} id={} consecutive={} detail=\"{}\"", kSpecs[a].name, kSpecs[a].detect_id,
                s.consecutive, detail);
}

void PacingAlarms::good(Alarm a) {
  State& s = state_[a];
  s.consecutive = 0;
  if (!s.active) return;
  s.active = false;
  s.gauge->set(0);
  spdlog::info("event=alarm_cleared alarm={} id={}", kSpecs[a].name, kSpecs[a].cancel_id);
}

nlohmann::json PacingAlarms::status() const {
  nlohmann::json active = nlohmann::json::array();
  for (size_t a = 0; a < kAlarmCount; ++a) {
    const State& s = state_[a];
    if (!s.active) continue;
    active.push_back({{"name", kSpecs[a].name},
                      {"detect_id", kSpecs[a].detect_id},
                      {"since_us", s.since_us},
                      {"consecutive", s.consecutive},
                      {"detail", s.detail}});
  }
  return active;
}

}  // namespace ix::pacing
