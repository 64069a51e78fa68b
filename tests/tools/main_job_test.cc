// The main job (scripts/main.sh) as a newcomer runs it, for a short bounded run on the binaries
// already built: the example cluster, the engagement-service simulator and ixsim come up, the
// proxies' pacing posts to the simulator, and the run ends with the pacing line — the proactive
// abandonment against the goal and the master — with the simulator's report showing a workload
// the agents carry (abandonment under the goal, short queues), and with nothing left running.
// It runs in the source tree's .ix/ (the example's configuration points there) and starts it
// with --fresh, as the main job's own ports are fixed: no main job may be running meanwhile.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <string>

#include "tests/support/command.h"

namespace ix::test {
namespace {

// The number in `text` after `label` (and, when `then` is given, after the next `then` that
// follows it, e.g. the percentage in "abandoned   3 (1.20 % of the ended)"); -1 when absent.
double number_after(const std::string& text, const std::string& label, const std::string& then = "") {
  size_t at = text.find(label);
  if (at == std::string::npos) return -1;
  at += label.size();
  if (!then.empty()) {
    at = text.find(then, at);
    if (at == std::string::npos) return -1;
    at += then.size();
  }
  try {
    return std::stod(text.substr(at, 32));
  } catch (const std::exception&) {
    return -1;
  }
}

TEST(MainJob, AShortRunEndsWithTheProactiveAbandonmentAgainstTheGoal) {
  ::setenv("IX_MAIN_BUILD_DIR", IX_BUILD_DIR, 1);
  ::setenv("IX_MAIN_DURATION", "40", 1);
  // --fresh: what an earlier run left queued (an --overload run leaves dozens) would be routed to
  // the same agents and make the workload's figures below mean nothing.
  const CommandResult r = run_command({"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh", "--fresh"}, std::chrono::seconds(150));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ixengage listening on https://127.0.0.1:7443"), std::string::npos) << r.out;
  // The pacing line: one per target, with the master that posted.
  const size_t line = r.out.find("pacing: Proactive Chat - chat: ");
  ASSERT_NE(line, std::string::npos) << r.out << r.err;
  const std::string text = r.out.substr(line, r.out.find('\n', line) - line);
  EXPECT_NE(text.find("goal 3.0 %"), std::string::npos) << text;
  EXPECT_NE(text.find("master proxy-"), std::string::npos) << text;
  // The master posted, and the service's invitations turned into proactive chats that finished.
  EXPECT_NE(r.out.find("last post: ok"), std::string::npos) << r.out;
  EXPECT_NE(text.find("proactive abandonment"), std::string::npos) << text;

  // The default workload is one the example's agents carry: few customers abandon (fewer than
  // the configured abandonment goal) and the queues do not grow — at the end of the run at most a
  // few seconds' arrivals wait. (--overload leaves dozens queued and abandons far more.)
  const double goal = number_after(text, "goal ");
  const double abandoned = number_after(r.out, "\n  abandoned   ", " (");
  EXPECT_GE(abandoned, 0) << r.out;
  EXPECT_LT(abandoned, goal) << "inbound abandonment in % of the ended customers:\n" << r.out << r.err;
  const double queued = number_after(r.out, "left in the cluster: ");
  EXPECT_GE(queued, 0) << r.out;
  EXPECT_LE(queued, 10) << r.out << r.err;
}

// The options are read before anything is installed, built or started.
TEST(MainJob, SaysWhatPersistsAndRefusesAnUnknownOption) {
  const CommandResult help = run_command({"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("`--fresh` starts from empty data"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find(".ix/data"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("`--overload` makes them arrive at 6 per second"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("scripts/main.sh [--fresh] [--overload] [--setup-only]"), std::string::npos) << help.out;
  const CommandResult bad = run_command({"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh", "--overload", "--frsh"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown argument \"--frsh\" (usage: scripts/main.sh [--fresh] [--overload] [--setup-only])"),
            std::string::npos)
      << bad.err;
}

// The set-up path a newcomer's second run takes (the first one built build/): nothing to install,
// nothing rebuilt, and it says so. Its own first run here builds only if build/ is not current.
TEST(MainJob, ASecondRunReusesTheBuildAndRebuildsNothing) {
  ::unsetenv("IX_MAIN_BUILD_DIR");
  const std::vector<std::string> setup{"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh", "--setup-only"};
  const CommandResult first = run_command(setup, std::chrono::minutes(30));
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const CommandResult second = run_command(setup, std::chrono::minutes(5));
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("install-deps: all "), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("build: up to date (ixnode ixproxy ixctl ixsim ixengage)"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("rebuilt"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("Starting"), std::string::npos) << "--setup-only started something:\n" << second.out;
}

}  // namespace
}  // namespace ix::test
