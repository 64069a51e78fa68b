// The pacing service in a running cluster: real ixproxy processes run the pacing module against
// the engagement-service simulator (ixengage, real HTTPS), the master lease lives in pair-1.
//
// Exactly one master: only the holder posts; killing it (SIGKILL) or freezing it (SIGSTOP) hands
// over within one lease period; the fencing numbers the service received never go back and never
// belong to two proxies; a deposed master's number is refused.
//
// Alarms: each of the simulator's failure modes raises its alarm (status, metrics, log) after the
// configured run of failures, and the first good answer clears it; pending invitations the
// service reports reach the decisions.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"
#include "tests/support/eventually.h"
#include "tests/support/https_exchange.h"

namespace ix::test {
namespace {

constexpr uint64_t kLeaseTtlMs = 3000;
constexpr uint64_t kRefreshMs = 1000;

class PacingServiceTest : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    ::setenv("IX_TEST_ENGAGEMENT", "ixcluster:test-secret", 1);
    const std::filesystem::path ports_file = dir_ / "engage.ports";
    engage_ = std::make_unique<Process>(
        [&] {
          std::vector<std::string> args = {IX_IXENGAGE, "--port", "0", "--ports-file", ports_file.string(), "--state-dir",
                                           (dir_ / "engage").string(), "--credentials", "ixcluster:test-secret", "--no-submit"};
          args.insert(args.end(), engage_args_.begin(), engage_args_.end());
          return args;
        }(),
        (dir_ / "ixengage.log").string());
    ASSERT_TRUE(engage_->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*engage_, ports_file);
    ASSERT_TRUE(ports) << "ixengage did not report its port";
    engage_port_ = ports->port;
  }

  void TearDown() override {
    engage_.reset();
    ClusterFixture::TearDown();
  }

  void extend_config(ConfigBuilder& c) const override {
    c.paced_virtual_queue("VQ Chat", "101", "chat");
    c.agent_group("Chat", "101", {"a1", "a2"}, {"VQ Chat"});
    const std::string base = "https://127.0.0.1:" + std::to_string(engage_port_);
    c.raw("\n[pacing]\ntenant = \"101\"\nrefresh-period = \"" + std::to_string(kRefreshMs) + "ms\"\nhttp-timeout = \"" +
          http_timeout_ + "\"\n"
          "lease-ttl = \"" + std::to_string(kLeaseTtlMs) + "ms\"\nlease-pair = \"pair-1\"\n"
          "credentials-env = \"IX_TEST_ENGAGEMENT\"\nauth-url = \"" + base + "/oauth/token\"\n"
          "ca-file = \"" + (dir_ / "engage" / "ca.pem").string() + "\"\n"
          "[pacing.endpoint]\nbase-urls = [\"" + (api_url_.empty() ? base + "/api/" : api_url_) + "\"]\n");
  }
  int proxy_count() const override { return proxies_configured_; }

  // GET or POST on the simulator.
  std::string engage(const std::string& method, const std::string& path,
                     const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& body = "") {
    HttpsExchange x = https_exchange(loop_, engage_port_, (dir_ / "engage" / "ca.pem").string(),
                                     https_request_text(method, path, headers, body));
    return x.response;
  }
  nlohmann::json engage_state() {
    const std::string response = engage("GET", "/admin/state");
    const size_t body = response.find("\r\n\r\n");
    return body == std::string::npos ? nlohmann::json() : nlohmann::json::parse(response.substr(body + 4), nullptr, false);
  }

  // An access token from the simulator, as the proxies get theirs.
  std::string engage_token() {
    const std::string response = engage("POST", "/oauth/token",
                                        {{"Authorization", "Basic aXhjbHVzdGVyOnRlc3Qtc2VjcmV0"},  // ixcluster:test-secret
                                         {"Content-Type", "application/x-www-form-urlencoded"}},
                                        "grant_type=client_credentials");
    const size_t body = response.find("\r\n\r\n");
    if (body == std::string::npos) return "";
    const nlohmann::json j = nlohmann::json::parse(response.substr(body + 4), nullptr, false);
    return j.is_discarded() ? "" : j.value("access_token", "");
  }

  // The accepted posts' fencing numbers in order, with the proxy that sent each.
  std::vector<std::pair<uint64_t, std::string>> accepted_posts() {
    std::vector<std::pair<uint64_t, std::string>> out;
    nlohmann::json state = engage_state();
    if (state.is_discarded() || !state.contains("fencing")) return out;
    for (const nlohmann::json& f : state["fencing"]) {
      if (!f.value("refused", false)) out.emplace_back(f.value("token", uint64_t{0}), f.value("node", ""));
    }
    return out;
  }

  // Waits until a proxy other than `not_by` has posted; returns its ID ("" on timeout).
  std::string wait_for_poster(const std::string& not_by, uint64_t timeout_ms) {
    const auto deadline = uv_now(loop_.get()) + timeout_ms;
    while (uv_now(loop_.get()) < deadline) {
      auto posts = accepted_posts();
      if (!posts.empty() && posts.back().second != not_by) return posts.back().second;
      loop_.run_for(50);
    }
    return "";
  }

  // The pacing section of a proxy's /status ({} when it does not answer with one).
  nlohmann::json pacing_status(int proxy) {
    const nlohmann::json s = nlohmann::json::parse(proxy_status(proxy), nullptr, false);
    return s.is_object() ? s.value("pacing", nlohmann::json::object()) : nlohmann::json::object();
  }
  nlohmann::json master_status(int proxy) { return pacing_status(proxy).value("master", nlohmann::json::object()); }

  static int index_of(const std::string& proxy_id) { return std::stoi(proxy_id.substr(proxy_id.rfind('-') + 1)) - 1; }

  // The fencing rule as the service saw it: accepted numbers never go back, and each number
  // belongs to one proxy.
  void expect_fenced_history() {
    std::map<uint64_t, std::string> owner;
    uint64_t last = 0;
    for (const auto& [token, node] : accepted_posts()) {
      EXPECT_GE(token, last) << "an accepted fencing number went back";
      last = token;
      auto [it, inserted] = owner.emplace(token, node);
      EXPECT_EQ(it->second, node) << "fencing number " << token << " used by two proxies";
    }
  }

  std::unique_ptr<Process> engage_;
  uint16_t engage_port_ = 0;
  int proxies_configured_ = 2;
  std::string http_timeout_ = "800ms";
  std::string api_url_;  // the engagement service's base URL; empty: the simulator's
  std::vector<std::string> engage_args_;  // more ixengage options (its visitors)
};

class PacingMasterTest : public PacingServiceTest {};

// One proxy: it is master as soon as it holds the lease, and posts every refresh period.
class PacingAlarmTest : public PacingServiceTest {
 protected:
  int proxy_count() const override { return 1; }
  void extend_config(ConfigBuilder& c) const override {
    PacingServiceTest::extend_config(c);
    c.raw("[pacing.alarms]\nrequests-failed-threshold = " + std::to_string(requests_failed_threshold_) +
          "\ntarget-error-threshold = 1\nvalidation-error-threshold = 2\n");
  }
  int requests_failed_threshold_ = 2;

  void set_mode(const std::string& mode) {
    const std::string response = engage("POST", "/admin/mode", {{"Content-Type", "application/json"}},
                                        nlohmann::json{{"mode", mode}}.dump());
    ASSERT_NE(response.find(" 200 "), std::string::npos) << response;
  }
  // The active alarms' names on the proxy's status, once pred holds (or the last seen).
  std::set<std::string> alarms_when(const std::function<bool(const std::set<std::string>&)>& pred, uint64_t timeout_ms = 10'000) {
    std::set<std::string> names;
    const auto deadline = uv_now(loop_.get()) + timeout_ms;
    while (uv_now(loop_.get()) < deadline) {
      names.clear();
      for (const nlohmann::json& a : pacing_status(0).value("alarms", nlohmann::json::array())) names.insert(a.value("name", ""));
      if (pred(names)) return names;
      loop_.run_for(50);
    }
    return names;
  }
  std::string metrics() { return http_get(loop_, proxy_ports_[0].second, "/metrics").body(); }
  double failed_posts() {
    const std::string text = metrics();
    const std::string series = "ix_pacing_posts_total{result=\"failed\"} ";
    const size_t at = text.find(series);
    return at == std::string::npos ? -1 : std::strtod(text.c_str() + at + series.size(), nullptr);
  }
};

TEST_F(PacingMasterTest, OneOfTwoProxiesPostsAndTheOtherTakesOverWithinALeasePeriodAfterSigkill) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  start_proxy(1);

  const std::string first = wait_for_poster("", 10'000);
  ASSERT_FALSE(first.empty()) << "nobody posted: " << engage_state().dump(2);
  const int master = index_of(first), other = 1 - master;
  // Exactly one says it is master, and both agree who (the other once it has asked).
  const nlohmann::json m = master_status(master);
  EXPECT_TRUE(m.value("is_master", false)) << m.dump();
  EXPECT_TRUE(eventually([&] { return master_status(other).value("holder", "") == first; }, std::chrono::seconds(5)))
      << master_status(other).dump();
  EXPECT_FALSE(master_status(other).value("is_master", true));
  // Several posts, all from the master.
  loop_.run_for(3 * kRefreshMs);
  for (const auto& post : accepted_posts()) EXPECT_EQ(post.second, first);
  const uint64_t old_fencing = accepted_posts().back().first;

  const uint64_t killed_at = uv_now(loop_.get());
  proxies_[master]->kill(SIGKILL);
  const std::string second = wait_for_poster(first, kLeaseTtlMs + 4 * kRefreshMs + 2000);
  ASSERT_EQ(second, "proxy-" + std::to_string(other + 1)) << engage_state().dump(2);
  EXPECT_LE(uv_now(loop_.get()) - killed_at, kLeaseTtlMs + 2 * kRefreshMs + 1000) << "takeover took longer than a lease period";
  EXPECT_GT(accepted_posts().back().first, old_fencing);
  expect_fenced_history();

  // The deposed master's number is refused from now on.
  const std::string token = engage_token();
  ASSERT_FALSE(token.empty());
  const std::string stale = engage("POST", "/api/v2/journey/actiontargets/bulk",
                                   {{"Authorization", "Bearer " + token},
                                    {"Content-Type", "application/json"},
                                    {"X-Pacing-Fencing-Token", std::to_string(old_fencing)},
                                    {"X-Pacing-Node", first}},
                                   nlohmann::json{{"fencingToken", old_fencing}, {"intervalSeconds", 1},
                                                  {"targets", nlohmann::json::array()}}.dump());
  EXPECT_NE(stale.find(" 409 "), std::string::npos) << stale;
}

TEST_F(PacingMasterTest, AFrozenMasterIsReplacedAndNeverPostsAgainUnderItsOldNumber) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  start_proxy(1);
  const std::string first = wait_for_poster("", 10'000);
  ASSERT_FALSE(first.empty());
  const int master = index_of(first);

  const uint64_t frozen_at = uv_now(loop_.get());
  proxies_[master]->signal(SIGSTOP);
  const std::string second = wait_for_poster(first, kLeaseTtlMs + 4 * kRefreshMs + 2000);
  ASSERT_FALSE(second.empty()) << engage_state().dump(2);
  EXPECT_NE(second, first);
  EXPECT_LE(uv_now(loop_.get()) - frozen_at, kLeaseTtlMs + 2 * kRefreshMs + 1000);

  // Woken up, the old master finds it lost the lease: it posts nothing the service accepts
  // under its old number, and says it is not master.
  proxies_[master]->signal(SIGCONT);
  loop_.run_for(kLeaseTtlMs);
  expect_fenced_history();
  for (const auto& post : accepted_posts()) {
    if (post.second == first) {
      EXPECT_LT(post.first, accepted_posts().back().first);
    }
  }
  EXPECT_FALSE(master_status(master).value("is_master", true));
  EXPECT_EQ(master_status(master).value("holder", ""), second);
  // If the woken proxy managed to send anything, it was refused — and nobody else ever was.
  const nlohmann::json state = engage_state();
  for (const nlohmann::json& f : state.value("fencing", nlohmann::json::array())) {
    if (f.value("refused", false)) {
      EXPECT_EQ(f.value("node", ""), first) << f.dump();
    }
  }
}

TEST_F(PacingMasterTest, WithThreeProxiesExactlyOnePostsThroughTwoSuccessiveKills) {
  proxies_configured_ = 3;
  start_pair(0);
  start_pair(1);
  for (int i = 0; i < 3; ++i) start_proxy(i);

  std::string master = wait_for_poster("", 10'000);
  ASSERT_FALSE(master.empty());
  std::set<std::string> dead;
  for (int round = 0; round < 2; ++round) {
    int claiming = 0;
    for (int i = 0; i < 3; ++i) {
      if (!dead.count("proxy-" + std::to_string(i + 1))) claiming += master_status(i).value("is_master", false);
    }
    EXPECT_EQ(claiming, 1) << "round " << round << ": " << master_status(0) << master_status(1) << master_status(2);
    proxies_[index_of(master)]->kill(SIGKILL);
    dead.insert(master);
    const std::string next = wait_for_poster(master, kLeaseTtlMs + 4 * kRefreshMs + 2000);
    ASSERT_FALSE(next.empty()) << "round " << round << ": " << engage_state().dump(2);
    EXPECT_FALSE(dead.count(next));
    master = next;
  }
  expect_fenced_history();
}

TEST_F(PacingMasterTest, AStoppedMasterHandsTheLeaseOverAtOnce) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  start_proxy(1);
  const std::string first = wait_for_poster("", 10'000);
  ASSERT_FALSE(first.empty());
  const uint64_t stopped_at = uv_now(loop_.get());
  EXPECT_EQ(proxies_[index_of(first)]->kill(SIGTERM), 0);
  ASSERT_FALSE(wait_for_poster(first, kLeaseTtlMs).empty());
  // Released, not expired: well within the lease period.
  EXPECT_LT(uv_now(loop_.get()) - stopped_at, kLeaseTtlMs);
  expect_fenced_history();
}

TEST_F(PacingAlarmTest, EachFailureModeRaisesItsAlarmAndTheFirstGoodAnswerClearsIt) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  ASSERT_FALSE(wait_for_poster("", 10'000).empty());
  EXPECT_TRUE(alarms_when([](const auto& a) { return a.empty(); }).empty());
  EXPECT_NE(metrics().find("ix_pacing_alarm_active{alarm=\"PacingRequestsFailed\"} 0"), std::string::npos);

  struct Case {
    const char* mode;
    const char* alarm;
  };
  for (const Case& c : {Case{"fail", "PacingRequestsFailed"}, Case{"stall", "PacingRequestsFailed"},
                        Case{"unauthorized", "PacingRequestsFailed"}, Case{"invalid-json", "PacingResponseValidationError"},
                        Case{"target-errors", "PacingResponseTargetError"}}) {
    SCOPED_TRACE(c.mode);
    set_mode(c.mode);
    std::set<std::string> raised = alarms_when([&](const auto& a) { return a.count(c.alarm) > 0; });
    EXPECT_EQ(raised, std::set<std::string>{c.alarm});
    EXPECT_NE(metrics().find(std::string("ix_pacing_alarm_active{alarm=\"") + c.alarm + "\"} 1"), std::string::npos);
    set_mode("ok");
    EXPECT_TRUE(alarms_when([](const auto& a) { return a.empty(); }).empty()) << "not cleared";
    EXPECT_NE(metrics().find(std::string("ix_pacing_alarm_active{alarm=\"") + c.alarm + "\"} 0"), std::string::npos);
  }
  // Raised and cleared, each with its event ID in the log.
  std::ifstream log(dir_ / "proxy-1.log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  for (const char* id : {"id=100603", "id=100604", "id=100605", "id=100606", "id=100607", "id=100608"}) {
    EXPECT_NE(text.find(id), std::string::npos) << id;
  }
}

TEST_F(PacingAlarmTest, PendingInvitationsReportedByTheServiceReachTheDecisions) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));  // a ready agent: invitations are allowed
  const auto deadline = uv_now(loop_.get()) + 15'000;
  int pending = 0;
  while (uv_now(loop_.get()) < deadline && pending == 0) {
    const nlohmann::json targets = pacing_status(0).value("targets", nlohmann::json::array());
    if (!targets.empty()) pending = targets[0].value("pending_invitations", 0);
    loop_.run_for(100);
  }
  EXPECT_GT(pending, 0) << "the service's pending invitations never reached the status: " << engage_state().dump(2);
  EXPECT_EQ(pacing_status(0).value("post", nlohmann::json::object()).value("result", ""), "ok");
}

// The engagement service's answers are the pacer's only evidence of acceptance: visitors who
// answer within a fraction of a second, half of them accepting, show up as invitations answered
// and accepted on the status, the acceptance estimate leaves the prior, and `ixctl pacing
// status` says what was observed.
class PacingAcceptanceTest : public PacingAlarmTest {
 protected:
  PacingAcceptanceTest() {
    engage_args_ = {"--lead-rate", "50", "--accept-probability", "0.5", "--accept-delay", "50ms..200ms",
                    "--invitation-timeout", "300ms", "--seed", "7"};
  }
};

TEST_F(PacingAcceptanceTest, AcceptanceReportedByTheServiceReachesThePacer) {
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  ASSERT_TRUE(log_in_ready(*desktop, "a1", 1));  // a ready agent: invitations are allowed
  nlohmann::json target;
  ASSERT_TRUE(loop_.run_until([&] {
    const nlohmann::json targets = pacing_status(0).value("targets", nlohmann::json::array());
    if (targets.empty()) return false;
    target = targets[0];
    return target.value("invitations", nlohmann::json::object()).value("accepted", 0) >= 1 &&
           target.value("invitations", nlohmann::json::object()).value("answered", 0) >= 2;
  }, 15'000)) << target.dump(2) << engage_state().dump(2);
  const nlohmann::json& invitations = target["invitations"];
  const nlohmann::json simulated = engage_state()["targets"]["VQ Chat - chat"];
  EXPECT_LE(invitations["answered"].get<uint64_t>(),
            simulated["accepted"].get<uint64_t>() + simulated["expired"].get<uint64_t>())
      << "never more answers than the service counted";
  EXPECT_LE(invitations["accepted"].get<uint64_t>(), simulated["accepted"].get<uint64_t>());
  EXPECT_GT(invitations["acceptance_observed"].get<double>(), 0.0);
  EXPECT_LT(invitations["answer_delay_seconds"].get<double>(), 0.31) << "answers come within 300 ms";
  ASSERT_TRUE(loop_.run_until([&] {
    const nlohmann::json t = pacing_status(0).value("targets", nlohmann::json::array())[0];
    return t.contains("estimates") && t["estimates"]["acceptance"].get<double>() > 0.2;
  }, 10'000)) << "the acceptance estimate never left the prior (0.2): " << pacing_status(0).dump(2);

  CommandResult human = run_command({IX_IXCTL, "pacing", "status", "--config", (dir_ / "cluster.toml").string()});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("acceptance observed 0."), std::string::npos) << human.out;
}

TEST_F(PacingAlarmTest, AnUnusableEndpointShowsOnTheStatusAndRaisesRequestsFailed) {
  ::unsetenv("IX_TEST_ENGAGEMENT");  // no credentials: nothing can be posted
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  EXPECT_EQ(alarms_when([](const auto& a) { return a.count("PacingRequestsFailed") > 0; }),
            std::set<std::string>{"PacingRequestsFailed"});
  EXPECT_NE(pacing_status(0).value("post", nlohmann::json::object()).value("endpoint_error", "").find("IX_TEST_ENGAGEMENT"), std::string::npos)
      << pacing_status(0).dump(2);
  EXPECT_TRUE(accepted_posts().empty());
}

// A reload (SIGHUP) reaches the posting side: a new endpoint (the first pointed nowhere, so
// every post failed and the alarm was raised) is used from the next post, the new http-timeout
// too, and a new alarm threshold decides the next raise.
TEST_F(PacingAlarmTest, AReloadMovesTheEndpointAndChangesTheTimeoutAndTheAlarmThresholds) {
  api_url_ = "https://127.0.0.1:" + std::to_string(unused_ports(loop_.get(), 1)[0]) + "/api/";  // nothing listens there
  start_pair(0);
  start_pair(1);
  start_proxy(0);
  EXPECT_EQ(alarms_when([](const auto& a) { return a.count("PacingRequestsFailed") > 0; }),
            std::set<std::string>{"PacingRequestsFailed"});
  EXPECT_TRUE(accepted_posts().empty());

  api_url_.clear();
  http_timeout_ = "700ms";
  requests_failed_threshold_ = 1000;
  write_config();
  proxies_[0]->signal(SIGHUP);
  ASSERT_FALSE(wait_for_poster("", 10'000).empty()) << "no post reached the new endpoint";
  EXPECT_TRUE(alarms_when([](const auto& a) { return a.empty(); }).empty()) << "not cleared";
  EXPECT_TRUE(eventually([&] { return proxies_[0]->log().find("event=pacing_master_reconfigured http_timeout_ms=700 new_endpoint=true") !=
                                      std::string::npos; }))
      << proxies_[0]->log();

  // Three failures in a row no longer raise it: the threshold is 1000 now (it was 2).
  set_mode("fail");
  const double before = failed_posts();
  ASSERT_TRUE(eventually([&] { return failed_posts() >= before + 3; }, std::chrono::seconds(15))) << metrics();
  EXPECT_TRUE(alarms_when([](const auto&) { return true; }).empty());
  EXPECT_NE(metrics().find("ix_pacing_alarm_active{alarm=\"PacingRequestsFailed\"} 0"), std::string::npos);
}

}  // namespace
}  // namespace ix::test
