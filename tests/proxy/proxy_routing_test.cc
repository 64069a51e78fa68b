// ixproxy in front of two real node pairs: where requests land, how they are found again, and
// the cluster error codes a client sees.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

constexpr int code(proto::ErrorCode c) { return static_cast<int>(c); }

std::string submitted_id(const EnvelopePtr& reply) {
  return reply && reply->body.AsEventSubmitted() ? reply->body.AsEventSubmitted()->interaction_id : "";
}

EnvelopePtr get_properties(ProtocolClient& client, const std::string& id) {
  proto::RequestGetPropertiesT r;
  r.interaction_id = id;
  return client.call(r);
}

class ProxyRouting : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    start_cluster();
  }
};

TEST_F(ProxyRouting, SubmitsSpreadOverEligiblePairsAndAreFoundThroughAnyProxy) {
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::map<std::string, int> by_tag;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    const std::string id = submitted_id(media->call(chat_submit()));
    ASSERT_FALSE(id.empty());
    ++by_tag[id.substr(0, 2)];
    ids.push_back(id);
  }
  EXPECT_EQ(by_tag["p1"], 5);  // both pairs list chat: balanced
  EXPECT_EQ(by_tag["p2"], 5);
  for (int i = 0; i < 4; ++i) {
    const std::string id = submitted_id(media->call(chat_submit("email")));
    EXPECT_EQ(id.substr(0, 3), "p1-") << "only pair-1 lists email";
    ids.push_back(id);
  }
  // A client-supplied ID: no tag, so a new proxy finds it by asking every pair.
  ASSERT_EQ(submitted_id(media->call(chat_submit("chat", "order-1"))), "order-1");
  ids.push_back("order-1");

  start_proxy(1);
  auto fresh = proxy_client(1, proto::ClientType::MediaServer);
  for (const std::string& id : ids) {
    EnvelopePtr props = get_properties(*fresh, id);
    ASSERT_TRUE(props && props->body.AsEventProperties()) << id << ": " << error_text(props);
    EXPECT_EQ(props->body.AsEventProperties()->interaction->interaction_id, id);
  }
  // The first lookup of the client-supplied ID was a miss; the second is a cache hit.
  EXPECT_TRUE(get_properties(*fresh, "order-1")->body.AsEventProperties());
  EXPECT_NE(proxy_metrics(1).find("ix_proxy_cache_lookups_total{result=\"hit\"} 1"), std::string::npos) << proxy_metrics(1);
}

TEST_F(ProxyRouting, AnswersWhatItCannotRouteWithTheClusterCodes) {
  // Nothing before registration; a proxy cannot register with a proxy.
  ProtocolClient early(loop_, proxy_ports_[0].first);
  EXPECT_EQ(error_code(early.call(chat_submit())), code(proto::ErrorCode::NotRegistered));
  EXPECT_TRUE(loop_.run_until([&] { return early.closed(); }, 2000));
  ProtocolClient impostor(loop_, proxy_ports_[0].first);
  EnvelopePtr refused = impostor.register_as(proto::ClientType::Proxy);
  EXPECT_EQ(error_code(refused), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(error_text(refused).find("client_type Proxy"), std::string::npos) << error_text(refused);

  auto media = proxy_client(0, proto::ClientType::MediaServer);

  // 2000: ping and other unsupported requests, naming the request.
  EnvelopePtr pong = media->call(proto::RequestPingT{});
  EXPECT_EQ(error_code(pong), code(proto::ErrorCode::ClusterUnsupportedOperation));
  EXPECT_NE(error_text(pong).find("RequestPing"), std::string::npos);

  // 2001: a disabled media type, and a tenant no pair serves.
  EnvelopePtr sms = media->call(chat_submit("sms"));
  EXPECT_EQ(error_code(sms), code(proto::ErrorCode::ClusterNoServerForMedia));
  EXPECT_NE(error_text(sms).find("disabled"), std::string::npos) << error_text(sms);
  proto::RequestSubmitT other_tenant = chat_submit();
  other_tenant.tenant_id = "202";
  EXPECT_EQ(error_code(media->call(other_tenant)), code(proto::ErrorCode::ClusterNoServerForMedia));

  // Missing or wrong routing attributes are named.
  proto::RequestSubmitT no_media = chat_submit();
  no_media.media_type.clear();
  EnvelopePtr missing = media->call(no_media);
  EXPECT_EQ(error_code(missing), code(proto::ErrorCode::MissingAttribute));
  EXPECT_NE(error_text(missing).find("RequestSubmit.media_type"), std::string::npos);
  proto::RequestSubmitT bad_tenant = chat_submit();
  bad_tenant.tenant_id = "999";
  EXPECT_NE(error_text(media->call(bad_tenant)).find("RequestSubmit.tenant_id \"999\""), std::string::npos);
  EnvelopePtr no_id = media->call(proto::RequestStopProcessingT{});
  EXPECT_EQ(error_code(no_id), code(proto::ErrorCode::MissingAttribute));
  EXPECT_NE(error_text(no_id).find("RequestStopProcessing.interaction_id"), std::string::npos);

  // An unknown ID that every pair denies is a definite "unknown".
  EXPECT_EQ(error_code(get_properties(*media, "nobody-has-this")), code(proto::ErrorCode::UnknownInteraction));
  // The client type rule still holds behind the proxy (a node trusts the proxy with everything).
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.view_id = "all-inbound";
  EXPECT_EQ(error_code(media->call(pull)), code(proto::ErrorCode::RequestNotAllowed));
}

TEST_F(ProxyRouting, DuplicateClientSuppliedIdsAreRefusedAnd2005WhenTwoPairsHaveOne) {
  // Created behind the proxy's back, straight on each pair: the situation the seed documents.
  for (int pair = 0; pair < 2; ++pair) {
    auto direct = node_client(pair, proto::ClientType::MediaServer);
    ASSERT_EQ(submitted_id(direct->call(chat_submit("chat", "dup-1"))), "dup-1");
  }
  auto direct = node_client(0, proto::ClientType::MediaServer);
  ASSERT_EQ(submitted_id(direct->call(chat_submit("chat", "solo-1"))), "solo-1");

  auto media = proxy_client(0, proto::ClientType::MediaServer);
  EnvelopePtr two = get_properties(*media, "dup-1");
  EXPECT_EQ(error_code(two), code(proto::ErrorCode::ClusterDuplicateInteraction));
  EXPECT_NE(error_text(two).find("pair-1, pair-2"), std::string::npos) << error_text(two);

  // Submitting an ID that already exists on another pair is refused, whichever pair is next.
  for (int i = 0; i < 2; ++i) {
    EnvelopePtr again = media->call(chat_submit("chat", "solo-1"));
    EXPECT_EQ(error_code(again), code(proto::ErrorCode::DuplicateInteractionId)) << error_text(again);
    EXPECT_NE(error_text(again).find("pair-1"), std::string::npos);
  }
  EXPECT_EQ(error_code(media->call(chat_submit("chat", "dup-1"))), code(proto::ErrorCode::ClusterDuplicateInteraction));
}

TEST_F(ProxyRouting, AStoppedPairGives2003And2002AndSubmitsAvoidIt) {
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::string on_pair_2;
  while (on_pair_2.empty()) {
    const std::string id = submitted_id(media->call(chat_submit()));
    ASSERT_FALSE(id.empty());
    if (id.rfind("p2-", 0) == 0) on_pair_2 = id;
  }
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  nodes_[1][1]->kill(SIGKILL);
  nodes_[1][0]->kill(SIGKILL);
  // Both workers see the connections close (a request racing that would get 2002 instead).
  ASSERT_TRUE(loop_.run_until([&] {
    const std::string m = proxy_metrics(0);
    return m.find("ix_proxy_pair_reachable{pair=\"pair-2\",worker=\"0\"} 0") != std::string::npos &&
           m.find("ix_proxy_pair_reachable{pair=\"pair-2\",worker=\"1\"} 0") != std::string::npos;
  }, 5000)) << proxy_metrics(0);

  // Known owner, known to be down: 2003 naming the pair — answered at once, not after a timeout.
  const uint64_t started = uv_now(loop_.get());
  EnvelopePtr lost = get_properties(*media, on_pair_2);
  EXPECT_EQ(error_code(lost), code(proto::ErrorCode::ClusterInteractionNotAccessible)) << error_text(lost);
  EXPECT_NE(error_text(lost).find("pair-2"), std::string::npos);
  EXPECT_LT(uv_now(loop_.get()) - started, 1000u);
  // Unknown client ID with a pair down: the proxy cannot say it does not exist.
  EXPECT_EQ(error_code(get_properties(*media, "order-77")), code(proto::ErrorCode::ClusterInteractionNotAccessible));
  // An agent login needs every pair serving the tenant: 2002 naming the missing one.
  EnvelopePtr login = desktop->call(agent_login("a1"));
  EXPECT_EQ(error_code(login), code(proto::ErrorCode::ClusterLostConnection)) << error_text(login);
  EXPECT_NE(error_text(login).find("pair-2"), std::string::npos);
  // Submits go to the pair that is left.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(submitted_id(media->call(chat_submit())).substr(0, 3), "p1-");
  const std::string metrics = proxy_metrics(0);
  EXPECT_NE(metrics.find("ix_proxy_errors_total{code=\"2003\"} 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ix_proxy_upstream_state{pair=\"pair-2\",endpoint=\"primary\",worker=\"1\"} 0"), std::string::npos);
  EXPECT_NE(metrics.find("ix_proxy_upstream_state{pair=\"pair-1\",endpoint=\"primary\",worker=\"1\"} 2"), std::string::npos)
      << metrics;

  // Still ready: every media type has a reachable pair. Not once pair-1 is gone too.
  EXPECT_EQ(http_get(loop_, proxy_ports_[0].second, "/readyz").status(), 200);
  nodes_[0][1]->kill(SIGKILL);
  nodes_[0][0]->kill(SIGKILL);
  ASSERT_TRUE(loop_.run_until([&] { return http_get(loop_, proxy_ports_[0].second, "/readyz").status() == 503; }, 5000));
  EXPECT_NE(http_get(loop_, proxy_ports_[0].second, "/readyz").body().find("no reachable node pair serves media: chat, email"),
            std::string::npos);
}

TEST_F(ProxyRouting, ARequestInFlightWhenTheNodeStallsGets2002WithinTheRequestTimeout) {
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::string on_pair_2;
  while (on_pair_2.empty()) {
    const std::string id = submitted_id(media->call(chat_submit()));
    if (id.rfind("p2-", 0) == 0) on_pair_2 = id;
  }
  nodes_[1][0]->signal(SIGSTOP);
  const uint64_t started = uv_now(loop_.get());
  EnvelopePtr stalled = get_properties(*media, on_pair_2);
  const uint64_t took = uv_now(loop_.get()) - started;
  nodes_[1][0]->signal(SIGCONT);
  EXPECT_EQ(error_code(stalled), code(proto::ErrorCode::ClusterLostConnection)) << error_text(stalled);
  EXPECT_NE(error_text(stalled).find("pair-2 primary"), std::string::npos) << error_text(stalled);
  EXPECT_GE(took, 2900u);  // request-timeout is 3 s
  EXPECT_LT(took, 4500u);
  // The node answers again once it runs: the link reconnects and the interaction is there.
  ASSERT_TRUE(loop_.run_until([&] { return get_properties(*media, on_pair_2)->body.AsEventProperties() != nullptr; }, 10'000));
}

TEST_F(ProxyRouting, PullHoldTimeoutKeepsAnEmptyPairFromStallingThePull) {
  // Three interactions, all on pair-2; pair-1 stays empty.
  auto direct = node_client(1, proto::ClientType::MediaServer);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(direct->call(chat_submit())->body.AsEventSubmitted());
  auto router = proxy_client(0, proto::ClientType::RoutingEngine);
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.view_id = "all-inbound";
  pull.for_strategy = true;
  pull.hold_time_ms = 20'000;
  // Whichever pair is asked first, the busy one answers at once.
  for (int i = 0; i < 3; ++i) {
    const uint64_t started = uv_now(loop_.get());
    EnvelopePtr reply = router->call(pull);
    ASSERT_TRUE(reply && reply->body.AsEventPulled()) << error_text(reply);
    ASSERT_EQ(reply->body.AsEventPulled()->interactions.size(), 1u);
    EXPECT_EQ(reply->body.AsEventPulled()->interactions[0]->node_id, "pair-2");
    EXPECT_LT(uv_now(loop_.get()) - started, 500u);
  }
  // Both empty: an interaction arriving on either pair while the pull waits is found within
  // about one pull-hold-timeout (1 s), not after the 20 s the client allowed.
  const uint64_t ref = router->send(pull);
  ASSERT_TRUE(loop_.run_until([&] { return proxy_metrics(0).find("\nix_proxy_pulls_waiting 1\n") != std::string::npos; }, 5000))
      << "the pull is in its holding pass: " << proxy_metrics(0);
  EnvelopePtr late = direct->call(chat_submit());
  const uint64_t arrived = uv_now(loop_.get());
  EnvelopePtr reply = router->wait_reply(ref, 25'000);
  ASSERT_TRUE(reply && reply->body.AsEventPulled()) << error_text(reply);
  ASSERT_EQ(reply->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(reply->body.AsEventPulled()->interactions[0]->interaction_id, late->body.AsEventSubmitted()->interaction_id);
  EXPECT_LT(uv_now(loop_.get()) - arrived, 1800u);
  // Nothing at all: the answer is empty once the client's hold time is over.
  pull.hold_time_ms = 1500;
  const uint64_t started = uv_now(loop_.get());
  EnvelopePtr empty = router->call(pull, 0);
  ASSERT_TRUE(empty && empty->body.AsEventPulled());
  EXPECT_TRUE(empty->body.AsEventPulled()->interactions.empty());
  EXPECT_GE(uv_now(loop_.get()) - started, 1400u);
  EXPECT_LT(uv_now(loop_.get()) - started, 3000u);
}

TEST_F(ProxyRouting, SnapshotsSpanPairsPageInTheirOrderThroughAnyProxyAndGive2006WhenAPartIsGone) {
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  std::vector<std::pair<int, std::string>> submitted;  // (priority, id) in submission order
  for (int i = 0; i < 9; ++i) {
    proto::RequestSubmitT r = chat_submit();
    r.priority = (i * 7) % 5;
    submitted.emplace_back(r.priority, submitted_id(media->call(r)));
  }
  // What one server would page: priority first, then the oldest (submission order).
  std::stable_sort(submitted.begin(), submitted.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> expected;
  for (const auto& [priority, id] : submitted) expected.push_back(id);

  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  proto::RequestTakeSnapshotT take;
  take.tenant_id = "101";
  take.view_id = "all-inbound";
  take.order = "priority desc, submitted asc";
  EnvelopePtr taken = desktop->call(take);
  ASSERT_TRUE(taken && taken->body.AsEventSnapshotTaken()) << error_text(taken);
  EXPECT_EQ(taken->body.AsEventSnapshotTaken()->count, 9u);  // the cluster total
  const std::string id = taken->body.AsEventSnapshotTaken()->snapshot_id;

  auto page_of = [](ProtocolClient& client, const std::string& snapshot, uint32_t start, uint32_t count) {
    proto::RequestSnapshotPageT page;
    page.snapshot_id = snapshot;
    page.start = start;
    page.count = count;
    std::vector<std::string> ids;
    EnvelopePtr reply = client.call(page);
    EXPECT_TRUE(reply && reply->body.AsEventSnapshotPage()) << error_text(reply);
    if (reply && reply->body.AsEventSnapshotPage()) {
      for (const auto& info : reply->body.AsEventSnapshotPage()->interactions) ids.push_back(info->interaction_id);
    }
    return ids;
  };
  start_proxy(1);
  auto other = proxy_client(1, proto::ClientType::AgentApplication);
  std::vector<std::string> paged;
  for (uint32_t start = 0; start < 9; start += 4) {
    std::vector<std::string> page = page_of(*other, id, start, 4);
    EXPECT_EQ(page.size(), std::min(4u, 9 - start));
    paged.insert(paged.end(), page.begin(), page.end());
  }
  EXPECT_EQ(paged, expected) << "pages in the snapshot's order across both pairs";
  // Any position, through the proxy that took it: the same slice.
  EXPECT_EQ(page_of(*desktop, id, 5, 3), std::vector<std::string>(expected.begin() + 5, expected.begin() + 8));
  EXPECT_EQ(page_of(*desktop, id, 2, 2), std::vector<std::string>(expected.begin() + 2, expected.begin() + 4));
  EXPECT_TRUE(page_of(*desktop, id, 20, 5).empty());
  proto::RequestReleaseSnapshotT release;
  release.snapshot_id = id;
  EXPECT_TRUE(other->call(release)->body.AsEventAck());
  EXPECT_EQ(error_code(other->call(release)), code(proto::ErrorCode::ClusterSnapshotNotAccessible));  // already released

  proto::RequestSnapshotPageT bogus;
  bogus.snapshot_id = "not-a-snapshot";
  bogus.count = 1;
  EXPECT_EQ(error_code(other->call(bogus)), code(proto::ErrorCode::InvalidAttribute));

  EnvelopePtr second = desktop->call(take);
  ASSERT_TRUE(second && second->body.AsEventSnapshotTaken());
  nodes_[1][1]->kill(SIGKILL);
  nodes_[1][0]->kill(SIGKILL);
  proto::RequestSnapshotPageT page;
  page.snapshot_id = second->body.AsEventSnapshotTaken()->snapshot_id;
  page.count = 9;
  EnvelopePtr gone = desktop->call(page);
  EXPECT_EQ(error_code(gone), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << error_text(gone);
  EXPECT_NE(error_text(gone).find("p2-snap-"), std::string::npos) << error_text(gone);
}

TEST_F(ProxyRouting, StatusShowsEveryPairAndSighupReloadsRoutingWithoutDroppingClients) {
  // Ready needs the primaries; the backups' links may register a moment later.
  ASSERT_TRUE(loop_.run_until([&] {
    auto s = nlohmann::json::parse(proxy_status(0));
    return s["pairs"][0]["nodes"][1]["state"] == "backup" && s["pairs"][1]["nodes"][1]["state"] == "backup";
  }, 5000)) << proxy_status(0);
  auto status = nlohmann::json::parse(proxy_status(0));
  ASSERT_EQ(status["pairs"].size(), 2u);
  EXPECT_EQ(status["workers"].size(), 2u);
  for (const auto& pair : status["pairs"]) {
    EXPECT_TRUE(pair["reachable"].get<bool>()) << pair.dump();
    EXPECT_NE(pair["serving"].get<std::string>().find("primary"), std::string::npos) << pair.dump();
    EXPECT_EQ(pair["nodes"][1]["state"], "backup");
  }

  auto media = proxy_client(0, proto::ClientType::MediaServer);
  enable_submit_[1] = false;  // pair-2 stops taking new interactions
  write_config();
  proxies_[0]->signal(SIGHUP);
  ASSERT_TRUE(loop_.run_until([&] { return proxies_[0]->log().find("event=reload applied=true") != std::string::npos; }, 5000));
  // Each worker applies it on its own loop and says so.
  ASSERT_TRUE(loop_.run_until([&] {
    const std::string log = proxies_[0]->log();
    return log.find("event=worker_reloaded worker=0") != std::string::npos && log.find("event=worker_reloaded worker=1") != std::string::npos;
  }, 5000)) << proxies_[0]->log();
  for (int i = 0; i < 6; ++i) {
    EnvelopePtr reply = media->call(chat_submit());  // the same connection as before the reload
    ASSERT_TRUE(reply && reply->body.AsEventSubmitted()) << error_text(reply);
    EXPECT_EQ(reply->body.AsEventSubmitted()->interaction_id.substr(0, 3), "p1-");
  }
  // Every worker applied it, and the outcome says so.
  EXPECT_NE(proxy_metrics(0).find("\nix_config_reload_success 1\n"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(proxy_status(0))["reload"]["applied"], true) << proxy_status(0);

  // A file without this proxy: every worker would ignore it, so the reload is refused — one
  // error line, the gauge at 0, /status says why — and the proxy keeps routing as before.
  std::string without = config_text();
  for (size_t at; (at = without.find("\"proxy-1\"")) != std::string::npos;) without.replace(at, 9, "\"proxy-9\"");
  std::ofstream(dir_ / "cluster.toml.tmp") << without;
  std::filesystem::rename(dir_ / "cluster.toml.tmp", dir_ / "cluster.toml");
  proxies_[0]->signal(SIGHUP);
  ASSERT_TRUE(loop_.run_until([&] { return proxies_[0]->log().find("event=reload applied=false") != std::string::npos; }, 5000))
      << proxies_[0]->log();
  const std::string log = proxies_[0]->log();
  const size_t refused_at = log.find("event=reload applied=false");
  const std::string refused = log.substr(log.rfind('\n', refused_at) + 1, log.find('\n', refused_at) - log.rfind('\n', refused_at) - 1);
  EXPECT_NE(refused.find("level=error"), std::string::npos) << refused;
  EXPECT_NE(refused.find("proxy proxy-1 is no longer in the file"), std::string::npos) << refused;
  EXPECT_NE(refused.find("kept=previous"), std::string::npos) << refused;
  EXPECT_NE(proxy_metrics(0).find("\nix_config_reload_success 0\n"), std::string::npos);
  const nlohmann::json reload = nlohmann::json::parse(proxy_status(0))["reload"];
  EXPECT_EQ(reload["applied"], false) << reload.dump();
  ASSERT_EQ(reload["errors"].size(), 1u) << reload.dump();
  EXPECT_EQ(reload["errors"][0], "proxy proxy-1 is no longer in the file");
  EnvelopePtr still = media->call(chat_submit());
  ASSERT_TRUE(still && still->body.AsEventSubmitted()) << error_text(still);
  // The file is right again: applied, and the gauge back at 1.
  written_config_.clear();
  write_config();
  proxies_[0]->signal(SIGHUP);
  ASSERT_TRUE(loop_.run_until([&] { return proxy_metrics(0).find("\nix_config_reload_success 1\n") != std::string::npos; }, 5000))
      << proxies_[0]->log();
  EXPECT_EQ(nlohmann::json::parse(proxy_status(0))["reload"]["applied"], true);

  // Failover as the operator sees it.
  nodes_[0][0]->kill(SIGKILL);
  ASSERT_TRUE(loop_.run_until([&] {
    auto s = nlohmann::json::parse(proxy_status(0));
    return s["pairs"][0]["serving"].get<std::string>().find("pair-1 backup") != std::string::npos;
  }, 10'000)) << proxy_status(0);
  status = nlohmann::json::parse(proxy_status(0));
  EXPECT_EQ(status["pairs"][0]["failovers"], 1);
  EXPECT_EQ(status["pairs"][0]["nodes"][0]["state"], "down");
  // Each worker follows the failover on its own links; the proxy counts it once.
  EXPECT_TRUE(loop_.run_until([&] {
    const std::string metrics = proxy_metrics(0);
    return metrics.find("ix_proxy_upstream_state{pair=\"pair-1\",endpoint=\"backup\",worker=\"0\"} 2\n") != std::string::npos &&
           metrics.find("ix_proxy_upstream_state{pair=\"pair-1\",endpoint=\"backup\",worker=\"1\"} 2\n") != std::string::npos;
  }, 10'000)) << "both workers follow the new primary: " << proxy_metrics(0);
  EXPECT_NE(proxy_metrics(0).find("ix_proxy_failovers_total{pair=\"pair-1\"} 1\n"), std::string::npos) << proxy_metrics(0);
}

}  // namespace
}  // namespace ix::test
