// Delivery on a real ixnode: invite, accept, reject, and the delivering and handling timeouts.
#include <gtest/gtest.h>

#include "protocol/wire/kv.h"
#include "tests/node/node_fixture.h"

namespace ix::test {
namespace {

using proto::ClientType;
using proto::ErrorCode;
using proto::Message;

bool acked(const EnvelopePtr& e) { return e && e->body.type == Message::EventAck; }
std::string error_text(const EnvelopePtr& e) { return as_error(e) ? as_error(e)->text : "not an error"; }

class DeliveryTest : public NodePairFixture {
 protected:
  void SetUp() override {
    delivering_timeout_ = "1s";
    handling_timeout_ = "3s";
    NodePairFixture::SetUp();
    primary_ = start_node("primary");
    media_ = primary_client(ClientType::MediaServer);
    router_ = primary_client(ClientType::RoutingEngine);
    desktop_ = primary_client(ClientType::AgentApplication);
    ASSERT_NE(desktop_, nullptr);
    ASSERT_NO_FATAL_FAILURE(login_for_chat(*desktop_, "a1", "pl-1", 1));
  }

  // Logs an agent in for chat with the given capacity (not ready yet).
  static void login_for_chat(ProtocolClient& desktop, const std::string& agent, const std::string& place, int capacity) {
    proto::RequestAgentLoginT login;
    login.tenant_id = "101";
    login.agent_id = agent;
    login.place_id = place;
    auto chat = std::make_unique<proto::MediaCapacityT>();
    chat->media_type = "chat";
    chat->capacity = capacity;
    login.media.push_back(std::move(chat));
    ASSERT_TRUE(acked(desktop.call(login)));
  }

  static void make_ready(ProtocolClient& desktop, const std::string& agent) {
    proto::RequestAgentReadyT r;
    r.agent_id = agent;
    ASSERT_TRUE(acked(desktop.call(r)));
  }

  void ready() { make_ready(*desktop_, "a1"); }

  std::string submit() {
    EnvelopePtr reply = media_->call(submit_request());
    return reply && reply->body.AsEventSubmitted() ? reply->body.AsEventSubmitted()->interaction_id : "";
  }

  EnvelopePtr deliver(const std::string& id) {
    proto::RequestDeliverT d;
    d.interaction_id = id;
    d.agent_id = "a1";
    return router_->call(d);
  }

  // The nth event of a type the desktop received, waiting up to timeout_ms for it.
  const proto::EnvelopeT* desktop_event(Message type, size_t nth = 0, uint64_t timeout_ms = 100) {
    const proto::EnvelopeT* found = nullptr;
    for (size_t seen = desktop_->events.size(); !found; seen = desktop_->events.size()) {
      size_t skip = nth;
      for (const EnvelopePtr& e : desktop_->events) {
        if (e->body.type == type && skip-- == 0) found = e.get();
      }
      if (found || !desktop_->wait_for_events(seen + 1, timeout_ms)) break;
    }
    return found;
  }

  proto::InteractionState state_of(const std::string& id) {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id;
    EnvelopePtr reply = media_->call(get);
    return reply && reply->body.AsEventProperties() ? reply->body.AsEventProperties()->interaction->state
                                                    : proto::InteractionState::Unknown;
  }

  std::unique_ptr<ProtocolClient> media_, router_, desktop_;
};

TEST_F(DeliveryTest, InviteAcceptAndStop) {
  ready();
  std::string id = submit();
  ASSERT_TRUE(acked(deliver(id))) << error_text(deliver(id));
  ASSERT_TRUE(desktop_->wait_for_events(1));
  const proto::EnvelopeT* invite = desktop_event(Message::EventInvite);
  ASSERT_NE(invite, nullptr);
  EXPECT_EQ(invite->body.AsEventInvite()->interaction->interaction_id, id);
  EXPECT_EQ(state_of(id), proto::InteractionState::Delivering);

  proto::RequestAcceptT accept;
  accept.interaction_id = id;
  accept.agent_id = "a1";
  accept.ticket_id = invite->body.AsEventInvite()->ticket_id;
  EXPECT_TRUE(acked(desktop_->call(accept)));
  EXPECT_EQ(state_of(id), proto::InteractionState::Handling);

  std::string second = submit();
  EnvelopePtr full = deliver(second);
  EXPECT_NE(error_text(full).find("no capacity left for chat (1 of 1)"), std::string::npos) << error_text(full);

  proto::RequestStopProcessingT stop;
  stop.interaction_id = id;
  stop.agent_id = "a1";
  EXPECT_TRUE(acked(desktop_->call(stop)));
  EXPECT_TRUE(acked(deliver(second))) << "the stop freed the agent's capacity";
}

TEST_F(DeliveryTest, RejectReturnsTheInteractionToItsQueue) {
  ready();
  std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  proto::RequestRejectT reject;
  reject.interaction_id = id;
  reject.agent_id = "a1";
  EXPECT_TRUE(acked(desktop_->call(reject)));
  EXPECT_EQ(state_of(id), proto::InteractionState::Queued);
  EXPECT_NE(error_text(desktop_->call(reject)).find("is not being delivered to agent a1"), std::string::npos);
}

TEST_F(DeliveryTest, ReportingEventsNameTheAgentPlaceAndPreviousQueue) {
  ready();
  auto stats = primary_client(ClientType::ReportingEngine);
  ASSERT_TRUE(acked(stats->call(proto::RequestStartReportingT{})));
  std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  proto::RequestAcceptT accept;
  accept.interaction_id = id;
  accept.agent_id = "a1";
  ASSERT_TRUE(acked(desktop_->call(accept)));
  proto::RequestPlaceInQueueT place;
  place.interaction_id = id;
  place.queue = "vip";
  ASSERT_TRUE(acked(desktop_->call(place)));
  // Submitted, PlacedInQueue, TakenFromQueue, AgentInvited, PartyAdded, PartyRemoved, PlacedInQueue
  ASSERT_TRUE(stats->wait_for_events(7));
  const auto* added = stats->events[4]->body.AsEventPartyAdded();
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->header->agent_id, "a1");
  EXPECT_EQ(added->header->place_id, "pl-1");
  EXPECT_EQ(added->party_type, proto::PartyType::Agent);
  const auto* placed = stats->events[6]->body.AsEventPlacedInQueue();
  ASSERT_NE(placed, nullptr);
  EXPECT_EQ(placed->queue, "vip");
  EXPECT_EQ(placed->previous_queue, "inbound");
}

TEST_F(DeliveryTest, AgentMustBeReadyAndTheInteractionFree) {
  std::string id = submit();
  EXPECT_NE(error_text(deliver(id)).find("agent a1 is not ready for chat"), std::string::npos);
  ready();
  proto::RequestDeliverT d;
  d.interaction_id = id;
  d.agent_id = "nobody";
  EXPECT_EQ(as_error(router_->call(d))->code, static_cast<int>(ErrorCode::UnknownAgent));
  ASSERT_TRUE(acked(deliver(id)));
  EXPECT_NE(error_text(deliver(id)).find("already with agent a1"), std::string::npos);
}

TEST_F(DeliveryTest, UnansweredInvitationIsRevokedAfterTheDeliveringTimeout) {
  ready();
  std::string id = submit();
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(desktop_->wait_for_events(2, 8000));
  auto took = std::chrono::steady_clock::now() - sent;
  const proto::EnvelopeT* revoked = desktop_event(Message::EventRevoked);
  ASSERT_NE(revoked, nullptr);
  EXPECT_EQ(revoked->body.AsEventRevoked()->interaction_id, id);
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  EXPECT_EQ(state_of(id), proto::InteractionState::Queued) << "back in its queue";
}

TEST_F(DeliveryTest, HandlingTimeoutIsResetByTheAgentsRequestsThenRevokes) {
  ready();
  std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  ASSERT_TRUE(desktop_->wait_for_events(1));
  proto::RequestAcceptT accept;
  accept.interaction_id = id;
  accept.agent_id = "a1";
  ASSERT_TRUE(acked(desktop_->call(accept)));
  // Keep working on it for longer than the 3 s handling-timeout.
  proto::RequestGetPropertiesT get;
  get.interaction_id = id;
  for (int i = 0; i < 8; ++i) {
    loop_.run_for(500);
    ASSERT_NE(desktop_->call(get)->body.AsEventProperties(), nullptr);
  }
  EXPECT_EQ(desktop_event(Message::EventRevoked), nullptr) << "requests from the agent keep the interaction";
  // Then forget it.
  ASSERT_TRUE(desktop_->wait_for_events(2, 8000));
  EXPECT_NE(desktop_event(Message::EventRevoked), nullptr);
  EXPECT_EQ(state_of(id), proto::InteractionState::Queued);
}

TEST_F(DeliveryTest, MediaServerStopWhileAnAgentHasItRevokesTheAgentsCopy) {
  ready();
  std::string id = submit();
  ASSERT_TRUE(acked(deliver(id)));
  proto::RequestAcceptT accept;
  accept.interaction_id = id;
  accept.agent_id = "a1";
  ASSERT_TRUE(acked(desktop_->call(accept)));
  proto::RequestStopProcessingT stop;
  stop.interaction_id = id;
  EXPECT_TRUE(acked(media_->call(stop))) << "the media server gets EventAck";
  const proto::EnvelopeT* revoked = desktop_event(Message::EventRevoked, 0, 2000);
  ASSERT_NE(revoked, nullptr) << "the agent gets EventRevoked";
  EXPECT_EQ(revoked->body.AsEventRevoked()->interaction_id, id);
  EXPECT_EQ(state_of(id), proto::InteractionState::Unknown) << "gone";
}

TEST_F(DeliveryTest, AnAgentsOwnSubmitAndPullMakeItTheHandlingParty) {
  auto stats = primary_client(ClientType::ReportingEngine);
  ASSERT_TRUE(acked(stats->call(proto::RequestStartReportingT{})));
  EnvelopePtr own = desktop_->call(submit_request());
  ASSERT_NE(own->body.AsEventSubmitted(), nullptr) << error_text(own);
  const std::string outbound = own->body.AsEventSubmitted()->interaction_id;
  proto::RequestGetPropertiesT get;
  get.interaction_id = outbound;
  EnvelopePtr props = media_->call(get);
  EXPECT_EQ(props->body.AsEventProperties()->interaction->agent_id, "a1");
  EXPECT_EQ(props->body.AsEventProperties()->interaction->state, proto::InteractionState::Handling);
  ASSERT_TRUE(stats->wait_for_events(2));
  EXPECT_EQ(stats->events[0]->body.type, Message::EventInteractionSubmitted);
  EXPECT_EQ(stats->events[1]->body.type, Message::EventPartyAdded) << "agent submit: Submitted, PartyAdded";

  // Letting go of it returns it to the queue named in the submit.
  proto::RequestLeaveInteractionT leave;
  leave.interaction_id = outbound;
  leave.agent_id = "a1";
  ASSERT_TRUE(acked(desktop_->call(leave)));
  EXPECT_EQ(state_of(outbound), proto::InteractionState::Queued);

  // An agent's pull takes it into the agent's hands (with the handling timer running).
  proto::RequestPullT pull;
  pull.queue = "inbound";
  EnvelopePtr pulled = desktop_->call(pull);
  ASSERT_EQ(pulled->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(pulled->body.AsEventPulled()->interactions[0]->agent_id, "a1");
  ASSERT_TRUE(desktop_->wait_for_events(1, 8000)) << "handling-timeout (3 s) revokes a forgotten pull";
  EXPECT_NE(desktop_event(Message::EventRevoked, 0, 8000), nullptr);
}

class TransferTest : public DeliveryTest {
 protected:
  void SetUp() override {
    DeliveryTest::SetUp();
    ready();
    other_ = primary_client(ClientType::AgentApplication);
    ASSERT_NO_FATAL_FAILURE(login_for_chat(*other_, "a2", "pl-2", 2));
    ASSERT_NO_FATAL_FAILURE(make_ready(*other_, "a2"));
    id_ = submit();
    ASSERT_TRUE(acked(deliver(id_)));
    proto::RequestAcceptT accept;
    accept.interaction_id = id_;
    accept.agent_id = "a1";
    ASSERT_TRUE(acked(desktop_->call(accept)));
  }

  uint64_t start_transfer() {
    proto::RequestTransferT transfer;
    transfer.interaction_id = id_;
    transfer.agent_id = "a1";
    transfer.target_agent_id = "a2";
    return desktop_->send(transfer);
  }

  // a1 invites a2 into a conference and a2 accepts; a1's request is answered.
  void conference_a2_in() {
    proto::RequestConferenceT conference;
    conference.interaction_id = id_;
    conference.agent_id = "a1";
    conference.target_agent_id = "a2";
    const uint64_t ref = desktop_->send(conference);
    ASSERT_TRUE(other_->wait_for_events(1));
    proto::RequestAcceptT accept;
    accept.interaction_id = id_;
    accept.agent_id = "a2";
    ASSERT_TRUE(acked(other_->call(accept)));
    ASSERT_TRUE(acked(desktop_->wait_reply(ref)));
  }

  std::string agent_of() {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id_;
    return media_->call(get)->body.AsEventProperties()->interaction->agent_id;
  }

  std::unique_ptr<ProtocolClient> other_;
  std::string id_;
};

TEST_F(TransferTest, AcceptedTransferMovesTheInteractionAndAnswersTheInviter) {
  const uint64_t ref = start_transfer();
  ASSERT_TRUE(other_->wait_for_events(1));
  const auto* invite = other_->events[0]->body.AsEventInvite();
  ASSERT_NE(invite, nullptr);
  EXPECT_EQ(invite->interaction->interaction_id, id_);
  EXPECT_EQ(agent_of(), "a1") << "a1 keeps it until a2 answers";
  proto::RequestAcceptT accept;
  accept.interaction_id = id_;
  accept.agent_id = "a2";
  accept.ticket_id = invite->ticket_id;
  EXPECT_TRUE(acked(other_->call(accept)));
  EnvelopePtr answer = desktop_->wait_reply(ref);
  EXPECT_TRUE(acked(answer)) << error_text(answer);
  EXPECT_EQ(agent_of(), "a2");
}

TEST_F(TransferTest, RejectedTransferIsAnErrorForTheInviter) {
  const uint64_t ref = start_transfer();
  ASSERT_TRUE(other_->wait_for_events(1));
  proto::RequestRejectT reject;
  reject.interaction_id = id_;
  reject.agent_id = "a2";
  EXPECT_TRUE(acked(other_->call(reject))) << "the invitee gets EventAck";
  EnvelopePtr answer = desktop_->wait_reply(ref);
  EXPECT_NE(error_text(answer).find("agent a2 rejected the transfer"), std::string::npos) << error_text(answer);
  EXPECT_EQ(agent_of(), "a1");
}

TEST_F(TransferTest, UnansweredTransferTimesOut) {
  const uint64_t ref = start_transfer();
  EnvelopePtr answer = desktop_->wait_reply(ref, 5000);
  EXPECT_NE(error_text(answer).find("did not answer the transfer"), std::string::npos) << error_text(answer);
  ASSERT_TRUE(other_->wait_for_events(2));
  EXPECT_EQ(other_->events[1]->body.type, Message::EventRevoked);
  EXPECT_EQ(agent_of(), "a1");
}

TEST_F(TransferTest, TransferNeedsTheHandlingAgentAndAFreeTarget) {
  proto::RequestTransferT transfer;
  transfer.interaction_id = id_;
  transfer.agent_id = "a2";
  transfer.target_agent_id = "a1";
  EXPECT_NE(error_text(other_->call(transfer)).find("is not being handled by agent a2"), std::string::npos);
  transfer.agent_id = "a1";
  transfer.target_agent_id = "nobody";
  EXPECT_EQ(as_error(desktop_->call(transfer))->code, static_cast<int>(ErrorCode::UnknownAgent));
  start_transfer();
  transfer.target_agent_id = "a2";
  EXPECT_NE(error_text(desktop_->call(transfer)).find("already being transferred"), std::string::npos);
}

TEST_F(TransferTest, ConferenceAddsAPartyAndTheLastOneToLeaveReturnsItToTheQueue) {
  ASSERT_NO_FATAL_FAILURE(conference_a2_in());
  // Both parties hear that a2 joined.
  EXPECT_NE(desktop_event(Message::EventPartyAdded, 0, 2000), nullptr);
  proto::RequestGetPropertiesT get;
  get.interaction_id = id_;
  EnvelopePtr props = media_->call(get);
  const proto::InteractionInfoT& info = *props->body.AsEventProperties()->interaction;
  EXPECT_EQ(info.agent_id, "a1");
  EXPECT_EQ(info.conference, std::vector<std::string>{"a2"});

  proto::RequestLeaveInteractionT leave;
  leave.interaction_id = id_;
  leave.agent_id = "a1";
  ASSERT_TRUE(acked(desktop_->call(leave)));
  EXPECT_EQ(agent_of(), "a2") << "the remaining party carries it on";
  EXPECT_NE(error_text(desktop_->call(leave)).find("agent a1 is not a party"), std::string::npos);
  leave.agent_id = "a2";
  ASSERT_TRUE(acked(other_->call(leave)));
  EXPECT_EQ(state_of(id_), proto::InteractionState::Queued) << "the last party left: back to its queue";
}

TEST_F(TransferTest, StoppingAConferenceReportsEveryPartyLeaving) {
  ASSERT_NO_FATAL_FAILURE(conference_a2_in());
  auto stats = primary_client(ClientType::ReportingEngine);
  ASSERT_TRUE(acked(stats->call(proto::RequestStartReportingT{})));
  proto::RequestStopProcessingT stop;
  stop.interaction_id = id_;
  ASSERT_TRUE(acked(media_->call(stop)));
  ASSERT_TRUE(stats->wait_for_events(3));
  std::vector<std::string> removed;
  for (const EnvelopePtr& e : stats->events) {
    if (const auto* r = e->body.AsEventPartyRemoved()) removed.push_back(r->agent_id);
  }
  EXPECT_EQ(removed, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(stats->events.back()->body.type, Message::EventProcessingStopped);
  ASSERT_TRUE(other_->wait_for_events(2));
  EXPECT_EQ(other_->events.back()->body.type, Message::EventRevoked) << "the conference member is told too";
}

}  // namespace
}  // namespace ix::test
