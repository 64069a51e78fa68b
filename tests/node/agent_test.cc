// Agents on a real ixnode: login with media, readiness, do-not-disturb, media changes, seats,
// multiple connections, and the logout a disconnect causes — each visible on the reporting stream.
#include <gtest/gtest.h>

#include "protocol/wire/kv.h"
#include "tests/node/node_fixture.h"

namespace ix::test {
namespace {

using proto::ClientType;
using proto::ErrorCode;
using proto::Message;

proto::RequestAgentLoginT login_request(const std::string& agent, const std::string& place = "pl-1") {
  proto::RequestAgentLoginT r;
  r.tenant_id = "101";
  r.agent_id = agent;
  r.place_id = place;
  for (auto [media, capacity] : {std::pair{"chat", 3}, std::pair{"email", 1}}) {
    auto m = std::make_unique<proto::MediaCapacityT>();
    m->media_type = media;
    m->capacity = capacity;
    r.media.push_back(std::move(m));
  }
  return r;
}

bool acked(const EnvelopePtr& e) { return e && e->body.type == Message::EventAck; }
std::string error_text(const EnvelopePtr& e) { return as_error(e) ? as_error(e)->text : ""; }

class AgentTest : public NodePairFixture {
 protected:
  std::unique_ptr<ProtocolClient> subscribe_agents() {
    auto stats = primary_client(ClientType::ReportingEngine);
    proto::RequestStartReportingT start;
    start.classes = {proto::ReportingClass::Agent};
    EXPECT_TRUE(acked(stats->call(start)));
    return stats;
  }
};

TEST_F(AgentTest, LoginReadinessDndMediaAndLogoutAreReported) {
  primary_ = start_node("primary");
  auto desktop = primary_client(ClientType::AgentApplication);
  ASSERT_NE(desktop, nullptr);
  auto stats = subscribe_agents();

  ASSERT_TRUE(acked(desktop->call(login_request("a1")))) << error_text(desktop->call(login_request("a1")));
  proto::RequestAgentReadyT ready;
  ready.tenant_id = "101";
  ready.agent_id = "a1";
  EXPECT_TRUE(acked(desktop->call(ready)));  // every media: chat and email
  proto::RequestAgentNotReadyT not_ready;
  not_ready.agent_id = "a1";
  not_ready.media_type = "email";
  not_ready.reason = wire::kv_list({{"code", "break"}});
  EXPECT_TRUE(acked(desktop->call(not_ready)));
  proto::RequestAgentDoNotDisturbT dnd;
  dnd.agent_id = "a1";
  dnd.on = true;
  EXPECT_TRUE(acked(desktop->call(dnd)));
  proto::RequestAgentRemoveMediaT remove;
  remove.agent_id = "a1";
  remove.media_type = "email";
  EXPECT_TRUE(acked(desktop->call(remove)));

  proto::RequestAgentStatusT status;
  status.agent_id = "a1";
  EnvelopePtr reply = desktop->call(status);
  ASSERT_NE(reply->body.AsEventAgentStatus(), nullptr);
  const proto::EventAgentStatusT& st = *reply->body.AsEventAgentStatus();
  EXPECT_TRUE(st.logged_in);
  EXPECT_TRUE(st.do_not_disturb);
  ASSERT_EQ(st.media.size(), 1u);
  EXPECT_EQ(st.media[0]->media_type, "chat");
  EXPECT_TRUE(st.media[0]->ready);
  EXPECT_EQ(st.media[0]->capacity, 3);

  proto::RequestAgentLogoutT logout;
  logout.agent_id = "a1";
  EXPECT_TRUE(acked(desktop->call(logout)));

  ASSERT_TRUE(stats->wait_for_events(7));
  std::vector<Message> types;
  for (const EnvelopePtr& e : stats->events) types.push_back(e->body.type);
  EXPECT_EQ(types, (std::vector<Message>{Message::EventAgentLogin, Message::EventAgentReady, Message::EventAgentReady,
                                         Message::EventAgentNotReady, Message::EventDoNotDisturbOn,
                                         Message::EventMediaRemoved, Message::EventAgentLogout}));
  EXPECT_EQ(stats->events[3]->body.AsEventAgentNotReady()->media_type, "email");
}

TEST_F(AgentTest, BadAgentRequestsAreRefusedAndChangeNothing) {
  primary_ = start_node("primary");
  auto desktop = primary_client(ClientType::AgentApplication);
  ASSERT_NE(desktop, nullptr);
  auto r = login_request("ghost");
  EXPECT_EQ(as_error(desktop->call(r))->code, static_cast<int>(ErrorCode::UnknownAgent));
  r = login_request("a1");
  r.media[0]->media_type = "fax";
  EXPECT_NE(error_text(desktop->call(r)).find("\"fax\" is not a media type of node pair pair-1"), std::string::npos);
  r = login_request("a1");
  r.media.clear();
  EXPECT_EQ(as_error(desktop->call(r))->code, static_cast<int>(ErrorCode::MissingAttribute));
  r = login_request("a1");
  r.place_id.clear();
  EXPECT_NE(error_text(desktop->call(r)).find("RequestAgentLogin.place_id is missing"), std::string::npos);
  proto::RequestAgentReadyT ready;
  ready.agent_id = "a1";
  EXPECT_NE(error_text(desktop->call(ready)).find("agent a1 is not logged in on node pair pair-1"), std::string::npos);
  ASSERT_TRUE(acked(desktop->call(login_request("a1"))));
  ready.media_type = "sms";
  EXPECT_NE(error_text(desktop->call(ready)).find("\"sms\" is not one of agent a1's media"), std::string::npos);
  auto media = primary_client(ClientType::MediaServer);
  EXPECT_NE(error_text(media->call(login_request("a2"))).find("MediaServer clients may not send RequestAgentLogin"),
            std::string::npos);
}

TEST_F(AgentTest, SeatLicensesLimitLogins) {
  primary_ = start_node("primary");
  auto desktop = primary_client(ClientType::AgentApplication);
  ASSERT_NE(desktop, nullptr);
  EXPECT_TRUE(acked(desktop->call(login_request("a1"))));
  EXPECT_TRUE(acked(desktop->call(login_request("a2"))));
  EnvelopePtr refused = desktop->call(login_request("a3"));
  ASSERT_NE(as_error(refused), nullptr);
  EXPECT_EQ(as_error(refused)->code, static_cast<int>(ErrorCode::NoSeatsAvailable));
  EXPECT_NE(as_error(refused)->text.find("2 licensed"), std::string::npos) << as_error(refused)->text;
  proto::RequestAgentLogoutT logout;
  logout.agent_id = "a1";
  EXPECT_TRUE(acked(desktop->call(logout)));
  EXPECT_TRUE(acked(desktop->call(login_request("a3")))) << "a freed seat can be used";
}

TEST_F(AgentTest, SecondConnectionIsRefusedByDefault) {
  primary_ = start_node("primary");
  auto first = primary_client(ClientType::AgentApplication);
  auto second = primary_client(ClientType::AgentApplication);
  ASSERT_TRUE(acked(first->call(login_request("a1"))));
  EnvelopePtr refused = second->call(login_request("a1"));
  ASSERT_NE(as_error(refused), nullptr);
  EXPECT_EQ(as_error(refused)->code, static_cast<int>(ErrorCode::AgentAlreadyLoggedIn));
  proto::RequestAgentReadyT ready;
  ready.agent_id = "a1";
  EXPECT_NE(error_text(second->call(ready)).find("logged in through another connection"), std::string::npos);
}

class ForceLogoutTest : public AgentTest {
 protected:
  void SetUp() override {
    multiple_connections_ = "\"force-logout\"";
    AgentTest::SetUp();
  }
};

TEST_F(ForceLogoutTest, SecondConnectionLogsTheFirstOut) {
  primary_ = start_node("primary");
  auto first = primary_client(ClientType::AgentApplication);
  auto second = primary_client(ClientType::AgentApplication);
  ASSERT_TRUE(acked(first->call(login_request("a1"))));
  ASSERT_TRUE(acked(second->call(login_request("a1"))));
  ASSERT_TRUE(first->wait_for_events(1));
  const auto* forced = first->events[0]->body.AsEventAgentStateChanged();
  ASSERT_NE(forced, nullptr);
  EXPECT_FALSE(forced->logged_in);
  proto::RequestAgentReadyT ready;
  ready.agent_id = "a1";
  EXPECT_TRUE(acked(second->call(ready)));
  EXPECT_FALSE(acked(first->call(ready))) << "the first desktop no longer speaks for a1";
}

TEST_F(AgentTest, DesktopDisconnectLogsItsAgentsOut) {
  primary_ = start_node("primary");
  auto stats = subscribe_agents();
  {
    auto desktop = primary_client(ClientType::AgentApplication);
    ASSERT_TRUE(acked(desktop->call(login_request("a1"))));
    ASSERT_TRUE(acked(desktop->call(login_request("a2", "pl-2"))));
  }  // the desktop goes away
  ASSERT_TRUE(stats->wait_for_events(4));
  EXPECT_EQ(stats->events[2]->body.type, Message::EventAgentLogout);
  EXPECT_EQ(stats->events[3]->body.type, Message::EventAgentLogout);
  auto other = primary_client(ClientType::AgentApplication);
  EXPECT_TRUE(acked(other->call(login_request("a1")))) << "a1 and its seat are free again";
}

}  // namespace
}  // namespace ix::test
