// `ixctl pacing model`: the built binary, its JSON keys, and its numbers against the library.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "proxy/pacing/erlang_a.h"
#include "tests/support/command.h"

namespace ix::pacing {
namespace {

test::CommandResult ixctl(std::vector<std::string> args) {
  args.insert(args.begin(), IX_IXCTL);
  return test::run_command(args);
}

TEST(PacingModelCommand, RateModeMatchesTheLibrary) {
  const test::CommandResult r =
      ixctl({"pacing", "model", "--agents", "20", "--handle-time", "180", "--patience", "60", "--rate-per-minute", "5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const ErlangAResult expected = erlang_a(20, 5 / 60.0, 1 / 180.0, 1 / 60.0);
  EXPECT_DOUBLE_EQ(j.at("abandon_probability").get<double>(), expected.abandon_probability);
  EXPECT_DOUBLE_EQ(j.at("wait_probability").get<double>(), expected.wait_probability);
  EXPECT_DOUBLE_EQ(j.at("occupancy").get<double>(), expected.occupancy);
  EXPECT_DOUBLE_EQ(j.at("mean_wait_seconds").get<double>(), expected.mean_wait_seconds);
  EXPECT_FALSE(j.contains("max_rate_per_minute"));
  // Fractions, not percent.
  EXPECT_GT(j.at("abandon_probability").get<double>(), 0.0);
  EXPECT_LT(j.at("abandon_probability").get<double>(), 0.1);
}

TEST(PacingModelCommand, GoalModeGivesTheLargestRate) {
  for (const char* agents : {"1", "20", "2000"}) {
    const test::CommandResult r =
        ixctl({"pacing", "model", "--agents", agents, "--handle-time", "180", "--patience", "60", "--goal", "3", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const uint32_t n = static_cast<uint32_t>(std::stoul(agents));
    EXPECT_DOUBLE_EQ(j.at("max_rate_per_minute").get<double>(), 60 * erlang_a_max_rate(n, 1 / 180.0, 1 / 60.0, 0.03));
    EXPECT_LE(j.at("abandon_probability").get<double>(), 0.03);
    EXPECT_GT(j.at("abandon_probability").get<double>(), 0.0299);
  }
  // The reference table: 20 agents, AHT 180 s, patience 60 s → 5.19 per minute.
  const test::CommandResult r =
      ixctl({"pacing", "model", "--agents", "20", "--handle-time", "180", "--patience", "60", "--goal", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("5.19"), std::string::npos) << r.out;
}

TEST(PacingModelCommand, RefusesAnIncompleteQuestion) {
  EXPECT_EQ(ixctl({"pacing", "model", "--agents", "5", "--handle-time", "180", "--patience", "60"}).exit_code, 3);
  EXPECT_EQ(ixctl({"pacing", "model", "--agents", "5", "--handle-time", "180", "--patience", "60", "--goal", "3",
                   "--rate-per-minute", "2"})
                .exit_code,
            3);
  EXPECT_EQ(ixctl({"pacing", "model", "--agents", "0", "--handle-time", "180", "--patience", "60", "--goal", "3"}).exit_code, 3);
  EXPECT_EQ(ixctl({"pacing", "model", "--agents", "5", "--handle-time", "180", "--patience", "60", "--goal", "0"}).exit_code, 3);
  // Absurd overload is refused rather than walked state by state.
  EXPECT_EQ(ixctl({"pacing", "model", "--agents", "5", "--handle-time", "180", "--patience", "36000", "--rate-per-minute",
                   "1e9"})
                .exit_code,
            3);
}

}  // namespace
}  // namespace ix::pacing
