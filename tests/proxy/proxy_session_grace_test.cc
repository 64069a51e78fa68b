// A proxy's dropped link to a node does not log out the agents on it (issue 18 item 3): the node
// holds a closed proxy session's agents for proxy-session-grace, and the same proxy worker's
// reconnection takes them over — the reporting stream, read straight from the node, shows no
// logout and no login, and the agents are still logged in and ready. When the grace passes
// without a reconnection (the proxy died), or a restarted proxy registers, the agents are logged
// out as before.
//
// Real cluster (ClusterFixture). The link drop is provoked as in production: pair-1's primary
// is stopped (SIGSTOP) while a request is in flight, so the request misses its deadline, the
// proxy's probe goes unanswered and the proxy drops the link; the node wakes well within its
// lease (lease-timeout 10 s here) and the proxy reconnects.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

class ProxySessionGrace : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    lease_timeout_ = "10s";   // a node stopped for a second or two keeps its lease
    request_timeout_ = "1500ms";  // the stopped node misses a deadline soon, and the probe too
  }

  // Subscribes to pair-1's reporting stream straight at its primary (no proxy in between).
  void subscribe_to_pair_1() {
    reporter_ = node_client(0, proto::ClientType::ReportingEngine);
    ASSERT_TRUE(reporter_);
    EnvelopePtr ack = reporter_->call(proto::RequestStartReportingT{});
    ASSERT_TRUE(ack && ack->body.AsEventAck()) << error_text(ack);
  }
  // Starts the cluster, follows pair-1's stream, and logs a1 and a2 in and ready through proxy-1.
  void start_with_two_agents(std::unique_ptr<ProtocolClient>& desktop) {
    ASSERT_NO_FATAL_FAILURE(start_cluster());
    ASSERT_NO_FATAL_FAILURE(subscribe_to_pair_1());
    desktop = proxy_client(0, proto::ClientType::AgentApplication);
    ASSERT_TRUE(desktop);
    ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));
    ASSERT_TRUE(log_in_ready(*desktop, "a2", 2));
  }
  // Runs the loop for ms, collecting the reporting events that arrive.
  void pump(uint64_t ms) { reporter_->wait_for_events(SIZE_MAX, ms); }
  // Reporting events of one type about one agent, since the last forget().
  size_t count(proto::Message type, const std::string& agent) const {
    size_t n = 0;
    for (const EnvelopePtr& e : reporter_->events) {
      if (e->body.type != type) continue;
      if (const auto* login = e->body.AsEventAgentLogin(); login && login->agent_id == agent) ++n;
      if (const auto* logout = e->body.AsEventAgentLogout(); logout && logout->agent_id == agent) ++n;
    }
    return n;
  }
  std::string logout_reason(const std::string& agent) const {
    for (const EnvelopePtr& e : reporter_->events) {
      const auto* logout = e->body.AsEventAgentLogout();
      if (!logout || logout->agent_id != agent || !logout->reason) continue;
      for (const auto& pair : logout->reason->pairs) {
        if (pair->key == "reason") return pair->string_value;
      }
    }
    return "";
  }
  // Waits until both agents' logins have reached the stream, then forgets every event so far.
  void logins_seen() {
    const bool seen = loop_.run_until([&] {
      pump(20);
      return count(proto::Message::EventAgentLogin, "a1") > 0 && count(proto::Message::EventAgentLogin, "a2") > 0;
    }, 5000);
    ASSERT_TRUE(seen) << "the logins did not reach pair-1's reporting stream";
    reporter_->events.clear();
  }
  std::string node_log() const {
    std::ifstream in(dir_ / "pair-1-primary.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  bool node_logged(const std::string& what, uint64_t timeout_ms) {
    return loop_.run_until([&] {
      pump(20);
      return node_log().find(what) != std::string::npos;
    }, timeout_ms);
  }
  // The agent as pair-1's primary sees it, asked straight (not through a proxy).
  proto::EventAgentStatusT status_at_pair_1(const std::string& agent) {
    auto c = node_client(0, proto::ClientType::AgentApplication);
    proto::RequestAgentStatusT r;
    r.tenant_id = "101";
    r.agent_id = agent;
    EnvelopePtr reply = c ? c->call(r) : nullptr;
    return reply && reply->body.AsEventAgentStatus() ? *reply->body.AsEventAgentStatus() : proto::EventAgentStatusT{};
  }
  static bool chat_ready(const proto::EventAgentStatusT& s) {
    for (const auto& m : s.media) {
      if (m->media_type == "chat") return m->ready;
    }
    return false;
  }
  // ix_node_proxy_sessions_total{outcome} at pair-1's primary (-1 when the series is missing).
  double proxy_sessions(const std::string& outcome) {
    std::istringstream lines(http_get(loop_, node_ports_[0][0].second, "/metrics").body());
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("ix_node_proxy_sessions_total{", 0) != 0) continue;
      if (line.find("outcome=\"" + outcome + "\"") == std::string::npos) continue;
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return -1;
  }

  std::unique_ptr<ProtocolClient> reporter_;
};

TEST_F(ProxySessionGrace, ALinkDroppedAfterMissedDeadlinesComesBackWithoutALogoutOrALogin) {
  std::unique_ptr<ProtocolClient> desktop;
  ASSERT_NO_FATAL_FAILURE(start_with_two_agents(desktop));
  // An interaction of pair-1's: asking for its properties goes to pair-1 alone.
  auto media = node_client(0, proto::ClientType::MediaServer);
  ASSERT_TRUE(media);
  EnvelopePtr submitted = media->call(chat_submit());
  ASSERT_TRUE(submitted && submitted->body.AsEventSubmitted()) << error_text(submitted);
  proto::RequestGetPropertiesT properties;
  properties.interaction_id = submitted->body.AsEventSubmitted()->interaction_id;
  ASSERT_NO_FATAL_FAILURE(logins_seen());

  // pair-1's primary stops; the request, on the link of the desktop's worker, misses its
  // deadline, the probe goes unanswered, and the proxy drops the link.
  nodes_[0][0]->signal(SIGSTOP);
  EnvelopePtr late = desktop->call(properties, 1);
  EXPECT_EQ(error_code(late), 2002) << "the stopped node cannot answer: " << error_text(late);
  const bool probe_failed = loop_.run_until([&] {
    return proxies_[0]->log().find("event=upstream_probe_failed node=\"pair-1 primary") != std::string::npos;
  }, 10'000);
  nodes_[0][0]->signal(SIGCONT);
  ASSERT_TRUE(probe_failed) << proxies_[0]->log();

  ASSERT_TRUE(node_logged("event=proxy_session_held", 5000)) << "the proxy's link to pair-1 was not dropped";
  ASSERT_TRUE(node_logged("event=proxy_session_reattached", 8000)) << node_log();
  ASSERT_TRUE(wait_linked(0));
  // The proxy logs its agents in again once the pair is back; give that time to reach the node.
  EnvelopePtr answered = desktop->call(properties, 1);
  ASSERT_TRUE(answered && answered->body.AsEventProperties()) << "the link works again: " << error_text(answered);
  pump(1500);

  for (const char* agent : {"a1", "a2"}) {
    SCOPED_TRACE(agent);
    EXPECT_EQ(count(proto::Message::EventAgentLogout, agent), 0u) << "a logout in the reporting stream";
    EXPECT_EQ(count(proto::Message::EventAgentLogin, agent), 0u) << "a login in the reporting stream";
    const proto::EventAgentStatusT at_node = status_at_pair_1(agent);
    EXPECT_TRUE(at_node.logged_in);
    EXPECT_TRUE(chat_ready(at_node)) << "still ready";
  }
  EXPECT_GE(proxy_sessions("reattached"), 1.0);
  EXPECT_EQ(proxy_sessions("expired"), 0.0);
}

TEST_F(ProxySessionGrace, WhenTheProxyDoesNotComeBackItsAgentsAreLoggedOutAfterTheGrace) {
  proxy_session_grace_ = "6s";
  std::unique_ptr<ProtocolClient> desktop;
  ASSERT_NO_FATAL_FAILURE(start_with_two_agents(desktop));
  ASSERT_NO_FATAL_FAILURE(logins_seen());

  proxies_[0]->kill(SIGKILL);
  ASSERT_TRUE(node_logged("event=proxy_session_held", 3000)) << node_log();
  pump(2000);
  EXPECT_EQ(count(proto::Message::EventAgentLogout, "a1"), 0u) << "logged out before the grace passed";
  EXPECT_TRUE(status_at_pair_1("a1").logged_in);
  const bool logged_out = loop_.run_until([&] {
    pump(20);
    return count(proto::Message::EventAgentLogout, "a1") > 0 && count(proto::Message::EventAgentLogout, "a2") > 0;
  }, 10'000);
  ASSERT_TRUE(logged_out) << "no logout after the grace";
  EXPECT_EQ(logout_reason("a1"), "proxy did not reconnect within proxy-session-grace");
  EXPECT_FALSE(status_at_pair_1("a1").logged_in);
  EXPECT_FALSE(status_at_pair_1("a2").logged_in);
  EXPECT_GE(proxy_sessions("expired"), 1.0);
  EXPECT_EQ(proxy_sessions("reattached"), 0.0);
}

TEST_F(ProxySessionGrace, ARestartedProxyDoesNotInheritTheAgentsOfTheOneThatDied) {
  proxy_session_grace_ = "60s";
  std::unique_ptr<ProtocolClient> desktop;
  ASSERT_NO_FATAL_FAILURE(start_with_two_agents(desktop));
  ASSERT_NO_FATAL_FAILURE(logins_seen());

  proxies_[0]->kill(SIGKILL);
  desktop.reset();
  ASSERT_TRUE(node_logged("event=proxy_session_held", 3000)) << node_log();
  ASSERT_NO_FATAL_FAILURE(start_proxy(0));
  // Long before the 60 s grace: the new instance's registration ends the hold.
  const bool logged_out = loop_.run_until([&] {
    pump(20);
    return count(proto::Message::EventAgentLogout, "a1") > 0 && count(proto::Message::EventAgentLogout, "a2") > 0;
  }, 5000);
  ASSERT_TRUE(logged_out) << node_log();
  // The desktop, reconnected to the restarted proxy, logs in again as a new login.
  desktop = proxy_client(0, proto::ClientType::AgentApplication);
  EXPECT_TRUE(log_in_ready(*desktop, "a1", 1));
}

}  // namespace
}  // namespace ix::test
