// One rule per test: each feeds a file with one mistake and asserts that the error names the
// line (marked "# <-" in the text), the key path, and what was expected.
#include "cluster-config/loader.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/cluster-config/test_files.h"

namespace ix::config {
namespace {

const std::string kBase = R"(
[[tenants]]
id = "101"

[[tenants]]
id = "202"

[[media-types]]
name = "chat"

[[media-types]]
name = "email"
)" + test::node_pair_toml("pair-1", "tag = \"p1\"", 7101, "[\"101\"]", "data/p1.db");

// Nodes accept proxies only when they authenticate; without TLS, with the [proxy-auth] secret.
const std::string kProxy = R"(
[proxy-auth]
secret-env = "IX_PROXY_SECRET"

[[proxy-clusters]]
id = "desktops"

[[proxies]]
id = "proxy-1"
cluster = "desktops"
host = "127.0.0.1"
port = 7001
admin-port = 9001
)";

LoadResult load(const std::string& text) { return load_config_text(text, "test.toml", "/etc/ix"); }

int marked_line(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find("# <-") != std::string::npos) return n;
  }
  return -1;
}

// Asserts that loading `text` fails with an error on the marked line, for key_path, whose
// message contains `says`.
void expect_error(const std::string& text, const std::string& key_path, const std::string& says) {
  LoadResult result = load(text);
  ASSERT_FALSE(result.ok()) << "the file should have been refused";
  const int line = marked_line(text);
  for (const ConfigIssue& issue : result.errors) {
    if (issue.key_path == key_path && issue.message.find(says) != std::string::npos) {
      EXPECT_EQ(issue.file, "test.toml");
      EXPECT_EQ(issue.line, line) << issue.to_string();
      EXPECT_EQ(issue.to_string().rfind("test.toml:" + std::to_string(line) + ": " + key_path + ": ", 0), 0u)
          << issue.to_string();
      return;
    }
  }
  ADD_FAILURE() << "no error for " << key_path << " saying \"" << says << "\"; got:\n" << result.error_text();
}

TEST(ConfigLoader, MinimalFileGetsEveryDefault) {
  LoadResult result = load(kBase + kProxy);
  ASSERT_TRUE(result.ok()) << result.error_text();
  const ClusterConfig& c = *result.config;
  EXPECT_EQ(c.name, "ixcluster");
  ASSERT_EQ(c.node_pairs.size(), 1u);
  const NodePair& p = c.node_pairs[0];
  EXPECT_EQ(p.settings.delivering_timeout, std::chrono::seconds(30));
  EXPECT_EQ(p.settings.handling_timeout, std::chrono::minutes(180));
  EXPECT_EQ(p.settings.max_interactions_per_snapshot, 500u);
  EXPECT_EQ(p.settings.pull_hold_timeout, std::chrono::seconds(10));
  EXPECT_EQ(p.settings.allow_multiple_agent_connections, MultipleAgentConnections::kDeny);
  EXPECT_EQ(p.settings.max_frame_size, 4u * 1024 * 1024);
  EXPECT_TRUE(p.enable_submit);
  EXPECT_TRUE(p.media_types.empty());
  EXPECT_TRUE(p.serves_media("anything")) << "an empty media list serves every media type";
  EXPECT_EQ(p.agent_seats, 1000u);
  EXPECT_EQ(p.storage.sqlite_path, "/etc/ix/data/p1.db") << "relative paths resolve against the file's folder";
  EXPECT_FALSE(p.tls.enabled);
  ASSERT_EQ(c.proxies.size(), 1u);
  const ProxySettings& s = c.proxies[0].settings;
  EXPECT_EQ(s.pull_hold_timeout, std::chrono::seconds(10));
  EXPECT_EQ(s.interaction_cache_size, 10'000u);
  EXPECT_EQ(s.request_timeout, std::chrono::seconds(10));
  EXPECT_FALSE(s.mark_internal_requests);
  EXPECT_EQ(s.workers, 1u);
  EXPECT_TRUE(c.media_types[0].enabled);
  EXPECT_EQ(c.proxy_clusters[0].proxies, std::vector<std::string>{"proxy-1"});
  EXPECT_FALSE(c.pacing.has_value());
  EXPECT_EQ(c.values.at("node-pairs[pair-1].settings.delivering-timeout"), "30s");
}

TEST(ConfigLoader, DurationsAcceptUnitsAndWholeSeconds) {
  LoadResult result = load(kBase + R"(
[node-pairs.settings]
delivering-timeout = 45
handling-timeout = "2h"
pull-hold-timeout = "1500ms"
allow-multiple-agent-connections = "force-logout"
)");
  ASSERT_TRUE(result.ok()) << result.error_text();
  const NodeSettings& s = result.config->node_pairs[0].settings;
  EXPECT_EQ(s.delivering_timeout, std::chrono::seconds(45));
  EXPECT_EQ(s.handling_timeout, std::chrono::hours(2));
  EXPECT_EQ(s.pull_hold_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(s.allow_multiple_agent_connections, MultipleAgentConnections::kForceLogout);
}

TEST(ConfigLoader, MalformedTomlNamesTheLine) {
  std::string text = kBase + "\n[[queues]]\nid = \"q1\"\ntenant = \"101\"\nbroken = [1, 2  # <-\n";
  LoadResult result = load(text);
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_NE(result.errors[0].message.find("TOML syntax error"), std::string::npos);
  EXPECT_GE(result.errors[0].line, marked_line(text));
}

TEST(ConfigLoader, WrongType) {
  expect_error(kBase + R"(
[[queues]]
id = "q1"
tenant = 101   # <-
)", "queues[q1].tenant", "expected a string, found an integer");
}

TEST(ConfigLoader, PortOutOfRange) {
  expect_error(kBase + kProxy + R"(
[[proxies]]
id = "proxy-2"
cluster = "desktops"
host = "127.0.0.1"
port = 70000   # <-
admin-port = 9002
)", "proxies[proxy-2].port", "70000 is out of range; expected an integer from 0 to 65535");
}

// Port 0 asks the OS for a port at start: several endpoints may say so without being duplicates.
TEST(ConfigLoader, PortZeroIsChosenByTheOperatingSystemAndNeverADuplicate) {
  std::string text = kBase + kProxy + test::node_pair_toml("pair-2", "tag = \"p2\"", 7201);
  for (const char* key : {"port = 7201", "admin-port = 9201", "port = 7202", "admin-port = 9202"}) {
    const size_t at = text.find(std::string("\n") + key, text.find("pair-2"));
    ASSERT_NE(at, std::string::npos) << key;
    text.replace(at + 1, std::string(key).size(), std::string(key).substr(0, std::string(key).find('=')) + "= 0");
  }
  LoadResult result = load(text);
  ASSERT_TRUE(result.ok()) << result.error_text();
  const NodePair* pair = result.config->node_pair("pair-2");
  EXPECT_EQ(pair->primary.port, 0);
  EXPECT_EQ(pair->primary.admin_port, 0);
  EXPECT_EQ(pair->backup.port, 0);
  EXPECT_EQ(pair->backup.admin_port, 0);
  EXPECT_EQ(result.config->node_pair("pair-1")->primary.port, 7101);
}

TEST(ConfigLoader, DurationOutOfRange) {
  expect_error(kBase + R"(
[node-pairs.settings]
delivering-timeout = "0s"   # <-
)", "node-pairs[pair-1].settings.delivering-timeout", "\"0s\" is out of range; expected a duration");
}

TEST(ConfigLoader, PullHoldTimeoutRangeIsOneToSixHundredSeconds) {
  expect_error(kBase + kProxy + R"(
[proxies.settings]
pull-hold-timeout = "601s"   # <-
)", "proxies[proxy-1].settings.pull-hold-timeout", "from 1s to 10m");
}

TEST(ConfigLoader, InteractionCacheSizeRange) {
  expect_error(kBase + kProxy + R"(
[proxies.settings]
interaction-cache-size = 99   # <-
)", "proxies[proxy-1].settings.interaction-cache-size", "from 100 to 10000000");
}

TEST(ConfigLoader, MalformedDuration) {
  expect_error(kBase + R"(
[node-pairs.settings]
handling-timeout = "3 hours"   # <-
)", "node-pairs[pair-1].settings.handling-timeout", "\"3 hours\" is not a duration");
}

TEST(ConfigLoader, EnumValueNotAllowed) {
  expect_error(kBase + R"(
[node-pairs.settings]
allow-multiple-agent-connections = "maybe"   # <-
)", "node-pairs[pair-1].settings.allow-multiple-agent-connections", "expected one of true, false, force-logout");
}

TEST(ConfigLoader, UnknownKeyWithASuggestion) {
  expect_error(kBase + R"(
[node-pairs.settings]
delivering-timout = "10s"   # <-
)", "node-pairs[pair-1].settings.delivering-timout", "unknown key; did you mean \"delivering-timeout\"?");
}

TEST(ConfigLoader, UnknownSectionListsWhatIsAllowed) {
  expect_error(kBase + R"(
[routing]   # <-
strategy = "x"
)", "routing", "unknown key; expected one of: name, tenants, media-types, node-pairs");
}

TEST(ConfigLoader, SecretsAreRefused) {
  expect_error(kBase + R"(
[pacing]
tenant = "101"
credentials-env = "X"
client-secret = "hunter2"   # <-
[pacing.endpoint]
base-urls = ["https://e.example/api/"]
)", "pacing.client-secret", "secrets do not belong in the configuration file");
}

TEST(ConfigLoader, PasswordInAPostgresqlConnectionString) {
  std::string text = kBase;
  text.replace(text.find("sqlite-path = \"data/p1.db\""), 26,
               "postgresql = \"host=db user=ix password=hunter2\"   # <-");
  expect_error(text, "node-pairs[pair-1].storage.postgresql", "secrets do not belong");
}

TEST(ConfigLoader, StorageNeedsExactlyOneBackend) {
  std::string text = kBase;
  text.replace(text.find("sqlite-path = \"data/p1.db\""), 26, "sqlite-path = \"a.db\"\npostgresql = \"host=db\"");
  text.replace(text.find("[node-pairs.storage]"), 20, "[node-pairs.storage]   # <-");
  expect_error(text, "node-pairs[pair-1].storage", "set exactly one of sqlite-path and postgresql");
}

TEST(ConfigLoader, DuplicateNodePairId) {
  std::string text = kBase + test::node_pair_toml("pair-1", "tag = \"p2\"", 7301);
  text.replace(text.rfind("[[node-pairs]]"), 14, "[[node-pairs]]   # <-");
  expect_error(text, "node-pairs[pair-1].id", "duplicate \"pair-1\"; it is already defined on line 14");
}

TEST(ConfigLoader, DuplicateTenant) {
  expect_error(kBase + R"(
[[tenants]]   # <-
id = "202"
)", "tenants[202].id", "duplicate \"202\"");
}

std::string second_pair(const std::string& tag_line) {
  return test::node_pair_toml("pair-2", tag_line, 7201, "[\"202\"]");
}

TEST(ConfigLoader, DuplicateTag) {
  expect_error(kBase + second_pair("tag = \"p1\"   # <-"), "node-pairs[pair-2].tag",
               "tag \"p1\" is already used by node pair \"pair-1\"");
}

TEST(ConfigLoader, InvalidTag) {
  expect_error(kBase + second_pair("tag = \"Pair_2!\"   # <-"), "node-pairs[pair-2].tag",
               "expected 1 to 8 characters of a-z and 0-9");
}

TEST(ConfigLoader, DuplicatePort) {
  std::string text = kBase + test::node_pair_toml("pair-2", "tag = \"p2\"", 7101);
  text.replace(text.find("port = 7101", text.find("pair-2")), 11, "port = 7101   # <-");
  expect_error(text, "node-pairs[pair-2].primary.port",
               "port 7101 on 127.0.0.1 is already used by node-pairs[pair-1].primary.port");
}

TEST(ConfigLoader, MissingRequiredKeyNamesTheTable) {
  std::string text = kBase;
  text.replace(text.find("tag = \"p1\"\n"), 11, "");
  text.replace(text.find("[[node-pairs]]"), 14, "[[node-pairs]]   # <-");
  expect_error(text, "node-pairs[pair-1].tag", "missing required key");
}

TEST(ConfigLoader, MissingRequiredSection) {
  LoadResult result = load("[[tenants]]\nid = \"1\"\n[[media-types]]\nname = \"chat\"\n");
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u) << result.error_text();
  EXPECT_EQ(result.errors[0].key_path, "node-pairs");
  EXPECT_NE(result.errors[0].message.find("at least one [[node-pairs]] entry is required"), std::string::npos);
}

TEST(ConfigLoader, NodePairNamesAnUnknownMediaType) {
  std::string text = kBase;
  text.replace(text.find("tenants = [\"101\"]"), 17, "tenants = [\"101\"]\nmedia-types = [\"fax\"]   # <-");
  expect_error(text, "node-pairs[pair-1].media-types", "media type \"fax\" is not defined in [[media-types]]");
}

TEST(ConfigLoader, NodePairNamesAnUnknownTenant) {
  std::string text = kBase;
  text.replace(text.find("tenants = [\"101\"]"), 17, "tenants = [\"101\", \"999\"]   # <-");
  expect_error(text, "node-pairs[pair-1].tenants", "tenant \"999\" is not defined");
}

TEST(ConfigLoader, ViewNamesAMissingQueue) {
  expect_error(kBase + R"(
[[queues]]
id = "q1"
tenant = "101"
[[views]]
id = "v1"
tenant = "101"
queues = ["q1", "nope"]   # <-
)", "views[v1].queues", "queue \"nope\" is not defined");
}

TEST(ConfigLoader, ViewNamesAQueueOfAnotherTenant) {
  expect_error(kBase + R"(
[[queues]]
id = "q2"
tenant = "202"
[[views]]
id = "v1"
tenant = "101"
queues = ["q2"]   # <-
)", "views[v1].queues", "queue \"q2\" belongs to tenant \"202\", not \"101\"");
}

TEST(ConfigLoader, ProxyNamesAnUnknownCluster) {
  std::string text = kBase + kProxy;
  text.replace(text.find("cluster = \"desktops\""), 20, "cluster = \"nowhere\"   # <-");
  expect_error(text, "proxies[proxy-1].cluster", "proxy cluster \"nowhere\" is not defined");
}

TEST(ConfigLoader, AgentGroupNamesUnknownAgentsAndVirtualQueues) {
  std::string text = kBase + R"(
[[agent-groups]]
id = "g1"
tenant = "101"
agents = ["ghost"]   # <-
)";
  expect_error(text, "agent-groups[g1].agents", "agent \"ghost\" is not defined");
  expect_error(kBase + R"(
[[agent-groups]]
id = "g1"
tenant = "101"
origination-dns = ["Nowhere VQ"]   # <-
)", "agent-groups[g1].origination-dns", "virtual queue \"Nowhere VQ\" is not defined");
}

TEST(ConfigLoader, AgentPlaceOfAnotherTenant) {
  expect_error(kBase + R"(
[[places]]
id = "pl"
tenant = "202"
[[agents]]
id = "a1"
tenant = "101"
place = "pl"   # <-
)", "agents[a1].place", "place \"pl\" belongs to tenant \"202\"");
}

TEST(ConfigLoader, PacingMediaMustBeOneMediaTypeNotAList) {
  expect_error(kBase + R"(
[[virtual-queues]]
id = "Proactive Chat"
tenant = "101"
[virtual-queues.pacing]
media = ["chat", "email"]   # <-
)", "virtual-queues[Proactive Chat].pacing.media",
               "expected the name of one media type (a list is not allowed), found a list");
}

TEST(ConfigLoader, PacingMediaMustBeKnown) {
  expect_error(kBase + R"(
[[virtual-queues]]
id = "Proactive Fax"
tenant = "101"
[virtual-queues.pacing]
media = "fax"   # <-
)", "virtual-queues[Proactive Fax].pacing.media", "media type \"fax\" is not defined");
}

TEST(ConfigLoader, OptimizationGoalRange) {
  expect_error(kBase + R"(
[[virtual-queues]]
id = "Proactive Chat"
tenant = "101"
[virtual-queues.pacing]
media = "chat"
optimizationGoal = 100.5   # <-
)", "virtual-queues[Proactive Chat].pacing.optimizationGoal", "100.5 is out of range; expected a number from 0 to 100");
}

TEST(ConfigLoader, PacingCredentialsExactlyOneSource) {
  expect_error(kBase + R"(
[pacing]   # <-
tenant = "101"
auth-url = "https://e.example/oauth/token"
[pacing.endpoint]
base-urls = ["https://e.example/api/"]
)", "pacing", "set exactly one of credentials-file and credentials-env");
}

TEST(ConfigLoader, PacingBaseUrlMustBeHttp) {
  expect_error(kBase + R"(
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
auth-url = "https://e.example/oauth/token"
[pacing.endpoint]
base-urls = ["ftp://e.example/"]   # <-
)", "pacing.endpoint.base-urls", "\"ftp://e.example/\" is not an http:// or https:// URL");
}

const std::string kPacingService = R"(
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
auth-url = "https://e.example/oauth/token"
[pacing.endpoint]
base-urls = ["https://e.example/api/"]
)";

TEST(ConfigLoader, PacingPriorsAreReadWithTheirDefaults) {
  LoadResult defaults = load(kBase + kPacingService);
  ASSERT_TRUE(defaults.ok()) << defaults.error_text();
  const PacingPriorSettings& d = defaults.config->pacing->priors;
  EXPECT_DOUBLE_EQ(d.acceptance, 0.2);
  EXPECT_DOUBLE_EQ(d.acceptance_weight, 50);
  EXPECT_EQ(d.answer_delay, std::chrono::seconds(10));
  EXPECT_EQ(d.handle_time, std::chrono::minutes(3));
  EXPECT_DOUBLE_EQ(d.handle_time_weight, 10);
  EXPECT_EQ(d.patience, std::chrono::seconds(60));
  EXPECT_DOUBLE_EQ(d.patience_weight, 3);

  LoadResult set = load(kBase + kPacingService + "[pacing.priors]\nacceptance = 0.35\nhandle-time = \"4m\"\npatience = 90\n"
                                          "answer-delay = \"2500ms\"\npatience-weight = 6\n");
  ASSERT_TRUE(set.ok()) << set.error_text();
  const PacingPriorSettings& p = set.config->pacing->priors;
  EXPECT_DOUBLE_EQ(p.acceptance, 0.35);
  EXPECT_EQ(p.handle_time, std::chrono::minutes(4));
  EXPECT_EQ(p.patience, std::chrono::seconds(90));
  EXPECT_EQ(p.answer_delay, std::chrono::milliseconds(2500));
  EXPECT_DOUBLE_EQ(p.patience_weight, 6);
  EXPECT_DOUBLE_EQ(p.acceptance_weight, 50) << "unset: the default";
}

TEST(ConfigLoader, PacingPriorsOutOfRangeAreRefused) {
  expect_error(kBase + kPacingService + "[pacing.priors]\nacceptance = 0   # <-\n", "pacing.priors.acceptance",
               "0 is out of range; expected a share from 0.01 to 1");
  expect_error(kBase + kPacingService + "[pacing.priors]\nacceptance = 1.5   # <-\n", "pacing.priors.acceptance",
               "1.5 is out of range; expected a share from 0.01 to 1");
  expect_error(kBase + kPacingService + "[pacing.priors]\nhandle-time = \"-30s\"   # <-\n", "pacing.priors.handle-time",
               "\"-30s\" is not a duration");
  expect_error(kBase + kPacingService + "[pacing.priors]\npatience = \"0s\"   # <-\n", "pacing.priors.patience",
               "\"0s\" is out of range");
  expect_error(kBase + kPacingService + "[pacing.priors]\nacceptance-weight = 0   # <-\n", "pacing.priors.acceptance-weight",
               "0 is out of range; expected a number from 0.01 to 1000000");
}

TEST(ConfigLoader, TlsNeedsACertificate) {
  expect_error(kBase + R"(
[node-pairs.tls]
enabled = true   # <-
)", "node-pairs[pair-1].tls.enabled", "TLS needs cert-file and key-file");
}

TEST(ConfigLoader, ArraySectionWrittenAsAValue) {
  std::string text = kBase;
  text.replace(text.find("[[tenants]]\nid = \"202\""), 22, "");
  text.replace(text.find("[[tenants]]\nid = \"101\""), 22, "tenants = \"101\"   # <-");
  expect_error(text, "tenants", "expected [[tenants]] entries, found a string");
}

TEST(ConfigLoader, TableSectionWrittenAsAValue) {
  std::string text = kBase;
  text.replace(text.find("[node-pairs.storage]\nsqlite-path = \"data/p1.db\""), 47, "");
  text.replace(text.find("tenants = [\"101\"]"), 17, "tenants = [\"101\"]\nstorage = \"sqlite\"   # <-");
  expect_error(text, "node-pairs[pair-1].storage", "expected a [node-pairs.storage] table, found a string");
}

TEST(ConfigLoader, RequiringClientCertificatesNeedsACa) {
  expect_error(kBase + R"(
[node-pairs.tls]
enabled = true
cert-file = "node.pem"
key-file = "node.key"
require-client-cert = true   # <-
)", "node-pairs[pair-1].tls.require-client-cert", "needs ca-file");
}

// Proxy authentication (docs/operations.md, "Proxy authentication"): the validator refuses every
// pair/proxy combination in which the proxy could never register, naming both and the keys.
const std::string kProxyWithoutSecret = R"(
[[proxy-clusters]]
id = "desktops"

[[proxies]]   # <-
id = "proxy-1"
cluster = "desktops"
host = "127.0.0.1"
port = 7001
admin-port = 9001
)";

const std::string kTlsPair = R"(
[node-pairs.tls]
enabled = true
cert-file = "node.pem"
key-file = "node.key"
ca-file = "ca.pem"
)";

std::string marking_the_pair(std::string text) {
  text.replace(text.find("[[node-pairs]]"), 14, "[[node-pairs]]   # <-");
  return text;
}

TEST(ConfigLoader, APlainTcpPairWithProxiesNeedsTheProxySecret) {
  std::string text = marking_the_pair(kBase) + kProxyWithoutSecret;
  text.replace(text.find("[[proxies]]   # <-"), 18, "[[proxies]]");
  expect_error(text, "node-pairs[pair-1]",
               "no proxy can register with this pair (proxies: proxy-1): it serves plain TCP and the file has no "
               "[proxy-auth] secret; set secret-file or secret-env in [proxy-auth]");
  EXPECT_TRUE(load(kBase).ok()) << "a file without proxies needs no secret";
}

TEST(ConfigLoader, ProxySecretComesFromExactlyOneSource) {
  expect_error(kBase + kProxyWithoutSecret.substr(0, kProxyWithoutSecret.find("[[proxies]]")) + R"(
[proxy-auth]   # <-
secret-file = "proxy.secret"
secret-env = "IX_PROXY_SECRET"
)", "proxy-auth", "set exactly one of secret-file and secret-env");
  expect_error(kBase + R"(
[proxy-auth]
secret = "hunter2hunter2hunter2"   # <-
)", "proxy-auth.secret", "secrets do not belong in the configuration file");
}

TEST(ConfigLoader, APairRequiringClientCertificatesNeedsEveryProxyToHaveALinkCertificate) {
  // The proxy's own client-facing TLS does not help: its server certificate is not sent to nodes.
  expect_error(kBase + kTlsPair + "require-client-cert = true\n" + kProxy.substr(0, kProxy.find("[[proxy-clusters]]")) +
                   kProxyWithoutSecret + "[proxies.tls]\nenabled = true\ncert-file = \"proxy.pem\"\nkey-file = \"proxy.key\"\n",
               "proxies[proxy-1].link-tls",
               "proxy \"proxy-1\" cannot connect to node pair \"pair-1\": the pair requires client certificates "
               "(node-pairs[pair-1].tls.require-client-cert) and the proxy has no link certificate; set cert-file and "
               "key-file in [proxies.link-tls]");

  // A link certificate reaches the pair whether or not the proxy serves TLS itself, secret or not.
  LoadResult linked = load(kBase + kTlsPair + "require-client-cert = true\n" + kProxyWithoutSecret +
                           "[proxies.link-tls]\ncert-file = \"proxy-1-link.pem\"\nkey-file = \"proxy-1-link.key\"\n");
  ASSERT_TRUE(linked.ok()) << linked.error_text();
  EXPECT_EQ(linked.config->proxies[0].link_tls.cert_file, "/etc/ix/proxy-1-link.pem");
  EXPECT_EQ(linked.config->proxies[0].link_tls.key_file, "/etc/ix/proxy-1-link.key");
  EXPECT_FALSE(linked.config->proxy_auth.has_value());
}

TEST(ConfigLoader, ATlsPairNeedsALinkCertificateItCanVerifyOrTheSecret) {
  expect_error(kBase + kTlsPair + kProxyWithoutSecret, "proxies[proxy-1].link-tls",
               "proxy \"proxy-1\" cannot register with node pair \"pair-1\": it has no link certificate and the file "
               "has no [proxy-auth] secret");
  std::string no_ca = kTlsPair;
  no_ca.replace(no_ca.find("ca-file = \"ca.pem\"\n"), 19, "");
  std::string text = kBase + no_ca + kProxyWithoutSecret + "[proxies.link-tls]\ncert-file = \"l.pem\"\nkey-file = \"l.key\"\n";
  text.replace(text.find("[node-pairs.tls]"), 16, "[node-pairs.tls]   # <-");
  text.replace(text.find("[[proxies]]   # <-"), 18, "[[proxies]]");
  expect_error(text, "node-pairs[pair-1].tls.ca-file",
               "the pair has no ca-file to verify its link certificate with, and the file has no [proxy-auth] secret");
  // With the secret, a TLS pair needs neither.
  LoadResult with_secret = load(kBase + no_ca + kProxy);
  EXPECT_TRUE(with_secret.ok()) << with_secret.error_text();
}

TEST(ConfigLoader, ALinkCertificateNeedsItsKey) {
  expect_error(kBase + kProxy + R"(
[proxies.link-tls]   # <-
cert-file = "proxy-1-link.pem"
)", "proxies[proxy-1].link-tls", "set both cert-file and key-file");
}

TEST(ConfigLoader, QueueOfAnUnknownTenant) {
  expect_error(kBase + R"(
[[queues]]
id = "q1"
tenant = "999"   # <-
)", "queues[q1].tenant", "tenant \"999\" is not defined in [[tenants]]");
}

TEST(ConfigLoader, PacingTenantMustExistAndBaseUrlsMustNotBeEmpty) {
  std::string text = kBase + R"(
[pacing]
tenant = "999"   # <-
credentials-env = "IX_CREDS"
auth-url = "https://e.example/oauth/token"
[pacing.endpoint]
base-urls = []
)";
  expect_error(text, "pacing.tenant", "tenant \"999\" is not defined");
  LoadResult result = load(text);
  bool empty_urls = false;
  for (const ConfigIssue& e : result.errors) empty_urls |= e.key_path == "pacing.endpoint.base-urls";
  EXPECT_TRUE(empty_urls) << result.error_text();
}

TEST(ConfigLoader, PacingProactiveFilterMustParse) {
  expect_error(kBase + R"(
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
proactive-filter = "interaction_subtype = 'Proactive"   # <-
auth-url = "https://e.example/oauth/token"
[pacing.endpoint]
base-urls = ["https://engage.example/api/"]
)", "pacing.proactive-filter", "position");
}

TEST(ConfigLoader, PacingFilterAndVirtualQueueKeyHaveDefaults) {
  LoadResult result = load(kBase + R"(
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
auth-url = "https://engage.example/oauth/token"
[pacing.endpoint]
base-urls = ["https://engage.example/api/"]
)");
  ASSERT_TRUE(result.ok()) << result.error_text();
  EXPECT_EQ(result.config->pacing->proactive_filter, "interaction_subtype = 'Proactive'");
  EXPECT_EQ(result.config->pacing->virtual_queue_key, "VirtualQueue");
}

// The master election's keys: auth-url is required and must be a URL; proxies and lease-pair
// default to every proxy and the first pair and must name defined ones; lease-ttl is 10s by
// default, 1s..5m, and at least 2 x http-timeout.
const std::string kPacing = R"(
[pacing]
tenant = "101"
credentials-env = "IX_CREDS"
)";
const std::string kPacingEndpoint = R"(
[pacing.endpoint]
base-urls = ["https://engage.example/api/"]
)";

TEST(ConfigLoader, PacingMasterKeysHaveDefaults) {
  LoadResult result = load(kBase + test::node_pair_toml("pair-2", "tag = \"p2\"", 7201, "[\"101\"]", "data/p2.db") + kProxy +
                           R"(
[[proxies]]
id = "proxy-2"
cluster = "desktops"
host = "127.0.0.1"
port = 7002
admin-port = 9002
)" + kPacing + "auth-url = \"https://engage.example/oauth/token\"\n" + kPacingEndpoint);
  ASSERT_TRUE(result.ok()) << result.error_text();
  const PacingService& p = *result.config->pacing;
  EXPECT_EQ(p.auth_url, "https://engage.example/oauth/token");
  EXPECT_EQ(p.proxies, (std::vector<std::string>{"proxy-1", "proxy-2"})) << "every proxy by default";
  EXPECT_EQ(p.lease_pair, "pair-1") << "the first pair by default";
  EXPECT_EQ(p.lease_ttl, std::chrono::seconds(10));
}

TEST(ConfigLoader, PacingMasterKeysAsWritten) {
  LoadResult result = load(kBase + test::node_pair_toml("pair-2", "tag = \"p2\"", 7201, "[\"101\"]", "data/p2.db") + kProxy +
                           kPacing + R"(auth-url = "http://127.0.0.1:7443/oauth/token"
proxies = ["proxy-1"]
lease-pair = "pair-2"
lease-ttl = "6s"
http-timeout = "3s"
)" + kPacingEndpoint);
  ASSERT_TRUE(result.ok()) << result.error_text();
  const PacingService& p = *result.config->pacing;
  EXPECT_EQ(p.proxies, std::vector<std::string>{"proxy-1"});
  EXPECT_EQ(p.lease_pair, "pair-2");
  EXPECT_EQ(p.lease_ttl, std::chrono::seconds(6));
}

TEST(ConfigLoader, PacingAuthUrlIsRequiredAndMustBeHttp) {
  expect_error(kBase + R"(
[pacing]   # <-
tenant = "101"
credentials-env = "IX_CREDS"
)" + kPacingEndpoint, "pacing.auth-url", "required");
  expect_error(kBase + kPacing + "auth-url = \"ftp://engage.example/token\"   # <-\n" + kPacingEndpoint, "pacing.auth-url",
               "\"ftp://engage.example/token\" is not an http:// or https:// URL");
}

TEST(ConfigLoader, PacingProxiesMustBeDefinedOnce) {
  const std::string auth = "auth-url = \"https://engage.example/oauth/token\"\n";
  expect_error(kBase + kProxy + kPacing + auth + "proxies = [\"proxy-1\", \"proxy-9\"]   # <-\n" + kPacingEndpoint,
               "pacing.proxies", "proxy \"proxy-9\" is not defined in [[proxies]]");
  expect_error(kBase + kProxy + kPacing + auth + "proxies = [\"proxy-1\", \"proxy-1\"]   # <-\n" + kPacingEndpoint,
               "pacing.proxies", "proxy \"proxy-1\" is listed twice");
}

TEST(ConfigLoader, PacingLeasePairMustExist) {
  expect_error(kBase + kPacing + "auth-url = \"https://engage.example/oauth/token\"\nlease-pair = \"pair-7\"   # <-\n" +
                   kPacingEndpoint,
               "pacing.lease-pair", "node pair \"pair-7\" is not defined in [[node-pairs]]");
}

TEST(ConfigLoader, PacingLeaseTtlRangeAndTwiceTheHttpTimeout) {
  const std::string auth = "auth-url = \"https://engage.example/oauth/token\"\n";
  expect_error(kBase + kPacing + auth + "lease-ttl = \"500ms\"   # <-\n" + kPacingEndpoint, "pacing.lease-ttl", "out of range");
  expect_error(kBase + kPacing + auth + "lease-ttl = \"6m\"   # <-\n" + kPacingEndpoint, "pacing.lease-ttl", "out of range");
  expect_error(kBase + kPacing + auth + "http-timeout = \"4s\"\nlease-ttl = \"7s\"   # <-\n" + kPacingEndpoint,
               "pacing.lease-ttl", "7s is shorter than 2 x http-timeout (4s)");
  LoadResult exactly_twice = load(kBase + kPacing + auth + "http-timeout = \"4s\"\nlease-ttl = \"8s\"\n" + kPacingEndpoint);
  EXPECT_TRUE(exactly_twice.ok()) << exactly_twice.error_text();
}

TEST(ConfigLoader, PacingHttpTimeoutIsShorterThanTheRefreshPeriod) {
  const std::string auth = "auth-url = \"https://engage.example/oauth/token\"\n";
  expect_error(kBase + kPacing + auth + "refresh-period = \"2s\"\nhttp-timeout = \"2s\"   # <-\n" + kPacingEndpoint,
               "pacing.http-timeout", "2s is not shorter than refresh-period (2s)");
  LoadResult shorter = load(kBase + kPacing + auth + "refresh-period = \"2s\"\nhttp-timeout = \"1900ms\"\n" + kPacingEndpoint);
  EXPECT_TRUE(shorter.ok()) << shorter.error_text();
}

TEST(ConfigLoader, ViewConditionAndOrderMustParse) {
  const std::string queue = "\n[[queues]]\nid = \"q1\"\ntenant = \"101\"\n";
  expect_error(kBase + queue + R"(
[[views]]
id = "v1"
tenant = "101"
queues = ["q1"]
condition = "priority >"   # <-
)", "views[v1].condition", "expected");
  expect_error(kBase + queue + R"(
[[views]]
id = "v1"
tenant = "101"
queues = ["q1"]
order = "priority sideways"   # <-
)", "views[v1].order", "");
}

TEST(ConfigLoader, WorkbinOwnerIsAgentOrPlace) {
  expect_error(kBase + R"(
[[workbin-types]]
id = "drafts"
tenant = "101"
owner = "team"   # <-
)", "workbin-types[drafts].owner", "\"team\" is not allowed; expected one of agent, place");
}

TEST(ConfigLoader, EveryProblemIsReportedAtOnce) {
  LoadResult result = load(kBase + R"(
[node-pairs.settings]
delivering-timeout = "0s"
max-interactions-per-snapshot = "many"
bogus = 1
)");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.errors.size(), 3u) << result.error_text();
}

TEST(ConfigLoader, PacingTargetsFromRegularAndBlendedAgentGroups) {
  LoadResult result = load(kBase + R"(
[[media-types]]
name = "voice"
[[agents]]
id = "a1"
tenant = "101"
[[agents]]
id = "a2"
tenant = "101"
[[virtual-queues]]
id = "Proactive Chat"
tenant = "101"
[virtual-queues.pacing]
media = "chat"
[[virtual-queues]]
id = "Proactive Voice"
tenant = "101"
[virtual-queues.pacing]
media = "voice"
optimizationGoal = 5
[[virtual-queues]]
id = "Not Paced"
tenant = "101"
[[agent-groups]]
id = "Proactive Chat"
tenant = "101"
agents = ["a1"]
origination-dns = ["Proactive Chat"]
[[agent-groups]]
id = "Proactive Chat Sales"
tenant = "101"
origination-dns = ["Proactive Chat", "Not Paced"]
[[agent-groups]]
id = "Proactive Voice"
tenant = "101"
origination-dns = ["Proactive Voice"]
[[agent-groups]]
id = "Proactive Blended"
tenant = "101"
agents = ["a1", "a2"]
origination-dns = ["Proactive Chat", "Proactive Voice"]
)");
  ASSERT_TRUE(result.ok()) << result.error_text();
  const auto& targets = result.config->pacing_targets;
  ASSERT_EQ(targets.size(), 2u) << "a virtual queue without a pacing section is no target";
  EXPECT_EQ(targets[0].name, "Proactive Chat - chat");
  EXPECT_EQ(targets[0].media, "chat");
  EXPECT_EQ(targets[0].optimization_goal, 3.0) << "default optimizationGoal";
  EXPECT_EQ(targets[0].agent_groups, (std::vector<std::string>{"Proactive Chat", "Proactive Chat Sales", "Proactive Blended"}));
  EXPECT_EQ(targets[1].name, "Proactive Voice - voice");
  EXPECT_EQ(targets[1].optimization_goal, 5.0);
  EXPECT_EQ(targets[1].agent_groups, (std::vector<std::string>{"Proactive Voice", "Proactive Blended"}));
}

TEST(ConfigLoader, UnreadableFileIsFlagged) {
  LoadResult result = load_config_file("/nonexistent/cluster.toml");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.unreadable);
  EXPECT_NE(result.error_text().find("/nonexistent/cluster.toml: cannot read the file"), std::string::npos);
}

}  // namespace
}  // namespace ix::config
