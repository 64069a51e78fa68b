// A SIGHUP reload that adds or removes a node pair, under traffic, with the real binaries: three
// pairs (primaries only; the backups stay down), one ixproxy with two workers whose file names
// a subset of them. The nodes read one file that has every pair; the proxy reads its own, which
// the test rewrites and signals — as an operator adds a pair's nodes first and then tells the
// proxies. Submits and get-properties flow through the proxy and a reporting client is attached
// while the pair comes or goes.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/support/config_builder.h"
#include "tests/support/http_exchange.h"
#include "tests/support/ports.h"
#include "tests/support/process.h"
#include "tests/support/protocol_client.h"

namespace ix::test {
namespace {

constexpr int kPairs = 3;
constexpr int code(proto::ErrorCode c) { return static_cast<int>(c); }
int error_code(const EnvelopePtr& e) { return as_error(e) ? as_error(e)->code : 0; }
std::string error_text(const EnvelopePtr& e) { return as_error(e) ? as_error(e)->text : "(no error)"; }

proto::RequestSubmitT submit() {
  proto::RequestSubmitT r;
  r.tenant_id = "101";
  r.media_type = "chat";
  r.queue = "inbound";
  r.interaction_type = "Inbound";
  return r;
}

proto::RequestGetPropertiesT properties(const std::string& id) {
  proto::RequestGetPropertiesT r;
  r.interaction_id = id;
  return r;
}

const proto::ReportingHeaderT* header(const EnvelopePtr& e) {
  if (auto* s = e->body.AsEventInteractionSubmitted()) return s->header.get();
  if (auto* q = e->body.AsEventPlacedInQueue()) return q->header.get();
  return nullptr;
}

class ProxyReloadPairs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ix-reload-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    // The proxy authenticates to the nodes with this secret ([proxy-auth]).
    std::ofstream(dir_ / "proxy.secret") << "reload-pairs-test-proxy-secret-0123456789\n";
  }

  void TearDown() override {
    for (auto& node : nodes_) {
      if (node && node->running()) node->signal(SIGCONT);
    }
    proxy_.reset();
    for (auto& node : nodes_) node.reset();
    if (HasFailure()) {
      for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        if (entry.path().extension() != ".log") continue;
        std::ifstream in(entry.path());
        std::cerr << "---- " << entry.path().filename().string() << "\n" << in.rdbuf() << "\n";
      }
    }
    std::filesystem::remove_all(dir_);
  }

  // The cluster with the pairs in `pairs` (every pair for the nodes' file).
  std::string config_text(const std::array<bool, kPairs>& pairs) const {
    ConfigBuilder c;
    c.tenant("101").media_type("chat");
    for (int i = 0; i < kPairs; ++i) {
      if (!pairs[i]) continue;
      const std::string id = "pair-" + std::to_string(i + 1);
      c.node_pair(id, "p" + std::to_string(i + 1), {"101"}, {"chat"})
          .set("enable-submit", enable_submit_[i])
          .endpoint("primary", node_ports_[i].first, node_ports_[i].second)
          .endpoint("backup", 0, 0)
          .set_in("storage", "sqlite-path", "data/" + id + ".db");
    }
    c.proxy_cluster("desktops");
    c.proxy("proxy-1", "desktops", proxy_ports_.first, proxy_ports_.second)
        .setting("request-timeout", "20s")
        .setting("workers", 2);
    c.proxy_secret_file("proxy.secret");
    c.queue("inbound", "101");
    return c.text();
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / (name + ".tmp")) << text;
    std::filesystem::rename(dir_ / (name + ".tmp"), dir_ / name);
  }
  void write_configs() {
    write("nodes.toml", config_text({true, true, true}));
    write("proxy.toml", config_text(proxy_pairs_));
  }

  void start_node(int pair) {
    write_configs();
    const std::string id = "pair-" + std::to_string(pair + 1);
    const std::filesystem::path ports_file = dir_ / (id + ".ports");
    nodes_[pair] = std::make_unique<Process>(
        std::vector<std::string>{IX_IXNODE, "--config", (dir_ / "nodes.toml").string(), "--node", id, "--role", "primary",
                                 "--ports-file", ports_file.string()},
        (dir_ / (id + ".log")).string());
    ASSERT_TRUE(nodes_[pair]->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*nodes_[pair], ports_file);
    ASSERT_TRUE(ports) << id << " did not report its ports";
    node_ports_[pair] = {ports->port, ports->admin_port};
    write_configs();
  }

  void start_proxy() {
    write_configs();
    const std::filesystem::path ports_file = dir_ / "proxy-1.ports";
    proxy_ = std::make_unique<Process>(
        std::vector<std::string>{IX_IXPROXY, "--config", (dir_ / "proxy.toml").string(), "--proxy", "proxy-1", "--log-level",
                                 "debug", "--ports-file", ports_file.string()},
        (dir_ / "proxy-1.log").string());
    ASSERT_TRUE(proxy_->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*proxy_, ports_file);
    ASSERT_TRUE(ports) << "the proxy did not report its ports";
    proxy_ports_ = {ports->port, ports->admin_port};
    ASSERT_TRUE(wait_linked()) << status();
  }

  // Every worker reaches every pair of the proxy's file.
  bool wait_linked() {
    return loop_.run_until([&] {
      nlohmann::json s = nlohmann::json::parse(status(), nullptr, false);
      if (!s.is_object() || !s.contains("workers")) return false;
      size_t expected = 0;
      for (bool in : proxy_pairs_) expected += in;
      for (const auto& worker : s["workers"]) {
        const nlohmann::json& pairs = worker.value("pairs", nlohmann::json::array());
        if (pairs.size() != expected) return false;
        for (const auto& pair : pairs) {
          if (!pair.value("reachable", false)) return false;
        }
      }
      return true;
    }, 20'000);
  }

  // Rewrites the proxy's file with `pairs` and signals it (reloaded() says when both workers
  // have applied it).
  void reload_proxy(const std::array<bool, kPairs>& pairs) {
    proxy_pairs_ = pairs;
    write_configs();
    reloads_ += 2;
    proxy_->signal(SIGHUP);
  }
  bool reloaded() {
    const std::string log = proxy_->log();
    size_t n = 0;
    for (size_t at = log.find("event=worker_reloaded"); at != std::string::npos; at = log.find("event=worker_reloaded", at + 1)) ++n;
    return n >= reloads_;
  }

  std::unique_ptr<ProtocolClient> client(proto::ClientType type, uint16_t port) {
    auto c = std::make_unique<ProtocolClient>(loop_, port);
    EnvelopePtr reply = c->register_as(type);
    EXPECT_TRUE(reply && reply->body.AsEventClientRegistered()) << error_text(reply);
    return c;
  }
  std::unique_ptr<ProtocolClient> reporting_client() {
    auto c = client(proto::ClientType::ReportingEngine, proxy_ports_.first);
    EnvelopePtr ack = c->call(proto::RequestStartReportingT{});
    EXPECT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
    return c;
  }

  std::string status() { return http_get(loop_, proxy_ports_.second, "/status").body(); }
  std::string metrics() { return http_get(loop_, proxy_ports_.second, "/metrics").body(); }

  // One round of traffic through the proxy: a submit, then the properties of what it created.
  // Returns the new interaction's ID; a failure is a test failure.
  std::string submit_and_read(ProtocolClient& media) {
    EnvelopePtr submitted = media.call(submit());
    EXPECT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);
    if (!submitted || !submitted->body.AsEventSubmitted()) return "";
    const std::string id = submitted->body.AsEventSubmitted()->interaction_id;
    EnvelopePtr read = media.call(properties(id));
    EXPECT_TRUE(read && read->body.AsEventProperties()) << id << ": " << error_text(read);
    if (read && read->body.AsEventProperties()) {
      EXPECT_EQ(read->body.AsEventProperties()->interaction->interaction_id, id) << "the answer of another interaction";
    }
    return id;
  }

  // The subscriber's stream, checked: every acknowledged submit reported exactly once, and for
  // each pair in `gapless` the seqs it delivered consecutive (no gap, no duplicate).
  void expect_stream(ProtocolClient& subscriber, const std::vector<std::string>& acknowledged,
                     const std::set<std::string>& gapless, std::map<std::string, std::vector<uint64_t>>* seqs_out = nullptr) {
    std::map<std::string, int> submitted;
    size_t counted = 0;
    ASSERT_TRUE(loop_.run_until([&] {
      subscriber.wait_for_events(0, 10);
      for (; counted < subscriber.events.size(); ++counted) {
        if (auto* s = subscriber.events[counted]->body.AsEventInteractionSubmitted()) ++submitted[s->interaction->interaction_id];
      }
      return std::all_of(acknowledged.begin(), acknowledged.end(), [&](const std::string& id) { return submitted.contains(id); });
    }, 15'000)) << submitted.size() << " of " << acknowledged.size() << " submits reported";
    subscriber.wait_for_events(0, 200);  // anything still on its way (a duplicate would be)
    for (; counted < subscriber.events.size(); ++counted) {
      if (auto* s = subscriber.events[counted]->body.AsEventInteractionSubmitted()) ++submitted[s->interaction->interaction_id];
    }
    for (const std::string& id : acknowledged) EXPECT_EQ(submitted[id], 1) << id;
    std::map<std::string, std::vector<uint64_t>> seqs;
    for (const EnvelopePtr& e : subscriber.events) {
      if (const proto::ReportingHeaderT* h = header(e)) seqs[h->node_id].push_back(h->seq);
    }
    for (const std::string& pair : gapless) {
      const std::vector<uint64_t>& s = seqs[pair];
      ASSERT_FALSE(s.empty()) << pair;
      for (size_t i = 1; i < s.size(); ++i) EXPECT_EQ(s[i], s[i - 1] + 1) << pair << " at " << i;
    }
    if (seqs_out) *seqs_out = std::move(seqs);
  }

  TestLoop loop_;
  std::filesystem::path dir_;
  std::array<std::pair<uint16_t, uint16_t>, kPairs> node_ports_{};
  std::pair<uint16_t, uint16_t> proxy_ports_{};
  std::array<bool, kPairs> enable_submit_{true, true, true};
  std::array<bool, kPairs> proxy_pairs_{true, true, true};
  size_t reloads_ = 0;  // event=worker_reloaded lines to wait for: one per worker and reload
  std::array<std::unique_ptr<Process>, kPairs> nodes_;
  std::unique_ptr<Process> proxy_;
};

TEST_F(ProxyReloadPairs, APairAddedBySighupUnderTrafficTakesSubmitsAndJoinsTheStreamFromItsStart) {
  proxy_pairs_ = {true, true, false};
  for (int pair = 0; pair < kPairs; ++pair) start_node(pair);
  start_proxy();
  auto subscriber = reporting_client();
  auto media = client(proto::ClientType::MediaServer, proxy_ports_.first);

  std::vector<std::string> acknowledged;
  for (int i = 0; i < 10; ++i) acknowledged.push_back(submit_and_read(*media));
  reload_proxy({true, true, true});
  // Traffic goes on through the reload, on the same connections, until pair-3 has taken some.
  int on_new_pair = 0;
  for (int i = 0; i < 400 && (on_new_pair < 3 || !reloaded()); ++i) {
    const std::string id = submit_and_read(*media);
    ASSERT_FALSE(id.empty()) << "round " << i;
    acknowledged.push_back(id);
    on_new_pair += id.starts_with("p3-");
  }
  ASSERT_TRUE(reloaded()) << proxy_->log();
  EXPECT_GE(on_new_pair, 3) << "submits spread over the new set of pairs";
  for (int i = 0; i < 6; ++i) acknowledged.push_back(submit_and_read(*media));

  std::map<std::string, std::vector<uint64_t>> seqs;
  expect_stream(*subscriber, acknowledged, {"pair-1", "pair-2", "pair-3"}, &seqs);
  ASSERT_FALSE(seqs["pair-3"].empty());
  EXPECT_EQ(seqs["pair-3"].front(), 1u) << "the added pair's events appear from its start";

  // Its series exist (per worker), like those of the pairs that were there.
  EXPECT_TRUE(loop_.run_until([&] {
    const std::string m = metrics();
    return m.find("ix_proxy_pair_reachable{pair=\"pair-3\",worker=\"0\"} 1\n") != std::string::npos &&
           m.find("ix_proxy_pair_reachable{pair=\"pair-3\",worker=\"1\"} 1\n") != std::string::npos;
  }, 5000)) << metrics();
  EXPECT_NE(metrics().find("ix_proxy_failovers_total{pair=\"pair-3\"} 0\n"), std::string::npos) << metrics();
  EXPECT_TRUE(proxy_->running());
}

TEST_F(ProxyReloadPairs, APairRemovedBySighupUnderTrafficFailsItsRequestsInFlightAndNothingElse) {
  enable_submit_[2] = false;  // pair-3 holds interactions made straight on it; submits go to pairs 1 and 2
  for (int pair = 0; pair < kPairs; ++pair) start_node(pair);
  start_proxy();
  auto subscriber = reporting_client();
  auto media = client(proto::ClientType::MediaServer, proxy_ports_.first);
  auto straight = client(proto::ClientType::MediaServer, node_ports_[2].first);
  EnvelopePtr made = straight->call(submit());
  ASSERT_TRUE(made && made->body.AsEventSubmitted()) << error_text(made);
  const std::string on_removed = made->body.AsEventSubmitted()->interaction_id;
  ASSERT_TRUE(on_removed.starts_with("p3-"));
  EnvelopePtr before = media->call(properties(on_removed));
  ASSERT_TRUE(before && before->body.AsEventProperties()) << error_text(before);

  std::vector<std::string> acknowledged;
  for (int i = 0; i < 10; ++i) acknowledged.push_back(submit_and_read(*media));
  // pair-3's node stops answering: a request for its interaction stays in flight (the
  // request-timeout is 20 s) until the reload removes the pair.
  nodes_[2]->signal(SIGSTOP);
  auto reader = client(proto::ClientType::MediaServer, proxy_ports_.first);
  const uint64_t in_flight = reader->send(properties(on_removed));
  for (int i = 0; i < 3; ++i) acknowledged.push_back(submit_and_read(*media));
  const uint64_t removed_at = uv_now(loop_.get());
  reload_proxy({true, true, false});
  for (int i = 0; i < 400 && !reloaded(); ++i) acknowledged.push_back(submit_and_read(*media));
  ASSERT_TRUE(loop_.run_until([&] { return reloaded(); }, 10'000)) << proxy_->log();

  EnvelopePtr failed = reader->wait_reply(in_flight, 10'000);
  ASSERT_TRUE(failed) << "no answer to the request in flight on the removed pair";
  EXPECT_EQ(error_code(failed), code(proto::ErrorCode::ClusterLostConnection)) << error_text(failed);
  EXPECT_NE(error_text(failed).find("pair-3 was removed from the configuration"), std::string::npos) << error_text(failed);
  EXPECT_LT(uv_now(loop_.get()) - removed_at, 10'000u) << "answered by the removal, not by the request-timeout";

  // After it: the others are unaffected, and the removed pair's interaction is one no pair has.
  for (int i = 0; i < 10; ++i) {
    const std::string id = submit_and_read(*media);
    EXPECT_FALSE(id.starts_with("p3-")) << id;
    acknowledged.push_back(id);
  }
  EnvelopePtr gone = reader->call(properties(on_removed));
  EXPECT_EQ(error_code(gone), code(proto::ErrorCode::UnknownInteraction)) << error_text(gone);

  expect_stream(*subscriber, acknowledged, {"pair-1", "pair-2"});
  EXPECT_TRUE(proxy_->running());
  EXPECT_EQ(http_get(loop_, proxy_ports_.second, "/healthz").status(), 200);
  // The removed pair's series are gone from every worker; the others' stay.
  const std::string m = metrics();
  EXPECT_EQ(m.find("pair=\"pair-3\""), std::string::npos) << m;
  EXPECT_NE(m.find("ix_proxy_pair_reachable{pair=\"pair-1\",worker=\"1\"} 1\n"), std::string::npos) << m;
  nlohmann::json s = nlohmann::json::parse(status());
  for (const auto& worker : s["workers"]) EXPECT_EQ(worker["pairs"].size(), 2u) << s.dump();
}

}  // namespace
}  // namespace ix::test
