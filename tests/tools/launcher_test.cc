// `ixctl cluster up / down`: the whole cluster of a configuration file as local processes —
// ready, described, stopped with nothing left behind — and the clear refusals.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"

namespace ix::test {
namespace {

class LauncherTest : public ClusterFixture {
 protected:
  // The launcher starts every process from the one file: the ports must be in it beforehand.
  void SetUp() override {
    ClusterFixture::SetUp();
    choose_ports_before_start();
  }
  std::string work_dir() const { return (dir_ / "work").string(); }
  std::unique_ptr<Process> up(const std::vector<std::string>& extra = {}, const std::string& log = "launcher.log") {
    write_config();
    std::vector<std::string> argv{IX_IXCTL, "cluster", "up", (dir_ / "cluster.toml").string(), "--dir", work_dir()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto launcher = std::make_unique<Process>(argv, (dir_ / log).string());
    EXPECT_TRUE(launcher->start());
    return launcher;
  }
  // True once the launcher has printed `text`; false if it ended or the time passed first.
  bool wait_for_log(Process& p, const std::string& text, int seconds = 60) {
    auto printed = [&] { return p.log().find(text) != std::string::npos; };
    eventually([&] { return printed() || !p.running(); }, std::chrono::seconds(seconds));
    return printed();
  }
};

bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  return std::getline(stat, line) && line.find(") Z ") == std::string::npos;
}

TEST_F(LauncherTest, UpReportsReadyAndDownLeavesNothingBehind) {
  std::unique_ptr<Process> launcher = up();
  ASSERT_TRUE(wait_for_log(*launcher, "Stop with Ctrl-C")) << launcher->log();
  const std::string log = launcher->log();
  for (const char* name : {"pair-1 primary", "pair-1 backup", "pair-2 primary", "pair-2 backup", "proxy-1", "proxy-2"}) {
    EXPECT_NE(log.find(name), std::string::npos) << name << "\n" << log;
  }
  EXPECT_NE(log.find("Status page: http://127.0.0.1:" + std::to_string(proxy_ports_[0].second) + "/"), std::string::npos) << log;
  EXPECT_NE(log.find(work_dir() + "/logs/pair-1-primary.log"), std::string::npos) << log;

  std::ifstream state_file(dir_ / "work" / "cluster.json");
  nlohmann::json state = nlohmann::json::parse(state_file);
  std::vector<pid_t> pids;
  for (const auto& p : state["processes"]) pids.push_back(p.value("pid", -1));
  ASSERT_EQ(pids.size(), 6u);
  for (pid_t pid : pids) EXPECT_TRUE(alive(pid)) << pid;

  // Everything answers: the status command agrees.
  CommandResult status = run_command({IX_IXCTL, "status", "--dir", work_dir()});
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;

  // A second launcher on the same directory is refused and disturbs nothing.
  CommandResult twice = run_command({IX_IXCTL, "cluster", "up", (dir_ / "cluster.toml").string(), "--dir", work_dir()});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("a cluster is already running from " + work_dir()), std::string::npos) << twice.err;

  CommandResult down = run_command({IX_IXCTL, "cluster", "down", "--dir", work_dir()});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(launcher->wait_for_exit(std::chrono::seconds(20)), 0) << launcher->log();
  for (pid_t pid : pids) EXPECT_FALSE(alive(pid)) << "process " << pid << " outlived cluster down";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "work" / "cluster.json"));
  EXPECT_NE(launcher->log().find("ixctl: stopped"), std::string::npos);
  EXPECT_EQ(launcher->log().find("did not stop"), std::string::npos) << "every process stops on SIGTERM:\n" << launcher->log();

  CommandResult again = run_command({IX_IXCTL, "cluster", "down", "--dir", work_dir()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no cluster is running from"), std::string::npos) << again.err;
}

TEST_F(LauncherTest, APortInUseOrAMissingBinaryIsRefusedBeforeAnythingStarts) {
  EchoServer squatter(loop_.get());
  ASSERT_TRUE(squatter.start(node_ports_[1][0].first));
  std::unique_ptr<Process> launcher = up();
  EXPECT_EQ(launcher->wait_for_exit(std::chrono::seconds(20)), 1);
  EXPECT_NE(launcher->log().find("port " + std::to_string(node_ports_[1][0].first) + " (pair-2 primary) is already in use"),
            std::string::npos)
      << launcher->log();
  EXPECT_EQ(http_get(loop_, node_ports_[0][0].second, "/healthz").status(), 0) << "nothing may have been started";
  squatter.stop();

  std::unique_ptr<Process> no_binaries = up({"--bin-dir", (dir_ / "nowhere").string()}, "launcher-2.log");
  EXPECT_EQ(no_binaries->wait_for_exit(std::chrono::seconds(20)), 1);
  EXPECT_NE(no_binaries->log().find("cannot find ixnode"), std::string::npos) << no_binaries->log();
}

// Port 0 (the OS chooses) suits one process started with --ports-file, not a whole cluster
// started from one file: the proxies would never learn where the nodes are.
TEST_F(LauncherTest, APortLeftToTheOperatingSystemIsRefusedBeforeAnythingStarts) {
  node_ports_[1][1] = {0, 0};
  std::unique_ptr<Process> launcher = up();
  EXPECT_EQ(launcher->wait_for_exit(std::chrono::seconds(20)), 1);
  EXPECT_NE(launcher->log().find("pair-2 backup has port 0 in the configuration; cluster up needs every port written out"),
            std::string::npos)
      << launcher->log();
  EXPECT_EQ(http_get(loop_, node_ports_[0][0].second, "/healthz").status(), 0) << "nothing may have been started";
}

}  // namespace
}  // namespace ix::test
