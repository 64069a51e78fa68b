// In-process tests of the workbins (node/server/workbin_requests.cc): place, content,
// subscribe (EventWorkbinChanged) and pull from a workbin.
#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

using proto::ErrorCode;
using proto::InteractionState;
using proto::Message;

class WorkbinRequestsTest : public ServiceFixture {
 protected:
  EnvelopePtr place(const std::string& id, const std::string& type = "drafts", const std::string& agent = "a1") {
    proto::RequestPlaceInWorkbinT r;
    r.interaction_id = id;
    r.workbin_type = type;
    r.owner_agent_id = agent;
    return call(media_, r);
  }
  EnvelopePtr content() {
    proto::RequestWorkbinContentT r;
    r.tenant_id = "101";
    r.workbin_type = "drafts";
    r.owner_agent_id = "a1";
    return call(media_, r);
  }
};

TEST_F(WorkbinRequestsTest, PlaceTakesTheInteractionOutOfItsQueue) {
  const std::string id = submit();
  ASSERT_TRUE(acked(place(id)));
  EXPECT_EQ(state_of(id), InteractionState::InWorkbin);
  EXPECT_EQ(service_->interactions().queue_depth("inbound"), 0u);
  EXPECT_EQ(error_code(place(id, "nope")), ErrorCode::InvalidAttribute);
}

TEST_F(WorkbinRequestsTest, ContentListsTheWorkbin) {
  const std::string a = submit(), b = submit();
  ASSERT_TRUE(acked(place(a)));
  EnvelopePtr reply = content();
  ASSERT_TRUE(reply && reply->body.AsEventWorkbinContent());
  ASSERT_EQ(reply->body.AsEventWorkbinContent()->interactions.size(), 1u);
  EXPECT_EQ(reply->body.AsEventWorkbinContent()->interactions[0]->interaction_id, a);
}

TEST_F(WorkbinRequestsTest, SubscribersHearOfChanges) {
  proto::RequestWorkbinSubscribeT subscribe;
  subscribe.tenant_id = "101";
  subscribe.workbin_type = "drafts";
  subscribe.owner_agent_id = "a1";
  ASSERT_TRUE(acked(call(desktop_, subscribe)));
  const std::string id = submit();
  ASSERT_TRUE(acked(place(id)));
  EnvelopePtr changed = desktop_.event(Message::EventWorkbinChanged);
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->body.AsEventWorkbinChanged()->interaction_id, id);
  EXPECT_TRUE(changed->body.AsEventWorkbinChanged()->added);
  subscribe.subscribe = false;
  ASSERT_TRUE(acked(call(desktop_, subscribe)));
  EXPECT_EQ(error_code(call(desktop_, subscribe)), ErrorCode::WrongState) << "not subscribed any more";
}

TEST_F(WorkbinRequestsTest, PullFromAWorkbin) {
  const std::string id = submit();
  ASSERT_TRUE(acked(place(id)));
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.workbin_type = "drafts";
  pull.owner_agent_id = "a1";
  EnvelopePtr reply = call(router_, pull);
  ASSERT_TRUE(reply && reply->body.AsEventPulled());
  ASSERT_EQ(reply->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(reply->body.AsEventPulled()->interactions[0]->interaction_id, id);
  EXPECT_EQ(state_of(id), InteractionState::Handling);
  EnvelopePtr empty = content();
  EXPECT_TRUE(empty->body.AsEventWorkbinContent()->interactions.empty());
}

}  // namespace
}  // namespace ix::test
