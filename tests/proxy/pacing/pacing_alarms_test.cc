// The three pacing alarms: raised after the configured run of bad outcomes, cleared by the first
// good one, visible as gauges, counters and status entries.
#include "proxy/pacing/pacing_alarms.h"

#include <gtest/gtest.h>

namespace ix::pacing {
namespace {

using Kind = PostOutcome::Kind;

PostOutcome failed() { return {Kind::kFailed, 0, "connection refused"}; }
PostOutcome invalid() { return {Kind::kInvalid, 0, "targets is not an array"}; }
PostOutcome answered(size_t target_errors = 0) {
  return {Kind::kAnswered, target_errors, target_errors ? "VQ - chat: target.unknown" : ""};
}

class PacingAlarmsTest : public ::testing::Test {
 protected:
  double gauge(const std::string& alarm) {
    return metrics_.gauge("ix_pacing_alarm_active", "1 while the pacing alarm is raised.", {{"alarm", alarm}}).value();
  }
  uint64_t raised(const std::string& alarm) {
    return metrics_.counter("ix_pacing_alarms_raised_total", "Times the pacing alarm was raised.", {{"alarm", alarm}})
        .value();
  }

  metrics::Registry metrics_;
  PacingAlarms alarms_{config::PacingAlarms{3, 1, 2}, metrics_};
};

TEST_F(PacingAlarmsTest, EverySeriesExistsAtZeroBeforeAnyPost) {
  const std::string text = metrics_.render();
  for (const char* alarm : {"PacingRequestsFailed", "PacingResponseTargetError", "PacingResponseValidationError"}) {
    EXPECT_NE(text.find(std::string("ix_pacing_alarm_active{alarm=\"") + alarm + "\"} 0"), std::string::npos) << alarm;
    EXPECT_NE(text.find(std::string("ix_pacing_alarms_raised_total{alarm=\"") + alarm + "\"} 0"), std::string::npos)
        << alarm;
  }
  EXPECT_TRUE(alarms_.status().empty());
}

TEST_F(PacingAlarmsTest, RequestsFailedIsRaisedAfterTheThresholdAndClearedByTheFirstAnswer) {
  alarms_.record(failed(), 1);
  alarms_.record(failed(), 2);
  EXPECT_FALSE(alarms_.active(PacingAlarms::kRequestsFailed));
  EXPECT_EQ(gauge("PacingRequestsFailed"), 0);

  alarms_.record(failed(), 3);
  EXPECT_TRUE(alarms_.active(PacingAlarms::kRequestsFailed));
  EXPECT_EQ(gauge("PacingRequestsFailed"), 1);
  EXPECT_EQ(raised("PacingRequestsFailed"), 1u);
  const nlohmann::json status = alarms_.status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0]["name"], "PacingRequestsFailed");
  EXPECT_EQ(status[0]["detect_id"], 100603);
  EXPECT_EQ(status[0]["since_us"], 3);
  EXPECT_EQ(status[0]["detail"], "connection refused");

  alarms_.record(failed(), 4);  // still raised, not raised again
  EXPECT_EQ(raised("PacingRequestsFailed"), 1u);

  alarms_.record(answered(), 5);
  EXPECT_FALSE(alarms_.active(PacingAlarms::kRequestsFailed));
  EXPECT_EQ(gauge("PacingRequestsFailed"), 0);
  EXPECT_TRUE(alarms_.status().empty());
}

TEST_F(PacingAlarmsTest, ASuccessInTheMiddleRestartsTheCount) {
  alarms_.record(failed(), 1);
  alarms_.record(failed(), 2);
  alarms_.record(invalid(), 3);  // the service answered: not a failed request
  alarms_.record(failed(), 4);
  alarms_.record(failed(), 5);
  EXPECT_FALSE(alarms_.active(PacingAlarms::kRequestsFailed));
}

TEST_F(PacingAlarmsTest, TargetErrorsRaiseAtOnceAndClearWhenAResponseHasNone) {
  alarms_.record(answered(2), 1);
  EXPECT_TRUE(alarms_.active(PacingAlarms::kResponseTargetError));
  EXPECT_EQ(gauge("PacingResponseTargetError"), 1);
  alarms_.record(failed(), 2);  // a failed post says nothing about target errors
  EXPECT_TRUE(alarms_.active(PacingAlarms::kResponseTargetError));
  alarms_.record(answered(0), 3);
  EXPECT_FALSE(alarms_.active(PacingAlarms::kResponseTargetError));
  EXPECT_EQ(raised("PacingResponseTargetError"), 1u);
}

TEST_F(PacingAlarmsTest, ValidationErrorsNeedTheirThresholdAndClearOnAValidAnswer) {
  alarms_.record(invalid(), 1);
  EXPECT_FALSE(alarms_.active(PacingAlarms::kResponseValidationError));
  alarms_.record(invalid(), 2);
  EXPECT_TRUE(alarms_.active(PacingAlarms::kResponseValidationError));
  EXPECT_EQ(alarms_.status()[0]["detect_id"], 100607);
  alarms_.record(answered(), 3);
  EXPECT_FALSE(alarms_.active(PacingAlarms::kResponseValidationError));
  EXPECT_EQ(gauge("PacingResponseValidationError"), 0);
}

TEST_F(PacingAlarmsTest, AReloadedThresholdAppliesToTheRunInProgress) {
  alarms_.record(failed(), 1);
  alarms_.set_thresholds(config::PacingAlarms{2, 1, 1});
  alarms_.record(failed(), 2);
  EXPECT_TRUE(alarms_.active(PacingAlarms::kRequestsFailed));
}

}  // namespace
}  // namespace ix::pacing
