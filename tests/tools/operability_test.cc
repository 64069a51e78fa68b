// What an operator meets around the processes: `ixctl status` asked through a proxy
// (--server / $IXCTL_SERVER) and its exit code when a pair loses its backup or its serving node,
// `--version` on every binary, and the logs: levels (warn as such, a fatal stop as an error), the
// fields every line carries, and log files reopened on SIGUSR1 (node and proxy).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <sqlite3.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"

namespace ix::test {
namespace {

class OperabilityTest : public ClusterFixture {
 protected:
  // Every port in the file before anything starts: the proxies' status watchers and the nodes'
  // reloads read the file as it is then, not as later processes fill it in.
  void SetUp() override {
    ClusterFixture::SetUp();
    choose_ports_before_start();
  }
  void TearDown() override {
    ::unsetenv("IXCTL_SERVER");
    ClusterFixture::TearDown();
  }
  std::string admin_address(int proxy) const { return "127.0.0.1:" + std::to_string(proxy_ports_[proxy].second); }
  std::string client_address(int proxy) const { return "127.0.0.1:" + std::to_string(proxy_ports_[proxy].first); }
  std::string no_local_cluster() const { return (dir_ / "no-local-cluster").string(); }
  // Starts proxy-1 as the fixture's start_proxy does, with `options` in place of its
  // --log-level debug, and waits until it is ready and reaches every running pair.
  void start_proxy_with(const std::vector<std::string>& options) {
    write_config();
    const std::filesystem::path ports_file = dir_ / "proxy-1.ports";
    std::filesystem::remove(ports_file);
    std::vector<std::string> args{IX_IXPROXY, "--config", (dir_ / "cluster.toml").string(), "--proxy", "proxy-1",
                                  "--ports-file", ports_file.string()};
    args.insert(args.end(), options.begin(), options.end());
    proxies_[0] = std::make_unique<Process>(args, (dir_ / "proxy-1.log").string());
    ASSERT_TRUE(proxies_[0]->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*proxies_[0], ports_file);
    ASSERT_TRUE(ports) << "proxy-1 did not report its ports: " << proxies_[0]->log();
    proxy_ports_[0] = {ports->port, ports->admin_port};
    write_config();
    ASSERT_TRUE(wait_ready(0)) << proxies_[0]->log();
    ASSERT_TRUE(wait_linked(0)) << proxy_status(0);
  }
  // `ixctl status ARGS` run until its exit code is `code` (the proxy samples the cluster every
  // 2 s), or for 20 s; returns the last run.
  CommandResult status_until(int code, std::vector<std::string> args) {
    args.insert(args.begin(), {IX_IXCTL, "status", "--dir", no_local_cluster()});
    CommandResult r;
    eventually([&] { return (r = run_command(args)).exit_code == code; }, std::chrono::seconds(20), std::chrono::milliseconds(200));
    return r;
  }
};

TEST_F(OperabilityTest, StatusAsksTheProxyNamedByServerOrTheEnvironmentAndFailsWhenAPairLosesItsBackup) {
  start_cluster();
  start_proxy(1);
  const std::string config = (dir_ / "cluster.toml").string();

  // No configuration here: the proxy's admin address is enough, from the environment...
  ::setenv("IXCTL_SERVER", admin_address(0).c_str(), 1);
  CommandResult healthy = status_until(0, {});
  EXPECT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_NE(healthy.out.find("cluster as proxy proxy-1 (http://" + admin_address(0) + "/) sees it"), std::string::npos)
      << healthy.out;
  EXPECT_NE(healthy.out.find("pair-1: served by its primary\n"), std::string::npos) << healthy.out;
  EXPECT_NE(healthy.out.find("pair-2: served by its primary\n"), std::string::npos) << healthy.out;
  ::unsetenv("IXCTL_SERVER");
  // ...or from --server; a client address needs the configuration that names the proxy.
  CommandResult by_client_address = status_until(0, {"--server", client_address(1), "--config", config});
  EXPECT_EQ(by_client_address.exit_code, 0) << by_client_address.out << by_client_address.err;
  EXPECT_NE(by_client_address.out.find("cluster as proxy proxy-2 (http://" + admin_address(1) + "/)"), std::string::npos)
      << by_client_address.out;
  CommandResult protocol_port = run_command({IX_IXCTL, "status", "--dir", no_local_cluster(), "--server", client_address(1)});
  EXPECT_EQ(protocol_port.exit_code, 2) << protocol_port.out;
  EXPECT_NE(protocol_port.err.find("--server must be a proxy's admin address"), std::string::npos) << protocol_port.err;

  // pair-2 loses its backup: still served, but degraded — through the proxy and directly.
  nodes_[1][1]->kill(SIGKILL);
  CommandResult lost = status_until(1, {"--server", admin_address(0)});
  EXPECT_EQ(lost.exit_code, 1) << lost.out << lost.err;
  EXPECT_NE(lost.out.find("pair-2: served by its primary, NO BACKUP"), std::string::npos) << lost.out;
  EXPECT_NE(lost.out.find("pair-1: served by its primary\n"), std::string::npos) << lost.out;
  CommandResult direct = run_command({IX_IXCTL, "status", "--config", config});
  EXPECT_EQ(direct.exit_code, 1) << direct.out;
  EXPECT_NE(direct.out.find("pair-2: served by its primary, NO BACKUP"), std::string::npos) << direct.out;

  // And then its primary: no serving node.
  nodes_[1][0]->kill(SIGKILL);
  CommandResult none;
  EXPECT_TRUE(eventually(
      [&] {
        none = run_command({IX_IXCTL, "status", "--dir", no_local_cluster(), "--server", admin_address(0), "--json"});
        nlohmann::json s = nlohmann::json::parse(none.out, nullptr, false);
        return none.exit_code == 1 && s.is_object() && s["pairs"][1].value("serving", "x").empty();
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)))
      << none.out << none.err;
}

TEST(Version, EveryBinaryNamesItsVersionAndCommit) {
  for (const char* binary : {IX_IXNODE, IX_IXPROXY, IX_IXCTL, IX_IXSIM, IX_IXENGAGE}) {
    CommandResult r = run_command({binary, "--version"});
    EXPECT_EQ(r.exit_code, 0) << binary << ": " << r.err;
    const std::string name = std::filesystem::path(binary).filename().string();
    EXPECT_EQ(r.out.rfind(name + " 0.1.0 (commit ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(")\n"), std::string::npos) << r.out;
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The node's log: every line names pair, node and role, once; a backup says it is one; a refused
// reload is an error on one line; the log file is reopened on SIGUSR1 after logrotate moved it.
TEST_F(OperabilityTest, NodeLogLinesCarryPairNodeAndRoleAndTheLogFileIsReopenedOnSigusr1) {
  start_pair(1);  // pair-2 by the fixture; pair-1 here, with --log-file
  auto start = [&](int which, const std::filesystem::path& log_file) {
    const char* role = which == 0 ? "primary" : "backup";
    const std::filesystem::path ports_file = dir_ / (std::string("pair-1-") + role + ".ports");
    nodes_[0][which] = std::make_unique<Process>(
        std::vector<std::string>{IX_IXNODE, "--config", (dir_ / "cluster.toml").string(), "--node", "pair-1", "--role", role,
                                 "--ports-file", ports_file.string(), "--log-file", log_file.string()},
        (dir_ / (std::string("pair-1-") + role + ".log")).string());
    EXPECT_TRUE(nodes_[0][which]->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*nodes_[0][which], ports_file);
    EXPECT_TRUE(ports);
    if (ports) node_ports_[0][which] = {ports->port, ports->admin_port};
    write_config();
  };
  const std::filesystem::path primary_log = dir_ / "primary-file.log", backup_log = dir_ / "backup-file.log";
  start(0, primary_log);
  start(1, backup_log);
  ASSERT_TRUE(eventually([&] { return read_file(backup_log).find("role=backup event=standing_by") != std::string::npos; }))
      << read_file(backup_log);
  const std::string primary = read_file(primary_log), backup = read_file(backup_log);
  EXPECT_NE(primary.find("level=info proc=ixnode pair=pair-1 node=primary role=starting event=listening"), std::string::npos) << primary;
  EXPECT_NE(backup.find("level=info proc=ixnode pair=pair-1 node=backup role=starting event=listening"), std::string::npos) << backup;
  EXPECT_EQ(primary.find("event=standing_by"), std::string::npos) << primary;
  for (const std::string& text : {primary, backup}) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      const size_t pair = line.find(" pair=pair-1 node=");
      EXPECT_NE(pair, std::string::npos) << line;
      EXPECT_EQ(line.find(" pair=", pair + 1), std::string::npos) << "pair= twice: " << line;
    }
  }
  // The lines that named the pair in their own text before it was a field of every line.
  EXPECT_NE(primary.find("role=primary event=primary epoch=1 takeover=first\n"), std::string::npos) << primary;
  EXPECT_NE(primary.find("event=listening port="), std::string::npos) << primary;
  EXPECT_NE(nodes_[0][0]->log().find("node=primary role=starting event=listening"), std::string::npos) << "stderr has it too";

  // logrotate: move the file away, signal; the node writes a new one.
  std::filesystem::rename(primary_log, dir_ / "primary-file.log.1");
  nodes_[0][0]->signal(SIGUSR1);
  ASSERT_TRUE(eventually([&] { return read_file(primary_log).find("event=log_reopened") != std::string::npos; })) << nodes_[0][0]->log();

  // A refused reload: one error line, in the new file only.
  const std::string good = read_file(dir_ / "cluster.toml");
  std::ofstream(dir_ / "cluster.toml") << good << "\n[[queues]]\nid = 7\n";
  nodes_[0][0]->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return read_file(primary_log).find("event=reload applied=false") != std::string::npos; })) << nodes_[0][0]->log();
  const std::string after = read_file(primary_log);
  const size_t refused = after.find("event=reload applied=false");
  const std::string line = after.substr(after.rfind('\n', refused) + 1, after.find('\n', refused) - after.rfind('\n', refused) - 1);
  EXPECT_NE(line.find("level=error"), std::string::npos) << line;
  EXPECT_NE(line.find(" error.1=\"" + (dir_ / "cluster.toml").string() + ":"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos) << "one line";
  EXPECT_NE(line.find("kept=previous"), std::string::npos) << line;
  EXPECT_EQ(read_file(dir_ / "primary-file.log.1").find("reload"), std::string::npos) << "nothing more goes to the moved file";

  // An applied reload: one line, one field per change that concerns this node — a new queue, not
  // pair-2's seats.
  seats_[1] = 11;
  std::ofstream(dir_ / "cluster.toml") << config_text() << "\n[[queues]]\nid = \"added-queue\"\ntenant = \"101\"\n";
  nodes_[0][0]->signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return read_file(primary_log).find("event=reload applied=true") != std::string::npos; })) << nodes_[0][0]->log();
  const std::string applied = read_file(primary_log);
  const size_t at = applied.find("level=info proc=ixnode pair=pair-1 node=primary role=primary event=reload applied=true changes=1 change.1=\"queues");
  ASSERT_NE(at, std::string::npos) << applied;
  EXPECT_EQ(applied.substr(at, applied.find('\n', at) - at).find("pair-2"), std::string::npos) << applied;
}

// The proxy's log file, like the node's: logrotate moves it and sends SIGUSR1, and the proxy
// writes a new file from then on; every line names the proxy once.
TEST_F(OperabilityTest, ProxyLogLinesCarryTheProxyIdAndTheLogFileIsReopenedOnSigusr1) {
  start_pair(0);
  start_pair(1);
  const std::filesystem::path log_file = dir_ / "proxy-file.log", moved = dir_ / "proxy-file.log.1";
  start_proxy_with({"--log-file", log_file.string()});
  const std::string before = read_file(log_file);
  EXPECT_NE(before.find("level=info proc=ixproxy proxy=proxy-1 event=started port="), std::string::npos) << before;
  std::istringstream lines(before);
  for (std::string line; std::getline(lines, line);) {
    const std::string fields = " proc=ixproxy proxy=proxy-1 ";
    const size_t proxy = line.find(fields);
    EXPECT_NE(proxy, std::string::npos) << line;
    EXPECT_EQ(line.find(" proxy=", proxy + fields.size() - 1), std::string::npos) << "proxy= twice: " << line;
  }
  EXPECT_NE(proxies_[0]->log().find("proxy=proxy-1 event=started"), std::string::npos) << "stderr has it too";

  // logrotate: move the file away, signal; the proxy writes a new one.
  std::filesystem::rename(log_file, moved);
  proxies_[0]->signal(SIGUSR1);
  ASSERT_TRUE(eventually([&] { return read_file(log_file).find("event=log_reopened") != std::string::npos; })) << proxies_[0]->log();
  EXPECT_NE(read_file(log_file).find("level=info proc=ixproxy proxy=proxy-1 event=log_reopened file=\"" + log_file.string() + "\""),
            std::string::npos)
      << read_file(log_file);

  // What happens next goes to the new file only: pair-2's primary is lost and its backup serves.
  nodes_[1][0]->kill(SIGKILL);
  ASSERT_TRUE(eventually([&] { return read_file(log_file).find("event=pair_primary pair=pair-2") != std::string::npos; },
                         std::chrono::seconds(20)))
      << read_file(log_file) << proxies_[0]->log();
  EXPECT_NE(read_file(log_file).find("level=warn proc=ixproxy proxy=proxy-1 event=upstream_lost"), std::string::npos)
      << read_file(log_file);
  const std::string old_file = read_file(moved);
  EXPECT_EQ(old_file.find("event=log_reopened"), std::string::npos) << old_file;
  EXPECT_EQ(old_file.find("event=upstream_lost"), std::string::npos) << "nothing more goes to the moved file:\n" << old_file;
}

// --log-level warn is accepted (as --help spells it) and its lines say level=warn, never
// "warning"; nothing below it is written.
TEST_F(OperabilityTest, WarnIsALogLevelThatTheProcessesAcceptAndWriteAsWarn) {
  start_pair(0);
  start_pair(1);
  const std::filesystem::path log_file = dir_ / "proxy-warn.log";
  start_proxy_with({"--log-level", "warn", "--log-file", log_file.string()});
  nodes_[1][0]->kill(SIGKILL);  // the proxy loses its link to pair-2's primary: a warning
  ASSERT_TRUE(eventually([&] { return read_file(log_file).find("event=upstream_lost") != std::string::npos; },
                         std::chrono::seconds(20)))
      << proxies_[0]->log();
  const std::string text = read_file(log_file);
  EXPECT_NE(text.find("level=warn proc=ixproxy proxy=proxy-1 event=upstream_lost"), std::string::npos) << text;
  EXPECT_EQ(text.find("level=warning"), std::string::npos) << text;
  EXPECT_EQ(text.find("level=info"), std::string::npos) << "below the level:\n" << text;
  EXPECT_EQ(text.find("level=debug"), std::string::npos) << "below the level:\n" << text;

  // The node takes the same level: a request before registration is a warning (and closes the
  // connection); its start-up lines (info) are not written.
  const std::filesystem::path ports_file = dir_ / "pair-2-primary.ports";
  std::filesystem::remove(ports_file);
  nodes_[1][0] = std::make_unique<Process>(
      std::vector<std::string>{IX_IXNODE, "--config", (dir_ / "cluster.toml").string(), "--node", "pair-2", "--role", "primary",
                               "--ports-file", ports_file.string(), "--log-level", "warn"},
      (dir_ / "pair-2-primary-warn.log").string());
  ASSERT_TRUE(nodes_[1][0]->start());
  std::optional<config::BoundPorts> ports = wait_for_ports(*nodes_[1][0], ports_file);
  ASSERT_TRUE(ports) << nodes_[1][0]->log();
  ProtocolClient unregistered(loop_, ports->port);
  (void)unregistered.call(proto::RequestPingT{});  // refused (NotRegistered), and the connection closed
  ASSERT_TRUE(eventually([&] { return nodes_[1][0]->log().find("event=protocol_error") != std::string::npos; }))
      << nodes_[1][0]->log();
  const std::string node_text = nodes_[1][0]->log();
  const size_t at = node_text.find("event=protocol_error");
  const std::string line = node_text.substr(node_text.rfind('\n', at) + 1, node_text.find('\n', at) - node_text.rfind('\n', at) - 1);
  EXPECT_NE(line.find("level=warn proc=ixnode pair=pair-2 node=primary role="), std::string::npos) << line;
  EXPECT_EQ(node_text.find("level=info"), std::string::npos) << "below the level:\n" << node_text;
}

// A fatal stop is an error: a node that cannot load its pair's state once it holds the lease (an
// interaction in the database that does not verify) stops with exit code 1 and says why at
// level=error, which an alert on error lines and systemd's Restart=on-failure both see.
TEST_F(OperabilityTest, ANodeThatStopsFatallyLogsItAtLevelError) {
  start_node(0, 0);  // creates pair-1's database
  ASSERT_TRUE(node_client(0, proto::ClientType::MediaServer)) << "pair-1's primary did not serve";
  ASSERT_EQ(nodes_[0][0]->kill(SIGTERM), 0) << nodes_[0][0]->log();  // releases the lease
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "data" / "pair-1.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, "INSERT INTO interactions (id, tenant, state, data) VALUES ('p1-corrupt', '101', 0, x'00010203')",
                                nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  const std::filesystem::path log_file = dir_ / "fatal-file.log";
  nodes_[0][0] = std::make_unique<Process>(
      std::vector<std::string>{IX_IXNODE, "--config", (dir_ / "cluster.toml").string(), "--node", "pair-1", "--role", "primary",
                               "--log-file", log_file.string()},
      (dir_ / "pair-1-primary-again.log").string());
  ASSERT_TRUE(nodes_[0][0]->start());
  EXPECT_EQ(nodes_[0][0]->wait_for_exit(std::chrono::seconds(20)), 1) << nodes_[0][0]->log();
  const std::string text = read_file(log_file);
  const size_t at = text.find("event=stopping reason=\"cannot become primary: interaction p1-corrupt in the database is corrupt\"");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string line = text.substr(text.rfind('\n', at) + 1, text.find('\n', at) - text.rfind('\n', at) - 1);
  EXPECT_NE(line.find("level=error proc=ixnode pair=pair-1 node=primary role="), std::string::npos) << line;
  EXPECT_EQ(text.find("level=info proc=ixnode pair=pair-1 node=primary role=primary event=primary"), std::string::npos)
      << "it never served:\n" << text;
}

}  // namespace
}  // namespace ix::test
