// A node pair for integration tests: a temporary folder with a configuration file and a SQLite
// database, and the real ixnode binary started as the pair's primary and/or backup. The file
// gives both nodes port 0: each listens where the OS lets it and reports its ports through
// --ports-file, which start_node() reads into primary_port_/primary_admin_ (or the backup's).
// A client that registers as a proxy sends the [proxy-auth] secret of proxy.secret.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/support/config_builder.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/protocol_client.h"

namespace ix::test {

class NodePairFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ix-node-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "proxy.secret") << kProxySecret << "\n";
    std::ofstream(dir_ / "cluster.toml") << config_text();
  }

  void TearDown() override {
    primary_.reset();
    backup_.reset();
    if (HasFailure()) {
      for (const char* name : {"primary.log", "backup.log"}) {
        std::ifstream in(dir_ / name);
        if (in) std::cerr << "---- " << name << "\n" << in.rdbuf() << "\n";
      }
    }
    std::filesystem::remove_all(dir_);
  }

  virtual std::string config_text() {
    ConfigBuilder c;
    c.tenant("101").tenant("202").media_type("chat").media_type("email");
    c.node_pair("pair-1", "p1", {"101"}, {"chat", "email"})
        .set("agent-seats", 2)
        .endpoint("primary", primary_port_, primary_admin_)
        .endpoint("backup", backup_port_, backup_admin_)
        .set_in("storage", "sqlite-path", "data/pair-1.db")
        .setting("lease-timeout", lease_timeout_)
        .setting("delivering-timeout", delivering_timeout_)
        .setting("handling-timeout", handling_timeout_)
        .setting("event-log-retention", retention_)
        .setting("max-live-interactions", max_live_interactions_)
        .setting("allow-multiple-agent-connections", TomlValue::raw(multiple_connections_));
    c.queue("inbound", "101").queue("vip", "101").queue("other-tenant", "202");
    c.view("all-inbound", "101", {"inbound", "vip"});
    c.view("filtered", "101", {"inbound"}).set("condition", "priority > 3");
    c.workbin_type("drafts", "101", "agent").workbin_type("team", "101", "place");
    c.agent("a1", "101").agent("a2", "101").agent("a3", "101");
    c.proxy_secret_file("proxy.secret");
    return c.text();
  }

  // Starts a node and waits until it listens; its ports are then in primary_port_/primary_admin_
  // (or backup_port_/backup_admin_). A node that exits at once (a refused configuration) is
  // returned as it is, for the test to look at.
  std::unique_ptr<Process> start_node(const std::string& role) {
    const std::filesystem::path ports_file = dir_ / (role + ".ports");
    std::filesystem::remove(ports_file);
    auto p = std::make_unique<Process>(
        std::vector<std::string>{IX_IXNODE, "--config", (dir_ / "cluster.toml").string(), "--node", "pair-1", "--role", role,
                                 "--ports-file", ports_file.string()},
        (dir_ / (role + ".log")).string());
    EXPECT_TRUE(p->start());
    if (std::optional<config::BoundPorts> ports = wait_for_ports(*p, ports_file)) {
      (role == "primary" ? primary_port_ : backup_port_) = ports->port;
      (role == "primary" ? primary_admin_ : backup_admin_) = ports->admin_port;
    } else if (p->running()) {
      ADD_FAILURE() << "the " << role << " did not report its ports in " << ports_file;
    }
    return p;
  }

  // Connects to a node's port (retrying while it starts) and registers.
  std::unique_ptr<ProtocolClient> client(uint16_t port, proto::ClientType type, proto::ServerRole want) {
    for (int attempt = 0; attempt < 200; ++attempt) {
      auto c = std::make_unique<ProtocolClient>(loop_, port);
      if (!c->closed()) {
        EnvelopePtr reply = c->register_as(type, "test", type == proto::ClientType::Proxy ? kProxySecret : "");
        if (reply && reply->body.AsEventClientRegistered() && reply->body.AsEventClientRegistered()->role == want) return c;
      }
      loop_.run_for(25);
    }
    ADD_FAILURE() << "no node became " << proto::EnumNameServerRole(want) << " on port " << port;
    return nullptr;
  }

  std::unique_ptr<ProtocolClient> primary_client(proto::ClientType type = proto::ClientType::MediaServer) {
    return client(primary_port_, type, proto::ServerRole::Primary);
  }

  static constexpr const char* kProxySecret = "node-fixture-proxy-secret-0123456789";
  std::string multiple_connections_ = "false";
  std::string delivering_timeout_ = "30s";
  std::string handling_timeout_ = "180m";
  std::string retention_ = "7d";
  std::string lease_timeout_ = "1s";
  int max_live_interactions_ = 1'000'000;
  TestLoop loop_;
  std::filesystem::path dir_;
  uint16_t primary_port_ = 0, primary_admin_ = 0, backup_port_ = 0, backup_admin_ = 0;  // as reported; 0 before start
  std::unique_ptr<Process> primary_, backup_;
};

inline proto::RequestSubmitT submit_request(const std::string& queue = "inbound", int priority = 0,
                                            const std::string& media = "chat") {
  proto::RequestSubmitT r;
  r.tenant_id = "101";
  r.media_type = media;
  r.queue = queue;
  r.interaction_type = "Inbound";
  r.priority = priority;
  return r;
}

}  // namespace ix::test
