// In-process tests of the proxy session holds (node/server/proxy_session_holds.h, issue 18 item
// 3): a proxy's closed session keeps its agents, locks and snapshots for proxy-session-grace;
// the same worker registering again takes them over with nothing in the event log (its logins
// again are acknowledged and change nothing); the grace running out, or another instance of the
// proxy registering, logs them out and releases them as any closed session; a grace of 0 does
// so at once.
#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

using proto::ErrorCode;

class ProxySessionHoldsTest : public ServiceFixture {
 protected:
  // The registry's logged-in count, and the event log's last seq once every commit is done.
  uint64_t last_seq() {
    settle();
    return store_.load()->last_seq;
  }
  EnvelopePtr proxy_login(RecordingSession& s, const std::string& agent, uint64_t client_id) {
    proto::RequestAgentLoginT login;
    login.tenant_id = "101";
    login.agent_id = agent;
    login.place_id = "pl-" + agent;
    auto chat = std::make_unique<proto::MediaCapacityT>();
    chat->media_type = "chat";
    chat->capacity = 2;
    login.media.push_back(std::move(chat));
    return call(s, login, client_id);
  }
  EnvelopePtr proxy_ready(RecordingSession& s, const std::string& agent, uint64_t client_id) {
    proto::RequestAgentReadyT r;
    r.tenant_id = "101";
    r.agent_id = agent;
    return call(s, r, client_id);
  }
  EnvelopePtr lock(RecordingSession& s, const std::string& id) {
    proto::RequestLockT r;
    r.interaction_id = id;
    return call(s, r);
  }
  std::string take_snapshot(RecordingSession& s) {
    proto::RequestTakeSnapshotT take;
    take.tenant_id = "101";
    take.view_id = "all-inbound";
    EnvelopePtr reply = call(s, take);
    return reply && reply->body.AsEventSnapshotTaken() ? reply->body.AsEventSnapshotTaken()->snapshot_id : "";
  }
  EnvelopePtr page(RecordingSession& s, const std::string& snapshot) {
    proto::RequestSnapshotPageT p;
    p.snapshot_id = snapshot;
    p.count = 10;
    return call(s, p);
  }
  bool chat_ready(const std::string& agent) {
    proto::RequestAgentStatusT r;
    r.tenant_id = "101";
    r.agent_id = agent;
    EnvelopePtr s = call(desktop_, r);
    if (!s || !s->body.AsEventAgentStatus()) return false;
    for (const auto& m : s->body.AsEventAgentStatus()->media) {
      if (m->media_type == "chat") return m->ready;
    }
    return false;
  }
  // Two agents logged in through the proxy (a1 ready), an interaction it locked and a snapshot.
  void proxy_state() {
    ASSERT_TRUE(acked(proxy_login(proxy_, "a1", 7)));
    ASSERT_TRUE(acked(proxy_ready(proxy_, "a1", 7)));
    ASSERT_TRUE(acked(proxy_login(proxy_, "a2", 8)));
    locked_ = submit();
    ASSERT_TRUE(acked(lock(proxy_, locked_)));
    snapshot_ = take_snapshot(proxy_);
    ASSERT_FALSE(snapshot_.empty());
  }

  const node::ProxyIdentity worker_{"ixproxy proxy-1 worker 0", "0123456789ab"};
  RecordingSession proxy_again_{proto::ClientType::Proxy};
  std::string locked_, snapshot_;
};

TEST_F(ProxySessionHoldsTest, TheSameWorkerReconnectingWithinTheGraceTakesEverythingOverSilently) {
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  const std::string waiting = submit();
  const uint64_t before = last_seq();
  service_->proxy_session_closed(proxy_, worker_);
  EXPECT_EQ(service_->held_proxy_sessions(), 1u);
  EXPECT_EQ(service_->agents().logged_in(), 2u) << "the agents stay logged in while the proxy reconnects";
  EXPECT_TRUE(find(locked_)->locked);
  EnvelopePtr unreachable = deliver(waiting, "a1");
  EXPECT_EQ(error_code(unreachable), ErrorCode::WrongState) << "no connection would carry the invitation";
  clock_.advance(4'000);  // within the default proxy-session-grace (5s)

  service_->session_opened(proxy_again_);
  EXPECT_TRUE(service_->proxy_registered(proxy_again_, worker_));
  EXPECT_EQ(service_->held_proxy_sessions(), 0u);
  // The proxy logs its agents in again (with their readiness) on every pair that came back: the
  // node acknowledges and reports nothing, because nothing changed.
  EXPECT_TRUE(acked(proxy_login(proxy_again_, "a1", 7)));
  EXPECT_TRUE(acked(proxy_ready(proxy_again_, "a1", 7)));
  EXPECT_TRUE(acked(proxy_login(proxy_again_, "a2", 8)));
  clock_.advance(60'000);  // long past the grace: nothing is pending any more
  EXPECT_EQ(last_seq(), before) << "no logout, no login, no ready in the event log";
  EXPECT_EQ(service_->agents().logged_in(), 2u);
  EXPECT_TRUE(chat_ready("a1"));
  EXPECT_TRUE(find(locked_)->locked);
  EXPECT_EQ(error_code(lock(media_, locked_)), ErrorCode::InteractionLocked);
  EnvelopePtr pages = page(proxy_again_, snapshot_);
  ASSERT_TRUE(pages && pages->body.AsEventSnapshotPage()) << (as_error(pages) ? as_error(pages)->text : "no answer");
  EXPECT_TRUE(acked(deliver(waiting, "a1"))) << "reachable again";
  EXPECT_TRUE(proxy_again_.event(proto::Message::EventInvite)) << "the invitation goes out on the new connection";

  // Everything is the new session's now: its close (as an ordinary client) releases it all.
  service_->session_closed(proxy_again_);
  EXPECT_EQ(service_->agents().logged_in(), 0u);
  EXPECT_FALSE(find(locked_)->locked);
  EXPECT_EQ(error_code(page(router_, snapshot_)), ErrorCode::UnknownSnapshot);
}

TEST_F(ProxySessionHoldsTest, WhenTheGracePassesTheAgentsAreLoggedOutAndTheLocksReleased) {
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  const uint64_t before = last_seq();
  service_->proxy_session_closed(proxy_, worker_);
  clock_.advance(4'999);
  EXPECT_EQ(service_->agents().logged_in(), 2u);
  EXPECT_EQ(last_seq(), before);
  clock_.advance(2);
  EXPECT_EQ(service_->held_proxy_sessions(), 0u);
  EXPECT_EQ(service_->agents().logged_in(), 0u);
  EXPECT_FALSE(find(locked_)->locked);
  EXPECT_EQ(error_code(page(router_, snapshot_)), ErrorCode::UnknownSnapshot);
  EXPECT_EQ(last_seq(), before + 2) << "a logout per agent";
  // The worker that comes back late finds nothing to take over; its logins are new logins.
  service_->session_opened(proxy_again_);
  EXPECT_FALSE(service_->proxy_registered(proxy_again_, worker_));
  EXPECT_TRUE(acked(proxy_login(proxy_again_, "a1", 7)));
  EXPECT_EQ(last_seq(), before + 3);
}

TEST_F(ProxySessionHoldsTest, ARestartedProxyEndsTheHoldAtOnce) {
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  const uint64_t before = last_seq();
  service_->proxy_session_closed(proxy_, worker_);
  clock_.advance(1'000);
  service_->session_opened(proxy_again_);
  EXPECT_FALSE(service_->proxy_registered(proxy_again_, {worker_.name, "another-instance"}));
  EXPECT_EQ(service_->held_proxy_sessions(), 0u);
  EXPECT_EQ(service_->agents().logged_in(), 0u) << "the restarted proxy's desktops log in again themselves";
  EXPECT_FALSE(find(locked_)->locked);
  EXPECT_EQ(last_seq(), before + 2);
}

TEST_F(ProxySessionHoldsTest, AnotherWorkerTakesNothingOver) {
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  service_->proxy_session_closed(proxy_, worker_);
  service_->session_opened(proxy_again_);
  EXPECT_FALSE(service_->proxy_registered(proxy_again_, {"ixproxy proxy-1 worker 1", worker_.instance}));
  EXPECT_EQ(service_->held_proxy_sessions(), 1u);
  EXPECT_EQ(service_->agents().logged_in(), 2u);
}

// A proxy whose link certificate names another proxy registers under this one's worker name (a
// misconfiguration, a compromised proxy): it neither takes the hold over nor ends it, whatever
// instance it claims; the worker itself, certified again by its own certificate, still does.
TEST_F(ProxySessionHoldsTest, AnotherProxysCertificateNeitherTakesOverNorEndsAHold) {
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  const node::ProxyIdentity certified{worker_.name, worker_.instance, "proxy-1"};
  service_->proxy_session_closed(proxy_, certified);
  service_->session_opened(proxy_again_);
  for (const char* instance : {"0123456789ab", "another-instance"}) {
    EXPECT_FALSE(service_->proxy_registered(proxy_again_, {worker_.name, instance, "proxy-2"})) << instance;
    EXPECT_FALSE(service_->proxy_registered(proxy_again_, {worker_.name, instance, ""})) << "the shared secret, " << instance;
    EXPECT_EQ(service_->held_proxy_sessions(), 1u) << instance;
    EXPECT_EQ(service_->agents().logged_in(), 2u) << instance;
  }
  EXPECT_TRUE(service_->proxy_registered(proxy_again_, certified));
  EXPECT_EQ(service_->held_proxy_sessions(), 0u);
  EXPECT_EQ(service_->agents().logged_in(), 2u);
}

// The proxy died; its desktops reconnect through another proxy within the grace: a held agent's
// login there takes it over — no logout, no second login in the event log — and the grace
// passing later logs out only the agents nobody took over.
TEST_F(ProxySessionHoldsTest, ADesktopThatMovesToAnotherProxyTakesItsHeldAgentOver) {
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  const uint64_t before = last_seq();
  service_->proxy_session_closed(proxy_, worker_);
  service_->session_opened(proxy_again_);
  EXPECT_FALSE(service_->proxy_registered(proxy_again_, {"ixproxy proxy-2 worker 0", "fedcba987654"}));
  EXPECT_TRUE(acked(proxy_login(proxy_again_, "a1", 3))) << "not refused as logged in elsewhere";
  EXPECT_EQ(last_seq(), before) << "the same login again reports nothing";
  clock_.advance(6'000);  // the grace passes
  EXPECT_EQ(service_->held_proxy_sessions(), 0u);
  EXPECT_EQ(service_->agents().logged_in(), 1u) << "a2, whom nobody took over, is logged out";
  EXPECT_EQ(last_seq(), before + 1);
  service_->session_closed(proxy_again_);
  EXPECT_EQ(service_->agents().logged_in(), 0u) << "a1 is the new connection's now";
}

// A logout a worker re-sends once its link is back (its desktop left while the pair was
// unreachable) must not end the login another proxy connection made for the agent meanwhile.
TEST_F(ProxySessionHoldsTest, AProxyLogsOutOnlyTheAgentsItsOwnConnectionLoggedIn) {
  ASSERT_TRUE(acked(proxy_login(proxy_, "a1", 7)));
  service_->session_opened(proxy_again_);
  proto::RequestAgentLogoutT logout;
  logout.tenant_id = "101";
  logout.agent_id = "a1";
  const uint64_t before = last_seq();
  EnvelopePtr refused = call(proxy_again_, logout, 7);
  EXPECT_EQ(error_code(refused), ErrorCode::WrongState);
  EXPECT_EQ(service_->agents().logged_in(), 1u);
  EXPECT_EQ(last_seq(), before) << "no logout reported";
  EXPECT_TRUE(acked(call(proxy_, logout, 7))) << "its own connection logs it out";
  EXPECT_EQ(service_->agents().logged_in(), 0u);
}

TEST_F(ProxySessionHoldsTest, AGraceOfZeroReleasesAtOnce) {
  std::string text = config_text();
  const std::string anchor = "pull-hold-timeout = \"10s\"\n";
  text.replace(text.find(anchor), anchor.size(), anchor + "proxy-session-grace = \"0s\"\n");
  config::LoadResult loaded = config::load_config_text(text, "service_fixture.toml", "/tmp");
  ASSERT_TRUE(loaded.ok()) << loaded.error_text();
  ASSERT_TRUE(service_->reload(loaded.config).ok());
  ASSERT_NO_FATAL_FAILURE(proxy_state());
  const uint64_t before = last_seq();
  service_->proxy_session_closed(proxy_, worker_);
  EXPECT_EQ(service_->held_proxy_sessions(), 0u);
  EXPECT_EQ(service_->agents().logged_in(), 0u);
  EXPECT_FALSE(find(locked_)->locked);
  EXPECT_EQ(last_seq(), before + 2);
}

TEST_F(ProxySessionHoldsTest, ALoginThatChangesNothingIsAcknowledgedWithoutAnEvent) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  const uint64_t before = last_seq();
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  EXPECT_EQ(last_seq(), before);
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1", 3));  // another capacity: a login that changes something
  EXPECT_EQ(last_seq(), before + 1);
}

}  // namespace
}  // namespace ix::test
