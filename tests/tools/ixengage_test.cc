// ixengage, the engagement-service simulator, as its clients see it: the real binary on a port
// the OS chooses, spoken to over TLS verified against the CA it generated. Tokens, the bulk
// endpoint with its fencing check, every failure mode, certificates kept across restarts, and
// accepted invitations arriving in a real cluster as proactive chats naming their virtual queue.
#include <gtest/gtest.h>

#include <openssl/base64.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/proxy/cluster_fixture.h"
#include "tests/support/command.h"
#include "tests/support/https_exchange.h"
#include "tests/support/test_certs.h"

namespace ix::test {
namespace {

using nlohmann::json;

const char* kTarget = "Proactive Chat - chat";
const char* kBulk = "/api/v2/journey/actiontargets/bulk";

std::string base64(const std::string& text) {
  size_t len = 0;
  EVP_EncodedLength(&len, text.size());
  std::string out(len, '\0');
  const size_t written = EVP_EncodeBlock(reinterpret_cast<uint8_t*>(out.data()), reinterpret_cast<const uint8_t*>(text.data()),
                                         text.size());
  out.resize(written);
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

json target(const std::string& id, uint64_t allowed, const std::string& vq = "Proactive Chat") {
  return {{"id", id}, {"virtualQueue", vq}, {"mediaType", "chat"}, {"invitationsAllowed", allowed}, {"intervalSeconds", 5}};
}

json bulk_body(uint64_t fencing, const json& targets) {
  return {{"fencingToken", fencing}, {"intervalSeconds", 5}, {"targets", targets}};
}

class IxengageTest : public ClusterFixture {
 protected:
  void extend_config(ConfigBuilder& c) const override {
    c.queue("proactive-chat", "101");
    c.view("proactive-view", "101", {"proactive-chat"});
    c.paced_virtual_queue("Proactive Chat", "101", "chat", 3.0);
    c.agent_group("Proactive Chat", "101", {"a1", "a2"}, {"Proactive Chat"});
  }

  std::filesystem::path state_dir() const { return dir_ / "engagement-sim"; }
  std::string ca_file() const { return (state_dir() / "ca.pem").string(); }

  // Starts ixengage with the cluster's configuration (its pacing target) and waits until it listens.
  void start_engage(std::vector<std::string> extra = {}) {
    write_config();
    const std::filesystem::path ports_file = dir_ / "ixengage.ports";
    std::filesystem::remove(ports_file);
    std::vector<std::string> argv{IX_IXENGAGE, "--port", "0", "--ports-file", ports_file.string(), "--state-dir",
                                  state_dir().string(), "--credentials", "ixcluster:local-secret", "--config",
                                  (dir_ / "cluster.toml").string(), "--seed", "7"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    engage_ = std::make_unique<Process>(argv, (dir_ / "ixengage.log").string());
    ASSERT_TRUE(engage_->start());
    std::optional<config::BoundPorts> ports = wait_for_ports(*engage_, ports_file);
    ASSERT_TRUE(ports) << "ixengage did not listen: " << engage_->log();
    port_ = ports->port;
  }

  void TearDown() override {
    engage_.reset();
    ClusterFixture::TearDown();
  }

  HttpsExchange request(const std::string& method, const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& headers = {}, const std::string& body = "",
                        uint64_t timeout_ms = 5000) {
    return https_request(loop_, port_, ca_file(), method, path, headers, body, timeout_ms);
  }

  HttpsExchange token_request(const std::string& credentials) {
    return request("POST", "/oauth/token",
                   {{"Authorization", "Basic " + base64(credentials)}, {"Content-Type", "application/x-www-form-urlencoded"}},
                   "grant_type=client_credentials");
  }

  std::string token() {
    HttpsExchange r = token_request("ixcluster:local-secret");
    EXPECT_EQ(r.status(), 200) << r.response << r.close_reason;
    json body = json::parse(r.body(), nullptr, false);
    EXPECT_TRUE(body.is_object() && body.value("token_type", "") == "bearer" && body["expires_in"].is_number_integer())
        << r.body();
    return body.is_object() ? body.value("access_token", "") : "";
  }

  HttpsExchange post(const std::string& token, uint64_t fencing, const json& targets, const std::string& node = "proxy-1",
                     uint64_t timeout_ms = 5000) {
    return request("POST", kBulk,
                   {{"Authorization", "Bearer " + token},
                    {"Content-Type", "application/json"},
                    {"X-Pacing-Fencing-Token", std::to_string(fencing)},
                    {"X-Pacing-Node", node}},
                   bulk_body(fencing, targets).dump(), timeout_ms);
  }

  json state() {
    HttpsExchange r = request("GET", "/admin/state");
    EXPECT_EQ(r.status(), 200) << r.response;
    return json::parse(r.body(), nullptr, false);
  }

  void set_mode(const std::string& mode) {
    HttpsExchange r = request("POST", "/admin/mode", {{"Content-Type", "application/json"}}, json{{"mode", mode}}.dump());
    ASSERT_EQ(r.status(), 200) << r.response;
  }

  std::unique_ptr<Process> engage_;
  uint16_t port_ = 0;
};

TEST_F(IxengageTest, IssuesATokenAndAnswersPendingInvitationsPerTarget) {
  start_engage({"--no-submit", "--lead-rate", "50", "--accept-probability", "0", "--invitation-timeout", "1s"});
  EXPECT_TRUE(eventually([&] { return engage_->log().find("ixengage listening on https://127.0.0.1:" + std::to_string(port_) +
                                                           " (CA: " + ca_file() + ")") != std::string::npos; }))
      << engage_->log();

  // Wrong secret, no credentials, another grant: refused the OAuth2 way.
  HttpsExchange wrong = token_request("ixcluster:guess");
  EXPECT_EQ(wrong.status(), 401) << wrong.response;
  EXPECT_EQ(json::parse(wrong.body(), nullptr, false).value("error", ""), "invalid_client") << wrong.body();
  EXPECT_EQ(request("POST", "/oauth/token", {}, "grant_type=client_credentials").status(), 401);
  EXPECT_EQ(request("POST", "/oauth/token", {{"Authorization", "Basic " + base64("ixcluster:local-secret")}}, "grant_type=password")
                .status(),
            400);

  const std::string access = token();
  ASSERT_FALSE(access.empty());
  // Leads wait for invitations before the first post.
  ASSERT_TRUE(eventually([&] { return state()["targets"][kTarget].value("waiting", 0) >= 3; })) << state().dump();

  HttpsExchange first = post(access, 3, json::array({target(kTarget, 3), target("Other - chat", 2, "Other")}));
  ASSERT_EQ(first.status(), 200) << first.response;
  json answer = json::parse(first.body(), nullptr, false);
  ASSERT_TRUE(answer.is_object()) << first.body();
  ASSERT_EQ(answer["targets"].size(), 1u) << answer.dump();
  EXPECT_EQ(answer["targets"][0]["id"], kTarget);
  EXPECT_EQ(answer["targets"][0]["pendingInvitations"], 3) << "three invitations went out to waiting leads";
  EXPECT_EQ(answer["targets"][0]["invitationsAnswered"], 0) << "none answered yet";
  ASSERT_EQ(answer["errors"].size(), 1u) << answer.dump();
  EXPECT_EQ(answer["errors"][0]["id"], "Other - chat");
  EXPECT_EQ(answer["errors"][0]["code"], "target.unknown");

  json s = state();
  EXPECT_EQ(s["targets"][kTarget]["allowed"], 3);
  EXPECT_EQ(s["targets"][kTarget]["invitations_sent"], 3);
  EXPECT_EQ(s["targets"][kTarget]["pending"], 3);
  EXPECT_FALSE(s["targets"].contains("Other - chat"));
  // Nobody accepts: the invitations expire after a second, and the next answer says so.
  ASSERT_TRUE(eventually([&] { return state()["targets"][kTarget].value("expired", 0) == 3; })) << state().dump();
  HttpsExchange second = post(access, 3, json::array({target(kTarget, 0)}));
  ASSERT_EQ(second.status(), 200) << second.response;
  const json again = json::parse(second.body())["targets"][0];
  EXPECT_EQ(again["pendingInvitations"], 0) << second.body();
  // The running totals the pacer's acceptance comes from: three answered (expired after the
  // one-second timeout), none accepted — so no delay until an acceptance either.
  EXPECT_EQ(again["invitationsAnswered"], 3) << second.body();
  EXPECT_EQ(again["invitationsAccepted"], 0) << second.body();
  EXPECT_DOUBLE_EQ(again.value("answerDelaySeconds", -1.0), 0.0) << second.body();
  s = state();
  EXPECT_EQ(s["posts"], 2);
  EXPECT_EQ(s["answers"]["200"], 2);
  EXPECT_EQ(s["targets"][kTarget]["invitations_sent"], 3) << "none allowed by the second post";

  // A client that does not trust the simulator's CA never gets to talk to it.
  std::ofstream(dir_ / "other-ca.pem") << test_certificates().ca_pem;
  HttpsExchange stranger = https_request(loop_, port_, (dir_ / "other-ca.pem").string(), "GET", "/admin/state");
  EXPECT_FALSE(stranger.answered());
  EXPECT_NE(stranger.close_reason.find("TLS"), std::string::npos) << stranger.close_reason;
}

TEST_F(IxengageTest, RefusesBulkPostsWithoutAValidToken) {
  start_engage({"--no-submit", "--token-ttl", "1s"});
  const json targets = json::array({target(kTarget, 1)});
  HttpsExchange none = request("POST", kBulk, {{"X-Pacing-Fencing-Token", "1"}}, bulk_body(1, targets).dump());
  EXPECT_EQ(none.status(), 401) << none.response;
  EXPECT_EQ(post("not-a-token", 1, targets).status(), 401);

  const std::string access = token();
  EXPECT_EQ(post(access, 1, targets).status(), 200);
  // A second later the token has expired.
  EXPECT_TRUE(eventually([&] { return post(access, 1, targets).status() == 401; }, std::chrono::seconds(5)));

  const std::string fresh = token();
  EXPECT_EQ(post(fresh, 1, targets).status(), 200);
  EXPECT_EQ(request("POST", "/admin/revoke-tokens").status(), 200);
  EXPECT_EQ(post(fresh, 1, targets).status(), 401) << "a revoked token is refused";
  EXPECT_GE(state()["answers"]["401"].get<int>(), 4);
}

TEST_F(IxengageTest, RefusesAStaleFencingNumberAndRecordsEveryOne) {
  start_engage({"--no-submit"});
  const std::string access = token();
  const json targets = json::array({target(kTarget, 1)});
  EXPECT_EQ(post(access, 7, targets, "proxy-1").status(), 200);
  EXPECT_EQ(post(access, 7, targets, "proxy-1").status(), 200) << "the same master posts again with its number";
  HttpsExchange stale = post(access, 5, targets, "proxy-2");
  EXPECT_EQ(stale.status(), 409) << stale.response;
  EXPECT_EQ(json::parse(stale.body(), nullptr, false).value("error", ""), "stale fencing token 5; highest seen 7");
  EXPECT_EQ(post(access, 8, targets, "proxy-2").status(), 200) << "a new master with a higher number";

  // Header and body disagree, header missing, body malformed: 400 with the reason.
  HttpsExchange disagree = request("POST", kBulk, {{"Authorization", "Bearer " + access}, {"X-Pacing-Fencing-Token", "9"}},
                                   bulk_body(10, targets).dump());
  EXPECT_EQ(disagree.status(), 400);
  EXPECT_NE(disagree.body().find("disagrees"), std::string::npos) << disagree.body();
  HttpsExchange missing = request("POST", kBulk, {{"Authorization", "Bearer " + access}}, bulk_body(10, targets).dump());
  EXPECT_EQ(missing.status(), 400);
  EXPECT_NE(missing.body().find("X-Pacing-Fencing-Token"), std::string::npos) << missing.body();
  HttpsExchange garbage = request("POST", kBulk, {{"Authorization", "Bearer " + access}, {"X-Pacing-Fencing-Token", "9"}}, "{\"targ");
  EXPECT_EQ(garbage.status(), 400);
  EXPECT_NE(garbage.body().find("not JSON"), std::string::npos) << garbage.body();
  json negative = bulk_body(9, json::array({target(kTarget, 1)}));
  negative["targets"][0]["invitationsAllowed"] = -1;
  HttpsExchange bad = request("POST", kBulk, {{"Authorization", "Bearer " + access}, {"X-Pacing-Fencing-Token", "9"}}, negative.dump());
  EXPECT_EQ(bad.status(), 400);
  EXPECT_NE(bad.body().find("targets[0].invitationsAllowed"), std::string::npos) << bad.body();

  // Bytes that are not UTF-8, in the body and in a header, get a 400 like any other bad input.
  HttpsExchange latin1 = request("POST", kBulk, {{"Authorization", "Bearer " + access}, {"X-Pacing-Fencing-Token", "\xff" "9"}},
                                 "{\"fencingToken\": \"\xe9\"}");
  EXPECT_EQ(latin1.status(), 400) << latin1.response;
  HttpsExchange latin1_body = request("POST", kBulk, {{"Authorization", "Bearer " + access}, {"X-Pacing-Fencing-Token", "9"}},
                                      "\xe9\xff");
  EXPECT_EQ(latin1_body.status(), 400) << latin1_body.response;

  const json s = state();
  EXPECT_EQ(s["refused"], 1);
  EXPECT_EQ(s["answers"]["409"], 1);
  EXPECT_EQ(s["highest_fencing"], 8);
  ASSERT_EQ(s["fencing"].size(), 4u) << s.dump();
  const std::vector<std::tuple<int, std::string, bool>> expected{{7, "proxy-1", false}, {7, "proxy-1", false}, {5, "proxy-2", true},
                                                                 {8, "proxy-2", false}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(s["fencing"][i]["token"], std::get<0>(expected[i])) << i;
    EXPECT_EQ(s["fencing"][i]["node"], std::get<1>(expected[i])) << i;
    EXPECT_EQ(s["fencing"][i]["refused"], std::get<2>(expected[i])) << i;
  }
}

TEST_F(IxengageTest, MisbehavesInEveryFailureModeOnRequest) {
  start_engage({"--no-submit", "--mode", "fail"});
  const std::string access = token();  // tokens keep working in mode fail
  const json targets = json::array({target(kTarget, 1)});
  uint64_t fencing = 1;
  EXPECT_EQ(post(access, fencing++, targets).status(), 500);

  set_mode("stall");
  HttpsExchange stalled = post(access, fencing++, targets, "proxy-1", 1500);
  EXPECT_FALSE(stalled.answered()) << "a stalled service never answers: " << stalled.response;
  EXPECT_EQ(state()["stalled"], 1);

  set_mode("unauthorized");
  EXPECT_EQ(token_request("ixcluster:local-secret").status(), 401);
  EXPECT_EQ(post(access, fencing++, targets).status(), 401);

  set_mode("bulk-unauthorized");
  EXPECT_EQ(token_request("ixcluster:local-secret").status(), 200);
  EXPECT_EQ(post(access, fencing++, targets).status(), 401);

  set_mode("invalid-json");
  HttpsExchange broken = post(access, fencing++, targets);
  EXPECT_EQ(broken.status(), 200);
  EXPECT_TRUE(json::parse(broken.body(), nullptr, false).is_discarded()) << broken.body();

  set_mode("target-errors");
  HttpsExchange errors = post(access, fencing++, json::array({target(kTarget, 1), target("Other - chat", 1, "Other")}));
  EXPECT_EQ(errors.status(), 200);
  const json answer = json::parse(errors.body(), nullptr, false);
  ASSERT_TRUE(answer.is_object()) << errors.body();
  EXPECT_TRUE(answer["targets"].empty()) << answer.dump();
  ASSERT_EQ(answer["errors"].size(), 2u) << answer.dump();
  EXPECT_EQ(answer["errors"][0]["id"], kTarget);

  HttpsExchange unknown = request("POST", "/admin/mode", {}, R"({"mode": "sulk"})");
  EXPECT_EQ(unknown.status(), 400);
  EXPECT_NE(unknown.body().find("target-errors"), std::string::npos) << "the answer lists the modes: " << unknown.body();

  set_mode("ok");
  HttpsExchange fine = post(access, fencing++, targets);
  EXPECT_EQ(fine.status(), 200) << fine.response;
  const json s = state();
  EXPECT_EQ(s["mode"], "ok");
  EXPECT_EQ(s["posts"], 7);
  EXPECT_EQ(s["answers"]["500"], 1);
  EXPECT_EQ(s["answers"]["401"], 2);
  EXPECT_EQ(s["answers"]["200"], 3);
}

TEST_F(IxengageTest, KeepsItsCertificatesAcrossRestarts) {
  start_engage({"--no-submit"});
  const std::string ca = read_file(ca_file()), cert = read_file(state_dir() / "cert.pem");
  ASSERT_NE(ca.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(std::filesystem::status(state_dir() / "key.pem").permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  EXPECT_NE(engage_->log().find("generated a new CA"), std::string::npos) << engage_->log();
  const auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(engage_->kill(SIGTERM), 0) << engage_->log();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(2)) << "SIGTERM stops it promptly";

  start_engage({"--no-submit"});
  EXPECT_EQ(read_file(ca_file()), ca);
  EXPECT_EQ(read_file(state_dir() / "cert.pem"), cert);
  EXPECT_NE(engage_->log().find("reusing the CA"), std::string::npos) << engage_->log();
  EXPECT_FALSE(token().empty()) << "a client trusting the first CA still talks to the restarted simulator";
  EXPECT_EQ(engage_->kill(SIGINT), 0);

  // Half a state directory is refused, not silently replaced.
  std::filesystem::remove(state_dir() / "cert.pem");
  CommandResult partial = run_command({IX_IXENGAGE, "--port", "0", "--state-dir", state_dir().string(), "--credentials", "a:b"});
  EXPECT_EQ(partial.exit_code, 1);
  EXPECT_NE(partial.err.find("only some of ca.pem, cert.pem and key.pem"), std::string::npos) << partial.err;
  CommandResult usage = run_command({IX_IXENGAGE, "--port", "0", "--state-dir", state_dir().string()});
  EXPECT_EQ(usage.exit_code, 3);
  EXPECT_NE(usage.err.find("--credentials"), std::string::npos) << usage.err;
}

TEST_F(IxengageTest, AcceptedInvitationsBecomeProactiveChatsInTheCluster) {
  start_cluster();
  start_proxy(1);
  // Submits through the configuration's proxies (both); every visitor accepts, quickly.
  start_engage({"--lead-rate", "50", "--accept-probability", "1", "--accept-delay", "50ms..150ms"});
  ASSERT_TRUE(eventually([&] {
    const json s = state();
    return s["proxies"].size() == 2 && s["proxies"][0].value("connected", false) && s["proxies"][1].value("connected", false) &&
           s["targets"][kTarget].value("waiting", 0) >= 4;
  })) << state().dump();

  const std::string access = token();
  HttpsExchange r = post(access, 1, json::array({target(kTarget, 4)}));
  ASSERT_EQ(r.status(), 200) << r.response;
  EXPECT_EQ(json::parse(r.body())["targets"][0]["pendingInvitations"], 4);
  ASSERT_TRUE(eventually([&] { return state()["targets"][kTarget].value("submitted", 0) == 4; })) << state().dump();

  // What an agent desktop would be offered: four proactive chats in the proactive queue, each
  // naming the target's virtual queue.
  auto routing = proxy_client(0, proto::ClientType::RoutingEngine);
  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "queue = 'proactive-chat'";
  find.limit = 100;
  EnvelopePtr found = routing->call(find);
  ASSERT_TRUE(found && found->body.AsEventFindResult()) << error_text(found);
  const auto& interactions = found->body.AsEventFindResult()->interactions;
  ASSERT_EQ(interactions.size(), 4u);
  for (const auto& i : interactions) {
    EXPECT_EQ(i->media_type, "chat");
    EXPECT_EQ(i->interaction_type, "Outbound");
    EXPECT_EQ(i->interaction_subtype, "Proactive");
    std::string virtual_queue;
    int64_t proactive = 0;
    for (const auto& pair : i->user_data->pairs) {
      if (pair->key == "VirtualQueue") virtual_queue = pair->string_value;
      if (pair->key == "proactive") proactive = pair->int_value;
    }
    EXPECT_EQ(virtual_queue, "Proactive Chat") << i->interaction_id;
    EXPECT_EQ(proactive, 1) << i->interaction_id;
  }
  const json s = state();
  EXPECT_EQ(s["targets"][kTarget]["accepted"], 4);
  EXPECT_EQ(s["targets"][kTarget]["submit_failures"], 0);
  EXPECT_EQ(s["proxies"][0]["submitted"].get<int>() + s["proxies"][1]["submitted"].get<int>(), 4);
  EXPECT_GT(s["proxies"][0]["submitted"].get<int>(), 0) << "submissions alternate between the proxies";
  EXPECT_GT(s["proxies"][1]["submitted"].get<int>(), 0) << "submissions alternate between the proxies";
}

// With a [pacing] section, the bulk endpoint is where that configuration's pacing client posts.
class IxengagePacingConfigTest : public IxengageTest {
 protected:
  void extend_config(ConfigBuilder& c) const override {
    IxengageTest::extend_config(c);
    c.raw("\n[pacing]\ntenant = \"101\"\ncredentials-env = \"IX_TEST_ENGAGEMENT\"\nauth-url = \"https://127.0.0.1:9/oauth/token\"\n[pacing.endpoint]\n"
          "base-urls = [\"https://127.0.0.1:9/engage/\"]\ntarget-endpoint = \"v9/targets\"\n");
  }
};

TEST_F(IxengagePacingConfigTest, ServesTheBulkEndpointWhereTheConfigurationPosts) {
  start_engage({"--no-submit"});
  const std::string access = token();
  const std::string body = bulk_body(1, json::array({target(kTarget, 1)})).dump();
  const std::vector<std::pair<std::string, std::string>> headers{{"Authorization", "Bearer " + access},
                                                                 {"X-Pacing-Fencing-Token", "1"}};
  HttpsExchange configured = request("POST", "/engage/v9/targets", headers, body);
  EXPECT_EQ(configured.status(), 200) << configured.response;
  EXPECT_EQ(request("POST", kBulk, headers, body).status(), 404);
}

// The loop the main job runs: ixengage's accepted invitations are handled by ixsim's agents (its
// routing engine pulls them and gives them to the target's agent group; its desktops accept,
// handle and stop them), though ixsim itself submitted none of them.
TEST_F(IxengageTest, IxsimAgentsHandleTheProactiveChats) {
  start_cluster();
  const std::string proxy = "127.0.0.1:" + std::to_string(proxy_ports_[0].first);
  start_engage({"--proxy", proxy, "--lead-rate", "50", "--accept-probability", "1", "--accept-delay", "50ms..100ms"});
  ASSERT_TRUE(eventually([&] {
    const json s = state();
    return s["proxies"].size() == 1 && s["proxies"][0].value("connected", false) && s["targets"][kTarget].value("waiting", 0) >= 3;
  })) << state().dump();
  ASSERT_EQ(post(token(), 1, json::array({target(kTarget, 3)})).status(), 200);
  ASSERT_TRUE(eventually([&] { return state()["targets"][kTarget].value("submitted", 0) == 3; })) << state().dump();

  auto routing = proxy_client(0, proto::ClientType::RoutingEngine);
  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "queue = 'proactive-chat' and ud.VirtualQueue = 'Proactive Chat'";
  find.limit = 100;
  EnvelopePtr found = routing->call(find);
  ASSERT_TRUE(found && found->body.AsEventFindResult()) << error_text(found);
  std::vector<std::string> chats;
  for (const auto& i : found->body.AsEventFindResult()->interactions) chats.push_back(i->interaction_id);
  ASSERT_EQ(chats.size(), 3u);
  routing.reset();

  const std::string report_file = (dir_ / "ixsim-report.json").string();
  CommandResult run = run_command({IX_IXSIM, "--config", (dir_ / "cluster.toml").string(), "--server", proxy, "--flow",
                                   "chat=inbound/proactive-view", "--proactive-share", "0", "--rate", "0.5", "--duration", "4",
                                   "--handle-time", "0.5", "--seed", "3", "--report", report_file});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  std::ifstream in(report_file);
  const json report = json::parse(in);
  EXPECT_EQ(report["proactive"], 0) << report.dump();
  EXPECT_GE(report["adopted"].get<size_t>(), chats.size()) << "ixsim's desktops took chats it did not submit: " << report.dump();
  std::set<std::string> handled;
  for (const auto& id : report["interactions"]["handled"]) handled.insert(id.get<std::string>());
  for (const std::string& id : chats) EXPECT_TRUE(handled.contains(id)) << id << " was not handled: " << report.dump();
}

}  // namespace
}  // namespace ix::test
