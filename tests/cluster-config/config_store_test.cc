#include "cluster-config/config_store.h"
#include "cluster-config/reload_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/cluster-config/test_files.h"

namespace ix::config {
namespace {

std::string cluster_file(const std::string& delivering_timeout, const std::string& tag, bool second_pair = false) {
  std::string text = "[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n" +
                     test::node_pair_toml("pair-1", "tag = \"" + tag + "\"", 7101) +
                     "[node-pairs.settings]\ndelivering-timeout = \"" + delivering_timeout + "\"\n";
  if (second_pair) text += test::node_pair_toml("pair-2", "tag = \"p2\"", 7201);
  return text;
}

class ConfigStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ix-config-" + std::to_string(::getpid()) + "-" +
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "cluster.toml").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(path_) << text; }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(ConfigStoreTest, ValidReloadSwapsTheSnapshot) {
  write(cluster_file("30s", "p1"));
  std::unique_ptr<ConfigStore> store;
  ASSERT_TRUE(ConfigStore::open(path_, store).ok());
  std::shared_ptr<const ClusterConfig> before = store->current();

  write(cluster_file("45s", "p1"));
  ReloadReport report = store->reload();
  ASSERT_TRUE(report.applied) << report.to_string();
  EXPECT_EQ(store->current()->node_pairs[0].settings.delivering_timeout, std::chrono::seconds(45));
  EXPECT_EQ(before->node_pairs[0].settings.delivering_timeout, std::chrono::seconds(30))
      << "a snapshot already handed out never changes";
  ASSERT_EQ(report.changes.size(), 1u) << report.to_string();
  EXPECT_EQ(report.changes[0].key_path, "node-pairs[pair-1].settings.delivering-timeout");
  EXPECT_EQ(report.changes[0].old_value, "30s");
  EXPECT_EQ(report.changes[0].new_value, "45s");
  EXPECT_FALSE(report.changes[0].needs_restart);
  EXPECT_TRUE(report.restart_needed().empty());
}

TEST_F(ConfigStoreTest, InvalidReloadKeepsTheOldSnapshotAndSaysWhy) {
  write(cluster_file("30s", "p1"));
  std::unique_ptr<ConfigStore> store;
  ASSERT_TRUE(ConfigStore::open(path_, store).ok());
  std::shared_ptr<const ClusterConfig> before = store->current();

  write(cluster_file("-5s", "p1"));
  ReloadReport report = store->reload();
  EXPECT_FALSE(report.applied);
  EXPECT_EQ(store->current(), before);
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].key_path, "node-pairs[pair-1].settings.delivering-timeout");
  EXPECT_NE(report.to_string().find("keeping the previous one"), std::string::npos);

  std::filesystem::remove(path_);
  report = store->reload();
  EXPECT_FALSE(report.applied);
  EXPECT_EQ(store->current(), before);
}

TEST_F(ConfigStoreTest, ReportsWhichChangesNeedARestart) {
  write(cluster_file("30s", "p1"));
  std::unique_ptr<ConfigStore> store;
  ASSERT_TRUE(ConfigStore::open(path_, store).ok());

  write(cluster_file("20s", "p9", true));
  ReloadReport report = store->reload();
  ASSERT_TRUE(report.applied) << report.to_string();
  EXPECT_EQ(report.restart_needed(), std::vector<std::string>{"node-pairs[pair-1].tag"}) << report.to_string();
  bool pair_added = false;
  for (const ConfigChange& c : report.changes) {
    if (c.key_path == "node-pairs[pair-2]") {
      pair_added = true;
      EXPECT_EQ(c.new_value, "defined");
      EXPECT_FALSE(c.needs_restart) << "proxies start routing to a new pair on reload";
    }
    EXPECT_EQ(c.key_path.find("node-pairs[pair-2]."), std::string::npos) << "an added entry is reported once";
  }
  EXPECT_TRUE(pair_added) << report.to_string();
  EXPECT_NE(report.to_string().find("node-pairs[pair-1].tag: p1 -> p9  [takes effect after restart]"), std::string::npos)
      << report.to_string();
}

TEST_F(ConfigStoreTest, UnchangedFileReportsNothing) {
  write(cluster_file("30s", "p1"));
  std::unique_ptr<ConfigStore> store;
  ASSERT_TRUE(ConfigStore::open(path_, store).ok());
  ReloadReport report = store->reload();
  EXPECT_TRUE(report.applied);
  EXPECT_TRUE(report.changes.empty()) << report.to_string();
}

// Proxy authentication is read at start (docs/operations.md, "Proxy authentication"): a reload
// that changes where the secret or a link certificate is says the change waits for a restart.
TEST_F(ConfigStoreTest, ProxySecretAndLinkCertificateChangesNeedARestart) {
  auto file = [](const std::string& secret_file, const std::string& link_cert) {
    return cluster_file("30s", "p1") +
           "[[proxy-clusters]]\nid = \"d\"\n[[proxies]]\nid = \"proxy-1\"\ncluster = \"d\"\nhost = \"127.0.0.1\"\n"
           "port = 7001\nadmin-port = 9001\n[proxies.link-tls]\ncert-file = \"" + link_cert + "\"\nkey-file = \"link.key\"\n"
           "[proxy-auth]\nsecret-file = \"" + secret_file + "\"\n";
  };
  write(file("old.secret", "link.pem"));
  std::unique_ptr<ConfigStore> store;
  ASSERT_TRUE(ConfigStore::open(path_, store).ok());
  write(file("new.secret", "new-link.pem"));
  ReloadReport report = store->reload();
  ASSERT_TRUE(report.applied) << report.to_string();
  EXPECT_EQ(report.restart_needed(),
            (std::vector<std::string>{"proxies[proxy-1].link-tls.cert-file", "proxy-auth.secret-file"}))
      << report.to_string();
}

// A file that loads but that the process cannot apply (a proxy's worker, a node's views): the
// previous snapshot is current again, and the report says why instead of what changed.
TEST_F(ConfigStoreTest, AReloadTheProcessRefusesRestoresThePreviousSnapshot) {
  write(cluster_file("30s", "p1"));
  std::unique_ptr<ConfigStore> store;
  ASSERT_TRUE(ConfigStore::open(path_, store).ok());
  std::shared_ptr<const ClusterConfig> before = store->current();
  write(cluster_file("45s", "p1"));
  ReloadReport report = store->reload();
  ASSERT_TRUE(report.applied);
  store->refuse(report, before, {"worker 1 did not answer within 2 s"});
  EXPECT_FALSE(report.applied);
  EXPECT_TRUE(report.changes.empty());
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].to_string(), path_ + ": worker 1 did not answer within 2 s");
  EXPECT_EQ(store->current(), before);
  // The next reload is compared with what runs.
  ReloadReport again = store->reload();
  ASSERT_EQ(again.changes.size(), 1u) << again.to_string();
  EXPECT_EQ(again.changes[0].old_value, "30s");
}

// The reload line of a process lists only the changes that concern it.
TEST(ReloadLog, AChangeConcernsTheProcessesThatReadIt) {
  using P = ReloadingProcess;
  EXPECT_TRUE(change_concerns("node-pairs[pair-1].settings.delivering-timeout", P::Node, "pair-1"));
  EXPECT_FALSE(change_concerns("node-pairs[pair-2].settings.delivering-timeout", P::Node, "pair-1"));
  EXPECT_TRUE(change_concerns("node-pairs[pair-2].settings.delivering-timeout", P::Proxy, "proxy-1")) << "a proxy routes to every pair";
  EXPECT_TRUE(change_concerns("proxies[proxy-1].settings.request-timeout", P::Proxy, "proxy-1"));
  EXPECT_FALSE(change_concerns("proxies[proxy-2].settings.request-timeout", P::Proxy, "proxy-1"));
  EXPECT_FALSE(change_concerns("proxies[proxy-1].settings.request-timeout", P::Node, "pair-1"));
  EXPECT_FALSE(change_concerns("pacing.http-timeout", P::Node, "pair-1")) << "pacing runs in the proxies";
  EXPECT_FALSE(change_concerns("pacing.endpoint.base-urls", P::Node, "pair-1"));
  EXPECT_TRUE(change_concerns("pacing.endpoint.base-urls", P::Proxy, "proxy-1"));
  EXPECT_FALSE(change_concerns("proxy-clusters[desktops]", P::Node, "pair-1"));
  EXPECT_TRUE(change_concerns("queues[inbound]", P::Node, "pair-1"));
  EXPECT_TRUE(change_concerns("queues[inbound]", P::Proxy, "proxy-1"));
}

}  // namespace
}  // namespace ix::config
