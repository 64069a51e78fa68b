// In-process tests of delivery (node/server/delivery_requests.cc, transfers.cc): deliver, accept, reject,
// transfer, conference, leave, and the delivering and handling timeouts, on a ManualClock —
// time moves only when the test says so, and no test sleeps.
#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

using proto::ErrorCode;
using proto::InteractionState;
using proto::Message;

std::string reason_of(const proto::EnvelopeT& revoked) {
  for (const auto& pair : revoked.body.AsEventRevoked()->reason->pairs) {
    if (pair->key == "reason") return pair->string_value;
  }
  return "";
}

class DeliveryRequestsTest : public ServiceFixture {
 protected:
  void SetUp() override {
    ServiceFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(login(desktop_, "a1", "pl-1"));
    ASSERT_NO_FATAL_FAILURE(ready(desktop_, "a1"));
  }
};

TEST_F(DeliveryRequestsTest, DeliverInvitesTheAgentAndAcceptMakesItTheHandlingParty) {
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  EXPECT_EQ(state_of(id), InteractionState::Delivering);
  const uint64_t ticket = take_invite(desktop_);
  ASSERT_NE(ticket, 0u) << "the desktop got EventInvite";
  EXPECT_NE(as_error(accept(desktop_, id, ticket, "a2")), nullptr) << "only the invited agent accepts";
  ASSERT_TRUE(acked(accept(desktop_, id, ticket)));
  EXPECT_EQ(state_of(id), InteractionState::Handling);
  EXPECT_EQ(find(id)->agent_id, "a1");
}

TEST_F(DeliveryRequestsTest, DeliverRefusesAnAgentWithoutCapacityOrLogin) {
  const std::string first = submit(), second = submit();
  ASSERT_TRUE(acked(deliver(first)));
  EnvelopePtr full = deliver(second);
  ASSERT_NE(as_error(full), nullptr);
  EXPECT_NE(as_error(full)->text.find("no capacity left for chat (1 of 1)"), std::string::npos) << as_error(full)->text;
  EXPECT_EQ(error_code(deliver(second, "a3")), ErrorCode::UnknownAgent);
  EXPECT_EQ(state_of(second), InteractionState::Queued);
}

TEST_F(DeliveryRequestsTest, TheAckWaitsForTheCommit) {
  const std::string id = submit();
  store_.hold_commits(true);
  proto::RequestDeliverT d;
  d.interaction_id = id;
  d.agent_id = "a1";
  const uint64_t ref = send(router_, d);
  loop_.run_for(5);
  EXPECT_EQ(router_.reply(ref), nullptr) << "no EventAck before the change is durable";
  EXPECT_EQ(store_.pump(), 1u);
  EXPECT_TRUE(acked(router_.reply(ref)));
  store_.hold_commits(false);
}

TEST_F(DeliveryRequestsTest, RejectReturnsTheInteractionToItsQueue) {
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  proto::RequestRejectT reject;
  reject.interaction_id = id;
  reject.agent_id = "a1";
  reject.ticket_id = take_invite(desktop_);
  ASSERT_TRUE(acked(call(desktop_, reject)));
  EXPECT_EQ(state_of(id), InteractionState::Queued);
  EXPECT_EQ(find(id)->queue, "inbound");
  EnvelopePtr again = call(desktop_, reject);
  ASSERT_NE(as_error(again), nullptr);
  EXPECT_NE(as_error(again)->text.find("is not being delivered to agent a1"), std::string::npos) << as_error(again)->text;
}

TEST_F(DeliveryRequestsTest, AnUnansweredInvitationIsRevokedAtDeliveringTimeout) {
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  take_invite(desktop_);
  clock_.advance(999);
  settle();
  EXPECT_EQ(state_of(id), InteractionState::Delivering) << "delivering-timeout is 1s";
  clock_.advance(1);
  settle();
  EXPECT_EQ(state_of(id), InteractionState::Queued);
  EnvelopePtr revoked = desktop_.event(Message::EventRevoked);
  ASSERT_NE(revoked, nullptr);
  EXPECT_EQ(revoked->body.AsEventRevoked()->interaction_id, id);
  EXPECT_EQ(reason_of(*revoked), "delivering-timeout");
}

TEST_F(DeliveryRequestsTest, HandlingTimeoutIsResetByTheAgentsRequestsThenRevokes) {
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(acked(accept(desktop_, id, take_invite(desktop_))));
  clock_.advance(2500);
  ready(desktop_, "a1");  // any request from the handling desktop resets handling-timeout (3s)
  clock_.advance(2500);
  settle();
  EXPECT_EQ(state_of(id), InteractionState::Handling) << "5s after the accept, 2.5s after the last request";
  clock_.advance(500);
  settle();
  EXPECT_EQ(state_of(id), InteractionState::Queued);
  EnvelopePtr revoked = desktop_.event(Message::EventRevoked);
  ASSERT_NE(revoked, nullptr);
  EXPECT_EQ(reason_of(*revoked), "handling-timeout");
}

TEST_F(DeliveryRequestsTest, TransferMovesTheInteractionWhenTheTargetAccepts) {
  ASSERT_NO_FATAL_FAILURE(login(desktop2_, "a2", "pl-2"));
  ASSERT_NO_FATAL_FAILURE(ready(desktop2_, "a2"));
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(acked(accept(desktop_, id, take_invite(desktop_))));
  proto::RequestTransferT transfer;
  transfer.interaction_id = id;
  transfer.agent_id = "a1";
  transfer.target_agent_id = "a2";
  const uint64_t ref = send(desktop_, transfer);
  settle();
  EXPECT_EQ(desktop_.reply(ref), nullptr) << "the inviter hears the outcome only when the target answers";
  const uint64_t ticket = take_invite(desktop2_);
  ASSERT_NE(ticket, 0u);
  ASSERT_TRUE(acked(accept(desktop2_, id, ticket, "a2")));
  settle();
  EXPECT_TRUE(acked(desktop_.reply(ref)));
  EXPECT_EQ(find(id)->agent_id, "a2");
  EXPECT_EQ(state_of(id), InteractionState::Handling);
}

TEST_F(DeliveryRequestsTest, AnUnansweredTransferFailsAtDeliveringTimeoutAndTheInviterKeepsIt) {
  ASSERT_NO_FATAL_FAILURE(login(desktop2_, "a2", "pl-2"));
  ASSERT_NO_FATAL_FAILURE(ready(desktop2_, "a2"));
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(acked(accept(desktop_, id, take_invite(desktop_))));
  proto::RequestTransferT transfer;
  transfer.interaction_id = id;
  transfer.agent_id = "a1";
  transfer.target_agent_id = "a2";
  const uint64_t ref = send(desktop_, transfer);
  settle();
  clock_.advance(1000);
  settle();
  EnvelopePtr failed = desktop_.reply(ref);
  ASSERT_NE(as_error(failed), nullptr);
  EXPECT_NE(as_error(failed)->text.find("did not answer the transfer"), std::string::npos) << as_error(failed)->text;
  EXPECT_EQ(find(id)->agent_id, "a1");
  EXPECT_NE(desktop2_.event(Message::EventRevoked), nullptr) << "the target's invitation is taken back";
}

TEST_F(DeliveryRequestsTest, ARejectedTransferAnswersTheInviterWithTheRejectionAndStoppingEndsAnother) {
  ASSERT_NO_FATAL_FAILURE(login(desktop2_, "a2", "pl-2"));
  ASSERT_NO_FATAL_FAILURE(ready(desktop2_, "a2"));
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(acked(accept(desktop_, id, take_invite(desktop_))));
  proto::RequestTransferT transfer;
  transfer.interaction_id = id;
  transfer.agent_id = "a1";
  transfer.target_agent_id = "a2";
  const uint64_t ref = send(desktop_, transfer);
  settle();
  ASSERT_NE(take_invite(desktop2_), 0u);
  // A second transfer of the same interaction waits for nobody: it is refused at once.
  EXPECT_EQ(error_code(call(desktop_, transfer)), ErrorCode::WrongState);
  proto::RequestRejectT reject;
  reject.interaction_id = id;
  reject.agent_id = "a2";
  ASSERT_TRUE(acked(call(desktop2_, reject)));
  settle();
  EnvelopePtr failed = desktop_.reply(ref);
  ASSERT_NE(as_error(failed), nullptr);
  EXPECT_NE(as_error(failed)->text.find("agent a2 rejected the transfer of " + id), std::string::npos) << as_error(failed)->text;
  EXPECT_EQ(find(id)->agent_id, "a1");
  EXPECT_EQ(state_of(id), InteractionState::Handling);
  EXPECT_EQ(desktop2_.event(Message::EventRevoked), nullptr) << "the target said no itself: nothing to take back";

  // Stopping the interaction while another transfer waits answers that inviter too.
  const uint64_t again = send(desktop_, transfer);
  settle();
  ASSERT_NE(take_invite(desktop2_), 0u);
  proto::RequestStopProcessingT stop;
  stop.interaction_id = id;
  stop.agent_id = "a1";
  ASSERT_TRUE(acked(call(router_, stop)));
  EnvelopePtr stopped = desktop_.reply(again);
  ASSERT_NE(as_error(stopped), nullptr);
  EXPECT_NE(as_error(stopped)->text.find("was stopped during its transfer"), std::string::npos) << as_error(stopped)->text;
  EXPECT_NE(desktop2_.event(Message::EventRevoked), nullptr);
  EXPECT_EQ(find(id), nullptr);
}

TEST_F(DeliveryRequestsTest, ConferenceAddsAPartyAndLeaveRemovesIt) {
  ASSERT_NO_FATAL_FAILURE(login(desktop2_, "a2", "pl-2"));
  ASSERT_NO_FATAL_FAILURE(ready(desktop2_, "a2"));
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(acked(accept(desktop_, id, take_invite(desktop_))));
  proto::RequestConferenceT conference;
  conference.interaction_id = id;
  conference.agent_id = "a1";
  conference.target_agent_id = "a2";
  const uint64_t ref = send(desktop_, conference);
  settle();
  ASSERT_TRUE(acked(accept(desktop2_, id, take_invite(desktop2_), "a2")));
  settle();
  EXPECT_TRUE(acked(desktop_.reply(ref)));
  EXPECT_EQ(find(id)->agent_id, "a1");
  ASSERT_EQ(find(id)->conference.size(), 1u);
  EXPECT_EQ(find(id)->conference[0], "a2");

  proto::RequestLeaveInteractionT leave;
  leave.interaction_id = id;
  leave.agent_id = "a2";
  ASSERT_TRUE(acked(call(desktop2_, leave)));
  EXPECT_TRUE(find(id)->conference.empty());
  leave.agent_id = "a1";
  ASSERT_TRUE(acked(call(desktop_, leave)));
  EXPECT_EQ(state_of(id), InteractionState::Queued) << "the last party to leave returns it to its queue";
}

TEST_F(DeliveryRequestsTest, AFailedCommitFailsTheNodeAndAnswersTheError) {
  const std::string id = submit();
  store_.fail_commits(Error{0, "disk full"});
  EnvelopePtr reply = deliver(id);
  ASSERT_NE(as_error(reply), nullptr);
  EXPECT_NE(as_error(reply)->text.find("storage failure: disk full"), std::string::npos);
  EXPECT_NE(fatal_.find("disk full"), std::string::npos) << "the shell is told to give up the lease";
  EXPECT_TRUE(service_->failed());
  EXPECT_EQ(error_code(call(media_, proto::RequestSubmitT{})), ErrorCode::Internal) << "nothing is served after";
  store_.fail_commits(std::nullopt);
}

TEST_F(DeliveryRequestsTest, OpenInvitationsGetFreshTimersWhenANewPrimaryLoads) {
  const std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  settle();
  start_service();  // a failover: the new service loads what the store holds
  EXPECT_EQ(state_of(id), InteractionState::Delivering);
  clock_.advance(1000);
  settle();
  EXPECT_EQ(state_of(id), InteractionState::Queued) << "the reloaded invitation times out too";
}

}  // namespace
}  // namespace ix::test
