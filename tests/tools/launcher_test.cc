// `ixctl cluster up / down`: the whole cluster of a configuration file as local processes —
// ready, described, stopped with nothing left behind — and the clear refusals.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
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

// The pids cluster.json names, by process name.
std::map<std::string, pid_t> running_pids(const std::filesystem::path& work) {
  std::ifstream in(work / "cluster.json");
  nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
  std::map<std::string, pid_t> pids;
  if (state.is_discarded()) return pids;
  for (const auto& p : state["processes"]) pids[p.value("name", "")] = p.value("pid", -1);
  return pids;
}

TEST_F(LauncherTest, AProcessThatDiesIsRestartedAndRestartAndDownReachTheNewOnes) {
  std::unique_ptr<Process> launcher = up();
  ASSERT_TRUE(wait_for_log(*launcher, "Stop with Ctrl-C")) << launcher->log();
  const std::map<std::string, pid_t> first = running_pids(dir_ / "work");

  // A backup killed outright comes back after the first back-off.
  ASSERT_EQ(::kill(first.at("pair-1 backup"), SIGKILL), 0);
  ASSERT_TRUE(wait_for_log(*launcher, "pair-1 backup (pid " + std::to_string(first.at("pair-1 backup")) +
                                          ") was killed by signal Killed; its log: " + work_dir() +
                                          "/logs/pair-1-backup.log; restarting it in 1 s"))
      << launcher->log();
  ASSERT_TRUE(wait_for_log(*launcher, "restarted pair-1 backup")) << launcher->log();
  // cluster.json names the new process once the launcher has written it down.
  std::map<std::string, pid_t> now;
  EXPECT_TRUE(eventually([&] {
    now = running_pids(dir_ / "work");
    return now.at("pair-1 backup") != first.at("pair-1 backup") && alive(now.at("pair-1 backup"));
  })) << "the restarted backup runs under a new pid";
  EXPECT_TRUE(eventually([&] { return http_get(loop_, node_ports_[0][1].second, "/healthz").status() == 200; },
                         std::chrono::seconds(20)))
      << "the restarted backup does not answer";

  // Restart by hand: proxy-2 is stopped and started again at once.
  CommandResult restart = run_command({IX_IXCTL, "cluster", "restart", "proxy-2", "--dir", work_dir()});
  EXPECT_EQ(restart.exit_code, 0) << restart.out << restart.err;
  now = running_pids(dir_ / "work");
  EXPECT_NE(now.at("proxy-2"), first.at("proxy-2"));
  EXPECT_NE(restart.out.find("proxy-2 restarted (pid " + std::to_string(now.at("proxy-2")) + ")"), std::string::npos) << restart.out;
  EXPECT_FALSE(alive(first.at("proxy-2")));
  CommandResult unknown = run_command({IX_IXCTL, "cluster", "restart", "pair-9-primary", "--dir", work_dir()});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no process \"pair-9-primary\""), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("pair-1-primary, pair-1-backup"), std::string::npos) << unknown.err;

  // Down stops the restarted processes too.
  CommandResult down = run_command({IX_IXCTL, "cluster", "down", "--dir", work_dir()});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(launcher->wait_for_exit(std::chrono::seconds(30)), 0) << launcher->log();
  for (const auto& [name, pid] : now) EXPECT_FALSE(alive(pid)) << name << " (pid " << pid << ") outlived cluster down";
}

TEST_F(LauncherTest, NoRestartLeavesADeadProcessDown) {
  std::unique_ptr<Process> launcher = up({"--no-restart"});
  ASSERT_TRUE(wait_for_log(*launcher, "Stop with Ctrl-C")) << launcher->log();
  const pid_t backup = running_pids(dir_ / "work").at("pair-2 backup");
  ASSERT_EQ(::kill(backup, SIGKILL), 0);
  ASSERT_TRUE(wait_for_log(*launcher, "not restarting it (--no-restart)")) << launcher->log();
  EXPECT_EQ(running_pids(dir_ / "work").at("pair-2 backup"), -1);
  // Past the first back-off (1 s) it is still down.
  EXPECT_FALSE(eventually([&] { return launcher->log().find("restarted pair-2 backup") != std::string::npos; },
                          std::chrono::milliseconds(2500)))
      << launcher->log();
  CommandResult status = run_command({IX_IXCTL, "status", "--dir", work_dir()});
  EXPECT_EQ(status.exit_code, 1) << "a pair without its backup is degraded:\n" << status.out;
  CommandResult down = run_command({IX_IXCTL, "cluster", "down", "--dir", work_dir()});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(launcher->wait_for_exit(std::chrono::seconds(30)), 0) << launcher->log();
}

}  // namespace
}  // namespace ix::test
