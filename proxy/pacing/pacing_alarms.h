// PacingAlarms: the three alarms of the pacing service, driven by the outcome of each post to the
// engagement service (the guide's alarm conditions in the PacingService folder):
//
//   PacingRequestsFailed           detect 100603, cancel 100604: the post failed (connection, TLS,
//                                  timeout, an HTTP status other than 200, a refused fencing number)
//   PacingResponseTargetError      detect 100605, cancel 100606: the response reported errors for
//                                  one or more targets
//   PacingResponseValidationError  detect 100607, cancel 100608: the response was not a valid
//                                  bulk answer
//
// An alarm is raised after its configured number of consecutive bad outcomes ([pacing.alarms])
// and cleared by the first good one. Raising and clearing each write one structured log line with
// the alarm's event ID; while active the gauge ix_pacing_alarm_active{alarm} is 1, and
// ix_pacing_alarms_raised_total{alarm} counts the raises. Every series exists at 0 from start.
//
// Threads: none of its own; the pacing module's loop calls record(), and status() copies.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>

#include "cluster-config/model.h"
#include "protocol/http/metrics.h"

namespace ix::pacing {

// What one post came to, as far as the alarms care.
struct PostOutcome {
  enum class Kind {
    kFailed,   // no valid HTTP 200 answer
    kInvalid,  // a 200 whose body is not a valid bulk answer
    kAnswered  // a valid bulk answer (possibly with per-target errors)
  };
  Kind kind = Kind::kAnswered;
  size_t target_errors = 0;  // with kAnswered: entries in "errors"
  std::string detail;        // why it failed, what was invalid, or the first target error
};

class PacingAlarms {
 public:
  enum Alarm : size_t { kRequestsFailed, kResponseTargetError, kResponseValidationError, kAlarmCount };

  PacingAlarms(const config::PacingAlarms& thresholds, metrics::Registry& metrics);

  // One post's outcome at wall-clock time now_us; raises and clears alarms.
  void record(const PostOutcome& outcome, int64_t now_us);
  // New thresholds (a reload); consecutive counts carry over.
  void set_thresholds(const config::PacingAlarms& thresholds);

  bool active(Alarm alarm) const { return state_[alarm].active; }
  // The active alarms: [{"name", "detect_id", "since_us", "detail", "consecutive"}].
  nlohmann::json status() const;

 private:
  struct State {
    uint32_t threshold = 1;
    uint32_t consecutive = 0;
    bool active = false;
    int64_t since_us = 0;
    std::string detail;
    metrics::Gauge* gauge = nullptr;
    metrics::Counter* raised = nullptr;
  };

  // A bad outcome for alarm a (counts toward raising it) or a good one (clears it).
  void bad(Alarm a, const std::string& detail, int64_t now_us);
  void good(Alarm a);

  std::array<State, kAlarmCount> state_;
};

}  // namespace ix::pacing
