// In-process tests of the agent requests (node/server/agent_requests.cc): login, logout,
// ready / not ready, do-not-disturb, media, status, and the logout of a closed desktop's agents.
#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

using proto::ErrorCode;

class AgentRequestsTest : public ServiceFixture {
 protected:
  EnvelopePtr status(const std::string& agent) {
    proto::RequestAgentStatusT r;
    r.tenant_id = "101";
    r.agent_id = agent;
    return call(desktop_, r);
  }
  bool chat_ready(const std::string& agent) {
    EnvelopePtr s = status(agent);
    if (!s || !s->body.AsEventAgentStatus()) return false;
    for (const auto& m : s->body.AsEventAgentStatus()->media) {
      if (m->media_type == "chat") return m->ready;
    }
    return false;
  }
};

TEST_F(AgentRequestsTest, LoginTakesASeatAndStatusReportsIt) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  EXPECT_EQ(service_->agents().logged_in(), 1u);
  EnvelopePtr s = status("a1");
  ASSERT_TRUE(s && s->body.AsEventAgentStatus());
  EXPECT_TRUE(s->body.AsEventAgentStatus()->logged_in);
  EXPECT_EQ(s->body.AsEventAgentStatus()->place_id, "pl-1");
}

TEST_F(AgentRequestsTest, LoginRefusesUnknownAgentsAndAFullPair) {
  proto::RequestAgentLoginT login;
  login.tenant_id = "101";
  login.agent_id = "nobody";
  login.place_id = "pl-9";
  EXPECT_NE(as_error(call(desktop_, login)), nullptr);
  ASSERT_NO_FATAL_FAILURE(this->login(desktop_, "a1", "pl-1"));
  ASSERT_NO_FATAL_FAILURE(this->login(desktop2_, "a2", "pl-2"));
  login.agent_id = "a3";
  login.media.push_back(std::make_unique<proto::MediaCapacityT>());
  login.media.back()->media_type = "chat";
  EnvelopePtr full = call(proxy_, login);
  ASSERT_NE(as_error(full), nullptr);
  EXPECT_NE(as_error(full)->text.find("no free agent seat"), std::string::npos) << as_error(full)->text;
}

TEST_F(AgentRequestsTest, ReadyAndNotReady) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  EXPECT_FALSE(chat_ready("a1"));
  ASSERT_NO_FATAL_FAILURE(ready(desktop_, "a1"));
  EXPECT_TRUE(chat_ready("a1"));
  proto::RequestAgentNotReadyT not_ready;
  not_ready.agent_id = "a1";
  ASSERT_TRUE(acked(call(desktop_, not_ready)));
  EXPECT_FALSE(chat_ready("a1"));
}

TEST_F(AgentRequestsTest, DoNotDisturb) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  proto::RequestAgentDoNotDisturbT dnd;
  dnd.tenant_id = "101";
  dnd.agent_id = "a1";
  dnd.on = true;
  ASSERT_TRUE(acked(call(desktop_, dnd)));
  EnvelopePtr s = status("a1");
  ASSERT_TRUE(s && s->body.AsEventAgentStatus());
  EXPECT_TRUE(s->body.AsEventAgentStatus()->do_not_disturb);
  EXPECT_EQ(service_->status()["agents"]["dnd"], 1);
}

TEST_F(AgentRequestsTest, AddAndRemoveMedia) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  proto::RequestAgentAddMediaT add;
  add.tenant_id = "101";
  add.agent_id = "a1";
  add.media = std::make_unique<proto::MediaCapacityT>();
  add.media->media_type = "email";
  add.media->capacity = 3;
  ASSERT_TRUE(acked(call(desktop_, add)));
  EnvelopePtr s = status("a1");
  ASSERT_TRUE(s && s->body.AsEventAgentStatus());
  EXPECT_EQ(s->body.AsEventAgentStatus()->media.size(), 2u);

  proto::RequestAgentRemoveMediaT remove;
  remove.tenant_id = "101";
  remove.agent_id = "a1";
  remove.media_type = "email";
  ASSERT_TRUE(acked(call(desktop_, remove)));
  s = status("a1");
  EXPECT_EQ(s->body.AsEventAgentStatus()->media.size(), 1u);
  add.media->media_type = "fax";
  EXPECT_EQ(error_code(call(desktop_, add)), ErrorCode::InvalidAttribute);
}

TEST_F(AgentRequestsTest, LogoutFreesTheSeat) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  proto::RequestAgentLogoutT logout;
  logout.tenant_id = "101";
  logout.agent_id = "a1";
  ASSERT_TRUE(acked(call(desktop_, logout)));
  EXPECT_EQ(service_->agents().logged_in(), 0u);
  EXPECT_EQ(error_code(call(desktop_, logout)), ErrorCode::UnknownAgent);
}

TEST_F(AgentRequestsTest, AnotherConnectionCannotSpeakForTheAgent) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  proto::RequestAgentReadyT r;
  r.agent_id = "a1";
  EnvelopePtr refused = call(desktop2_, r);
  ASSERT_NE(as_error(refused), nullptr);
  EXPECT_NE(as_error(refused)->text.find("logged in through another connection"), std::string::npos);
}

TEST_F(AgentRequestsTest, ClosingTheDesktopLogsItsAgentsOut) {
  ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
  service_->session_closed(desktop_);
  settle();
  EXPECT_EQ(service_->agents().logged_in(), 0u);
  EXPECT_EQ(store_.load()->last_seq, 2u) << "login and logout are both in the event log";
}

}  // namespace
}  // namespace ix::test
