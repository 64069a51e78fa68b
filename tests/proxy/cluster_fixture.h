// A cluster for proxy integration tests: two node pairs (each a real ixnode primary and backup
// sharing a SQLite database) and up to two real ixproxy processes, on loopback, in a temporary
// folder.
//
// Ports: a process not started yet has port 0 in the file, so the OS chooses its ports; it
// reports them (--ports-file) and the fixture writes them into the file before the next process
// starts. Nodes start first, so a proxy reads the nodes' real ports. A process restarted later
// finds its old ports in the file and listens there again, as a restarted server would.
// Tests that need every port before anything starts (a launcher reading the whole file, a fake
// node in a pair's place) call choose_ports_before_start().
//
//   pair-1 (tag p1): tenant 101, media chat + email
//   pair-2 (tag p2): tenant 101, media chat
//   proxy-1: two worker loops; proxy-2 (and proxy-3 where a test asks for three): one.
//   request-timeout 3 s, pull-hold-timeout 1 s, lease-timeout 1 s (a test may change the
//   request and lease timeouts, and set proxy-session-grace).
//   The proxies authenticate to the nodes with the [proxy-auth] secret in proxy.secret (written
//   by SetUp); TLS tests may give them link certificates instead.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "tests/support/config_builder.h"
#include "tests/support/http_exchange.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/protocol_client.h"

namespace ix::test {

class ClusterFixture : public ::testing::Test {
 protected:
  static constexpr int kPairs = 2;
  static constexpr int kProxies = 3;  // at most; proxy_count() of them are configured

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ix-proxy-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream(dir_ / "proxy.secret") << kProxySecret << "\n";
  }

  // Picks every port now, before any process starts. Only for tests that need a port before its
  // process exists: `ixctl cluster up` reads the whole file once (and refuses port 0), and a fake
  // node listens where the file says the pair's node is. The ports are probed free and reserved
  // against other tests (unused_ports), but another program may still take one before it is
  // listened on — which is why everything else lets the OS choose.
  void choose_ports_before_start() {
    const std::vector<uint16_t> ports = unused_ports(loop_.get(), 2 * (2 * kPairs + kProxies));
    size_t next = 0;
    for (auto& pair : node_ports_) {
      for (auto& node : pair) {
        node = {ports[next], ports[next + 1]};
        next += 2;
      }
    }
    for (auto& proxy : proxy_ports_) {
      proxy = {ports[next], ports[next + 1]};
      next += 2;
    }
  }

  void TearDown() override {
    for (auto& proxy : proxies_) proxy.reset();
    for (auto& pair : nodes_) {
      for (auto& node : pair) node.reset();
    }
    if (HasFailure()) {
      for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        if (entry.path().extension() != ".log") continue;
        std::ifstream in(entry.path());
        std::cerr << "---- " << entry.path().filename().string() << "\n" << in.rdbuf() << "\n";
      }
    }
    std::filesystem::remove_all(dir_);
  }

  std::string config_text() const {
    ConfigBuilder c;
    c.tenant("101").tenant("202").media_type("chat").media_type("email").media_type("sms", false);
    const std::vector<std::string> media[kPairs] = {{"chat", "email"}, {"chat"}};
    for (int i = 0; i < kPairs; ++i) {
      const std::string id = "pair-" + std::to_string(i + 1);
      TomlEntry& pair = c.node_pair(id, "p" + std::to_string(i + 1), {"101"}, media[i])
                            .set("agent-seats", seats_[i])
                            .set("enable-submit", enable_submit_[i])
                            .endpoint("primary", node_ports_[i][0].first, node_ports_[i][0].second)
                            .endpoint("backup", node_ports_[i][1].first, node_ports_[i][1].second)
                            .set_in("storage", "sqlite-path", "data/" + id + ".db")
                            .setting("lease-timeout", lease_timeout_)
                            .setting("pull-hold-timeout", "30s");
      if (!proxy_session_grace_.empty()) pair.setting("proxy-session-grace", proxy_session_grace_);
      if (tls_) pair.tls("server.pem", "server.key", "ca.pem");
      if (tls_ && require_client_cert_) pair.set_in("tls", "require-client-cert", true);
    }
    c.proxy_cluster("desktops");
    for (int i = 0; i < proxy_count(); ++i) {
      TomlEntry& proxy = c.proxy("proxy-" + std::to_string(i + 1), "desktops", proxy_ports_[i].first, proxy_ports_[i].second)
                             .setting("request-timeout", request_timeout_)
                             .setting("pull-hold-timeout", "1s")
                             .setting("reporting-buffer", 100)
                             .setting("workers", i == 0 ? 2 : 1);
      if (tls_ && proxy_tls_) proxy.tls("server.pem", "server.key", "ca.pem");
      if (link_certs_) {
        const std::string name = "proxy-" + std::to_string(i + 1) + "-link";
        proxy.link_tls(name + ".pem", name + ".key");
      }
    }
    if (proxy_secret_) c.proxy_secret_file("proxy.secret");
    c.queue("inbound", "101");
    c.view("all-inbound", "101", {"inbound"});
    c.view("ordered", "101", {"inbound"}).set("ordered-pull", true);
    c.workbin_type("drafts", "101", "agent");
    c.agent("a1", "101").agent("a2", "101").agent("a3", "101");
    extend_config(c);
    return c.text();
  }
  // What a test adds to the common configuration (pacing targets, ...).
  virtual void extend_config(ConfigBuilder&) const {}
  // How many proxies the configuration names (proxy-1 ... proxy-N, N <= kProxies).
  virtual int proxy_count() const { return 2; }

  // With tls_, nodes and proxies (unless proxy_tls_ is off) serve TLS with the test CA's server
  // certificate (files the TLS test writes into the folder).
  std::shared_ptr<net::TlsContext> client_tls_context(bool to_proxy = false) const {
    if (!tls_ || (to_proxy && !proxy_tls_)) return nullptr;
    net::TlsOptions options;
    options.ca_file = (dir_ / "ca.pem").string();
    if (require_client_cert_ && !to_proxy) {  // the test CA's client certificate, which names no proxy
      options.cert_file = (dir_ / "client.pem").string();
      options.key_file = (dir_ / "client.key").string();
    }
    auto tls = net::TlsContext::create_client(options);
    return tls ? *tls : nullptr;
  }

  // Writes the configuration when it changed, atomically (a new file renamed over the old): a
  // process starting at that moment must never read a half-written file.
  void write_config() {
    const std::string text = config_text();
    if (text == written_config_) return;
    std::ofstream(dir_ / "cluster.toml.tmp") << text;
    std::filesystem::rename(dir_ / "cluster.toml.tmp", dir_ / "cluster.toml");
    written_config_ = text;
  }

  // Both pairs and proxy-1: what most tests start with.
  void start_cluster() {
    start_pair(0);
    start_pair(1);
    start_proxy(0);
  }

  // Starts a pair's primary (which takes the lease) and then its backup.
  void start_pair(int pair) {
    write_config();
    start_node(pair, 0);
    ASSERT_TRUE(node_client(pair, proto::ClientType::MediaServer)) << "pair-" << pair + 1 << " primary did not start";
    start_node(pair, 1);
  }

  // Starts a node and waits until it listens (its ports are then in node_ports_ and the file).
  void start_node(int pair, int which) {
    write_config();
    const std::string id = "pair-" + std::to_string(pair + 1);
    const char* role = which == 0 ? "primary" : "backup";
    const std::filesystem::path ports_file = dir_ / (id + "-" + role + ".ports");
    std::filesystem::remove(ports_file);
    nodes_[pair][which] = std::make_unique<Process>(
        std::vector<std::string>{IX_IXNODE, "--config", (dir_ / "cluster.toml").string(), "--node", id, "--role", role,
                                 "--ports-file", ports_file.string()},
        (dir_ / (id + "-" + role + ".log")).string());
    ASSERT_TRUE(nodes_[pair][which]->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*nodes_[pair][which], ports_file);
    ASSERT_TRUE(ports) << id << " " << role << " did not report its ports";
    node_ports_[pair][which] = {ports->port, ports->admin_port};
    write_config();
  }

  // Starts a proxy and waits until it reports ready (every served media has a reachable pair).
  void start_proxy(int proxy) {
    write_config();
    const std::string id = "proxy-" + std::to_string(proxy + 1);
    const std::filesystem::path ports_file = dir_ / (id + ".ports");
    std::filesystem::remove(ports_file);
    proxies_[proxy] = std::make_unique<Process>(
        std::vector<std::string>{IX_IXPROXY, "--config", (dir_ / "cluster.toml").string(), "--proxy", id, "--log-level", "debug",
                                 "--ports-file", ports_file.string()},
        (dir_ / (id + ".log")).string());
    ASSERT_TRUE(proxies_[proxy]->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*proxies_[proxy], ports_file);
    ASSERT_TRUE(ports) << id << " did not report its ports";
    proxy_ports_[proxy] = {ports->port, ports->admin_port};
    write_config();  // the file names the proxy where it is (ixctl status reads it)
    ASSERT_TRUE(wait_ready(proxy)) << id << " did not become ready";
    ASSERT_TRUE(wait_linked(proxy)) << id << " did not reach every running pair: " << proxy_status(proxy);
  }

  bool wait_ready(int proxy, uint64_t timeout_ms = 20'000) {
    const auto deadline = uv_now(loop_.get()) + timeout_ms;
    while (uv_now(loop_.get()) < deadline) {
      if (http_get(loop_, proxy_ports_[proxy].second, "/readyz").status() == 200) return true;
      loop_.run_for(50);
    }
    return false;
  }

  // Ready only means every served media has a reachable pair. Requests that span the pairs (an
  // agent login) need every worker to reach every pair the fixture has running.
  bool wait_linked(int proxy, uint64_t timeout_ms = 20'000) {
    std::vector<bool> running(kPairs, false);
    for (int pair = 0; pair < kPairs; ++pair) {
      for (auto& node : nodes_[pair]) running[pair] = running[pair] || (node && node->running());
    }
    auto linked = [&] {
      nlohmann::json status = nlohmann::json::parse(proxy_status(proxy), nullptr, false);
      if (!status.is_object() || !status.contains("workers")) return false;
      for (const auto& worker : status["workers"]) {
        const nlohmann::json& pairs = worker.value("pairs", nlohmann::json::array());
        for (size_t pair = 0; pair < running.size(); ++pair) {
          if (!running[pair]) continue;
          if (pair >= pairs.size() || !pairs[pair].is_object() || !pairs[pair].value("reachable", false)) return false;
        }
      }
      return true;
    };
    const auto deadline = uv_now(loop_.get()) + timeout_ms;
    while (uv_now(loop_.get()) < deadline) {
      if (linked()) return true;
      loop_.run_for(20);
    }
    return false;
  }

  // Connects and registers with a proxy.
  std::unique_ptr<ProtocolClient> proxy_client(int proxy, proto::ClientType type) {
    auto c = std::make_unique<ProtocolClient>(loop_, proxy_ports_[proxy].first, client_tls_context(true));
    EnvelopePtr reply = c->register_as(type);
    EXPECT_TRUE(reply && reply->body.AsEventClientRegistered()) << "registration with proxy-" << proxy + 1 << " failed";
    return c;
  }

  // Connects straight to the node that is primary for a pair (retrying while it starts).
  std::unique_ptr<ProtocolClient> node_client(int pair, proto::ClientType type) {
    for (int attempt = 0; attempt < 400; ++attempt) {
      for (int which = 0; which < 2; ++which) {
        if (!nodes_[pair][which]) continue;
        auto c = std::make_unique<ProtocolClient>(loop_, node_ports_[pair][which].first, client_tls_context());
        if (c->closed()) continue;
        EnvelopePtr reply = c->register_as(type);
        if (reply && reply->body.AsEventClientRegistered() &&
            reply->body.AsEventClientRegistered()->role == proto::ServerRole::Primary) {
          return c;
        }
      }
      loop_.run_for(25);
    }
    return nullptr;
  }

  std::string proxy_status(int proxy) { return http_get(loop_, proxy_ports_[proxy].second, "/status").body(); }
  std::string proxy_metrics(int proxy) { return http_get(loop_, proxy_ports_[proxy].second, "/metrics").body(); }

  TestLoop loop_;
  std::filesystem::path dir_;
  // As reported by each process (0 until it first started, unless chosen before start).
  std::array<std::array<std::pair<uint16_t, uint16_t>, 2>, kPairs> node_ports_{};  // [pair][primary|backup] = {port, admin}
  std::array<std::pair<uint16_t, uint16_t>, kProxies> proxy_ports_{};
  std::array<uint32_t, kPairs> seats_{10, 10};
  std::array<bool, kPairs> enable_submit_{true, true};
  std::string request_timeout_ = "3s";
  std::string lease_timeout_ = "1s";
  std::string proxy_session_grace_;  // empty: the default
  bool tls_ = false;
  bool proxy_tls_ = true;            // with tls_: the proxies' client-facing ports too
  bool require_client_cert_ = false;  // with tls_: the pairs require client certificates
  bool link_certs_ = false;          // proxy-N presents proxy-N-link.pem/.key to TLS pairs
  bool proxy_secret_ = true;         // [proxy-auth] with proxy.secret
  static constexpr const char* kProxySecret = "cluster-fixture-proxy-secret-0123456789";
  std::string written_config_;
  std::array<std::array<std::unique_ptr<Process>, 2>, kPairs> nodes_;
  std::array<std::unique_ptr<Process>, kProxies> proxies_;
};

inline proto::RequestSubmitT chat_submit(const std::string& media = "chat", const std::string& id = "") {
  proto::RequestSubmitT r;
  r.tenant_id = "101";
  r.media_type = media;
  r.queue = "inbound";
  r.interaction_type = "Inbound";
  r.interaction_id = id;
  return r;
}

inline proto::RequestAgentLoginT agent_login(const std::string& agent, const std::string& media = "chat") {
  proto::RequestAgentLoginT login;
  login.tenant_id = "101";
  login.agent_id = agent;
  login.place_id = "place-" + agent;
  auto capacity = std::make_unique<proto::MediaCapacityT>();
  capacity->media_type = media;
  capacity->capacity = 2;
  login.media.push_back(std::move(capacity));
  return login;
}

inline proto::RequestAgentReadyT agent_ready(const std::string& agent) {
  proto::RequestAgentReadyT ready;
  ready.tenant_id = "101";
  ready.agent_id = agent;
  return ready;
}

// Logs an agent in through a desktop connection (as logical client client_id) and makes it ready.
inline ::testing::AssertionResult log_in_ready(ProtocolClient& desktop, const std::string& agent, uint64_t client_id) {
  auto acked = [&](const EnvelopePtr& reply) { return reply && reply->body.AsEventAck(); };
  EnvelopePtr login = desktop.call(agent_login(agent), client_id);
  if (!acked(login)) return ::testing::AssertionFailure() << agent << " login: " << (as_error(login) ? as_error(login)->text : "no answer");
  EnvelopePtr ready = desktop.call(agent_ready(agent), client_id);
  if (!acked(ready)) return ::testing::AssertionFailure() << agent << " ready: " << (as_error(ready) ? as_error(ready)->text : "no answer");
  return ::testing::AssertionSuccess();
}

inline int error_code(const EnvelopePtr& e) { return as_error(e) ? as_error(e)->code : 0; }
inline std::string error_text(const EnvelopePtr& e) { return as_error(e) ? as_error(e)->text : "(no error)"; }

}  // namespace ix::test
