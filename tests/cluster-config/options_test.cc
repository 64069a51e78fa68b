#include "cluster-config/options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cluster-config/loader.h"

namespace ix::config {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(ConfigOptions, ReferenceDocumentMatchesTheOptionTable) {
  EXPECT_TRUE(read(IX_SOURCE_DIR "/docs/configuration.md") == reference_markdown())
      << "docs/configuration.md is stale: regenerate it with `build/tools/ixctl config reference > docs/configuration.md`";
}

TEST(ConfigOptions, EveryDefaultIsValidForItsOwnOption) {
  for (const OptionSpec& o : option_specs()) {
    SCOPED_TRACE(std::string(o.section) + "." + std::string(o.key));
    EXPECT_NE(find_section(o.section), nullptr) << "option in an undeclared section";
    if (o.required) {
      EXPECT_TRUE(o.default_value.empty()) << "a required option has no default";
      continue;
    }
    if (o.default_value.empty()) continue;
    const bool ranged = o.min != 0 || o.max != 0;
    if (o.type == ValueType::kDuration) {
      auto ms = parse_duration_ms(o.default_value);
      ASSERT_TRUE(ms.has_value());
      if (ranged) {
        EXPECT_TRUE(*ms >= o.min && *ms <= o.max);
      }
    } else if (o.type == ValueType::kInt || o.type == ValueType::kFloat) {
      double v = std::stod(std::string(o.default_value));
      if (ranged) {
        EXPECT_TRUE(v >= o.min && v <= o.max);
      }
    } else if (o.type == ValueType::kEnum) {
      EXPECT_NE(std::find(o.choices.begin(), o.choices.end(), o.default_value), o.choices.end());
    }
  }
}

TEST(ConfigOptions, DurationParsing) {
  EXPECT_EQ(parse_duration_ms("250ms"), 250);
  EXPECT_EQ(parse_duration_ms("30s"), 30'000);
  EXPECT_EQ(parse_duration_ms("3m"), 180'000);
  EXPECT_EQ(parse_duration_ms("3min"), 180'000);
  EXPECT_EQ(parse_duration_ms("2h"), 7'200'000);
  EXPECT_EQ(parse_duration_ms("1d"), 86'400'000);
  EXPECT_EQ(parse_duration_ms("30"), std::nullopt) << "a string needs a unit";
  EXPECT_EQ(parse_duration_ms("-1s"), std::nullopt);
  EXPECT_EQ(parse_duration_ms("s"), std::nullopt);
  EXPECT_EQ(parse_duration_ms("99999999999999999999s"), std::nullopt);
}

TEST(ConfigExamples, EveryExampleValidates) {
  for (const char* name : {"local-cluster.toml", "large-cluster.toml"}) {
    LoadResult result = load_config_file(std::string(IX_SOURCE_DIR "/examples/") + name);
    EXPECT_TRUE(result.ok()) << name << ":\n" << result.error_text();
  }
}

TEST(ConfigExamples, LocalClusterIsTwoPairsAndTwoProxiesOnLoopbackWithPacing) {
  LoadResult result = load_config_file(IX_SOURCE_DIR "/examples/local-cluster.toml");
  ASSERT_TRUE(result.ok()) << result.error_text();
  const ClusterConfig& c = *result.config;
  EXPECT_EQ(c.node_pairs.size(), 2u);
  EXPECT_EQ(c.proxies.size(), 2u);
  for (const NodePair& p : c.node_pairs) {
    EXPECT_EQ(p.primary.host, "127.0.0.1");
    EXPECT_FALSE(p.storage.sqlite_path.empty());
  }
  ASSERT_TRUE(c.pacing.has_value());
  EXPECT_EQ(c.pacing->base_urls[0].rfind("https://127.0.0.1:", 0), 0u);
  EXPECT_EQ(c.pacing_targets.size(), 1u);
}

// ixctl config check: 0 valid, 1 invalid, 2 unreadable.
int ixctl_check(const std::string& file) {
  std::string command = std::string(IX_IXCTL) + " config check " + file + " > /dev/null 2>&1";
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(IxctlConfigCheck, ExitCodesSayValidInvalidUnreadable) {
  EXPECT_EQ(ixctl_check(IX_SOURCE_DIR "/examples/local-cluster.toml"), 0);
  char path[] = "/tmp/ix-bad-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << "[[tenants]]\nid = 1\n";
  EXPECT_EQ(ixctl_check(path), 1);
  std::remove(path);
  EXPECT_EQ(ixctl_check("/nonexistent/cluster.toml"), 2);
}

// A prior the pacer cannot work with is refused by `ixctl config check`, which names the file,
// the line, the key and the allowed range.
TEST(IxctlConfigCheck, RefusesPacingPriorsOutOfRange) {
  char path[] = "/tmp/ix-priors-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path) << read(IX_SOURCE_DIR "/examples/local-cluster.toml") << "\n[pacing.priors]\nacceptance = 1.2\n";
  const std::string command = std::string(IX_IXCTL) + " config check " + path + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  std::remove(path);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1) << output;
  EXPECT_NE(output.find(std::string(path) + ":"), std::string::npos) << output;
  EXPECT_NE(output.find("pacing.priors.acceptance: 1.2 is out of range; expected a share from 0.01 to 1"), std::string::npos)
      << output;
}

// The configuration of issue 18: a pair that requires client certificates and a proxy whose
// own client port has no TLS. The proxy could never connect, and `ixctl config check` says so,
// naming the proxy, the pair and the keys to set; with a link certificate the file is valid.
TEST(IxctlConfigCheck, RefusesAPairAProxyCouldNeverReachNamingBothAndTheKeys) {
  char path[] = "/tmp/ix-unreachable-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const std::string file = std::string("[[tenants]]\nid = \"101\"\n[[media-types]]\nname = \"chat\"\n"
                                       "[[node-pairs]]\nid = \"pair-1\"\ntag = \"p1\"\ntenants = [\"101\"]\n"
                                       "[node-pairs.primary]\nhost = \"127.0.0.1\"\nport = 7101\nadmin-port = 9101\n"
                                       "[node-pairs.backup]\nhost = \"127.0.0.1\"\nport = 7102\nadmin-port = 9102\n"
                                       "[node-pairs.storage]\nsqlite-path = \"p1.db\"\n"
                                       "[node-pairs.tls]\nenabled = true\ncert-file = \"node.pem\"\nkey-file = \"node.key\"\n"
                                       "ca-file = \"ca.pem\"\nrequire-client-cert = true\n"
                                       "[[proxy-clusters]]\nid = \"desktops\"\n"
                                       "[[proxies]]\nid = \"proxy-1\"\ncluster = \"desktops\"\nhost = \"127.0.0.1\"\nport = 7001\n"
                                       "admin-port = 9001\n");
  std::ofstream(path) << file;
  const std::string command = std::string(IX_IXCTL) + " config check " + path + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1) << output;
  EXPECT_NE(output.find(std::string(path) + ":27: proxies[proxy-1].link-tls: proxy \"proxy-1\" cannot connect to node pair "
                        "\"pair-1\": the pair requires client certificates (node-pairs[pair-1].tls.require-client-cert) "
                        "and the proxy has no link certificate; set cert-file and key-file in [proxies.link-tls]"),
            std::string::npos)
      << output;

  std::ofstream(path) << file << "[proxies.link-tls]\ncert-file = \"proxy-1-link.pem\"\nkey-file = \"proxy-1-link.key\"\n";
  EXPECT_EQ(ixctl_check(path), 0);
  std::remove(path);
}

}  // namespace
}  // namespace ix::config
