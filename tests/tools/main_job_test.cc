// The main job (scripts/main.sh) as a newcomer runs it, for a short bounded run on the binaries
// already built: the example cluster, the engagement-service simulator and ixsim come up, the
// proxies' pacing posts to the simulator, and the run ends with the pacing line — the proactive
// abandonment against the goal and the master — and with nothing left running.
#include <gtest/gtest.h>

#include <stdlib.h>

#include "tests/support/command.h"

namespace ix::test {
namespace {

TEST(MainJob, AShortRunEndsWithTheProactiveAbandonmentAgainstTheGoal) {
  ::setenv("IX_MAIN_BUILD_DIR", IX_BUILD_DIR, 1);
  ::setenv("IX_MAIN_DURATION", "40", 1);
  const CommandResult r = run_command({"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh"}, std::chrono::seconds(150));
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
}

// The options are read before anything is installed, built or started.
TEST(MainJob, SaysWhatPersistsAndRefusesAnUnknownOption) {
  const CommandResult help = run_command({"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("`--fresh` starts from empty data"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find(".ix/data"), std::string::npos) << help.out;
  const CommandResult bad = run_command({"/bin/bash", IX_SOURCE_DIR "/scripts/main.sh", "--frsh"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown argument \"--frsh\" (usage: scripts/main.sh [--fresh])"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ix::test
