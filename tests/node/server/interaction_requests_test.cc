// In-process tests of the interaction requests (node/server/interaction_requests.cc): submit,
// get and change properties, place in queue, stop processing, pull (held pulls on a manual
// clock) and reporting subscriptions.
#include "protocol/wire/kv.h"
#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

using proto::ErrorCode;
using proto::InteractionState;
using proto::Message;

using InteractionRequestsTest = ServiceFixture;

TEST_F(InteractionRequestsTest, SubmitQueuesTheInteractionAndStoresIt) {
  const std::string id = submit();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(id.rfind("p1-", 0), 0u) << "a generated ID carries the pair's tag: " << id;
  EXPECT_EQ(state_of(id), InteractionState::Queued);
  EXPECT_EQ(service_->interactions().queue_depth("inbound"), 1u);
  auto stored = store_.load();
  ASSERT_EQ(stored->interactions.size(), 1u) << "acknowledged means stored";
  EXPECT_EQ(stored->interactions[0].id, id);
}

TEST_F(InteractionRequestsTest, SubmitRefusesWhatThePairDoesNotServe) {
  proto::RequestSubmitT r;
  r.tenant_id = "101";
  r.media_type = "chat";
  EXPECT_EQ(error_code(call(media_, r)), ErrorCode::MissingAttribute);
  r.queue = "other-tenant";
  EXPECT_EQ(error_code(call(media_, r)), ErrorCode::UnknownQueue);
  r.queue = "inbound";
  r.tenant_id = "202";
  EXPECT_EQ(error_code(call(media_, r)), ErrorCode::InvalidAttribute);
  r.tenant_id = "101";
  r.interaction_id = "mine-1";
  EnvelopePtr first = call(media_, r);
  ASSERT_TRUE(first && first->body.AsEventSubmitted());
  EXPECT_EQ(first->body.AsEventSubmitted()->interaction_id, "mine-1");
  EXPECT_EQ(error_code(call(media_, r)), ErrorCode::DuplicateInteractionId);
}

// A submit's request_id makes a retry the same interaction: answered after the original is
// durable, still after a new primary loaded the store, forgotten after submit-key-window.
TEST_F(InteractionRequestsTest, ASubmitRetriedWithItsRequestIdIsTheOriginalInteraction) {
  proto::RequestSubmitT r;
  r.tenant_id = "101";
  r.media_type = "chat";
  r.queue = "inbound";
  r.request_id = "retry-1";
  auto submitted = [](const EnvelopePtr& e) { return e && e->body.AsEventSubmitted() ? e->body.AsEventSubmitted() : nullptr; };

  store_.hold_commits(true);
  const uint64_t first = send(media_, r), retry = send(media_, r);
  loop_.run_for(5);
  EXPECT_TRUE(media_.received.empty()) << "nothing is answered before the original's commit";
  store_.pump();
  settle();
  store_.hold_commits(false);
  EnvelopePtr original = media_.reply(first), repeated = media_.reply(retry);
  ASSERT_TRUE(submitted(original));
  ASSERT_TRUE(submitted(repeated));
  const std::string id = submitted(original)->interaction_id;
  EXPECT_FALSE(submitted(original)->repeated);
  EXPECT_EQ(submitted(repeated)->interaction_id, id);
  EXPECT_TRUE(submitted(repeated)->repeated);
  EXPECT_EQ(service_->interactions().queue_depth("inbound"), 1u);

  start_service();  // a new primary, from what the store holds
  EnvelopePtr after_failover = call(media_, r);
  ASSERT_TRUE(submitted(after_failover)) << (as_error(after_failover) ? as_error(after_failover)->text : "no answer");
  EXPECT_EQ(submitted(after_failover)->interaction_id, id);
  EXPECT_EQ(store_.load()->interactions.size(), 1u);

  r.request_id = "retry-2";  // another key: another interaction
  EnvelopePtr other = call(media_, r);
  ASSERT_TRUE(submitted(other));
  EXPECT_NE(submitted(other)->interaction_id, id);

  clock_.advance(10 * 60 * 1000 + 1);  // the default submit-key-window (10m) has passed
  r.request_id = "retry-1";
  EnvelopePtr late = call(media_, r);
  ASSERT_TRUE(submitted(late));
  EXPECT_NE(submitted(late)->interaction_id, id) << "a key older than the window is forgotten";
  EXPECT_FALSE(submitted(late)->repeated);
  settle();
  std::vector<std::string> keys;
  auto stored = store_.load();  // kept alive while iterating over its keys
  ASSERT_TRUE(stored.ok());
  for (const auto& k : stored->submit_keys) keys.push_back(k.interaction_id);
  EXPECT_EQ(keys, std::vector<std::string>{submitted(late)->interaction_id}) << "expired keys leave the store";

  r.request_id = std::string(node::SubmitKeys::kMaxRequestIdBytes + 1, 'k');
  EXPECT_EQ(error_code(call(media_, r)), ErrorCode::InvalidAttribute);
}

TEST_F(InteractionRequestsTest, GetAndChangeProperties) {
  const std::string id = submit();
  proto::RequestChangePropertiesT change;
  change.interaction_id = id;
  change.added = wire::kv_list({{"Subject", "hello"}, {"Score", 7}});
  ASSERT_TRUE(acked(call(media_, change)));
  EXPECT_EQ(error_code(call(media_, change)), ErrorCode::InvalidAttribute) << "added twice";

  proto::RequestChangePropertiesT remove;
  remove.interaction_id = id;
  remove.deleted = {"Score"};
  ASSERT_TRUE(acked(call(media_, remove)));

  proto::RequestGetPropertiesT get;
  get.interaction_id = id;
  EnvelopePtr reply = call(media_, get);
  ASSERT_TRUE(reply && reply->body.AsEventProperties());
  const auto& pairs = reply->body.AsEventProperties()->interaction->user_data->pairs;
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0]->key, "Subject");
  EXPECT_EQ(pairs[0]->string_value, "hello");
  get.interaction_id = "nope";
  EXPECT_EQ(error_code(call(media_, get)), ErrorCode::UnknownInteraction);
}

TEST_F(InteractionRequestsTest, PlaceInQueueMovesTheInteraction) {
  const std::string id = submit();
  proto::RequestPlaceInQueueT place;
  place.interaction_id = id;
  place.queue = "vip";
  ASSERT_TRUE(acked(call(router_, place)));
  EXPECT_EQ(find(id)->queue, "vip");
  EXPECT_EQ(service_->interactions().queue_depth("inbound"), 0u);
  EXPECT_EQ(service_->interactions().queue_depth("vip"), 1u);
  place.queue = "other-tenant";
  EXPECT_EQ(error_code(call(router_, place)), ErrorCode::UnknownQueue);
}

TEST_F(InteractionRequestsTest, StopProcessingRemovesTheInteractionFromMemoryAndStore) {
  const std::string id = submit();
  proto::RequestStopProcessingT stop;
  stop.interaction_id = id;
  ASSERT_TRUE(acked(call(media_, stop)));
  EXPECT_EQ(find(id), nullptr);
  EXPECT_TRUE(store_.load()->interactions.empty());
  EXPECT_EQ(error_code(call(media_, stop)), ErrorCode::UnknownInteraction);
}

TEST_F(InteractionRequestsTest, PullTakesTheHighestPriorityFirst) {
  const std::string low = submit("inbound", 1), high = submit("inbound", 9);
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.view_id = "all-inbound";
  pull.count = 1;
  EnvelopePtr reply = call(router_, pull);
  ASSERT_TRUE(reply && reply->body.AsEventPulled());
  ASSERT_EQ(reply->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(reply->body.AsEventPulled()->interactions[0]->interaction_id, high);
  EXPECT_EQ(state_of(high), InteractionState::Handling);
  EXPECT_EQ(state_of(low), InteractionState::Queued);
  pull.count = 0;
  EXPECT_EQ(error_code(call(router_, pull)), ErrorCode::InvalidAttribute);
}

TEST_F(InteractionRequestsTest, AHeldPullIsServedByTheNextSubmitOrAnsweredEmptyAtItsHoldTime) {
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.queue = "inbound";
  pull.count = 1;
  pull.hold_time_ms = 5000;
  const uint64_t held = send(router_, pull);
  settle();
  EXPECT_EQ(router_.reply(held), nullptr) << "nothing to take: the pull waits";
  const std::string id = submit();
  settle();
  EnvelopePtr served = router_.reply(held);
  ASSERT_TRUE(served && served->body.AsEventPulled());
  ASSERT_EQ(served->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(served->body.AsEventPulled()->interactions[0]->interaction_id, id);

  const uint64_t empty = send(router_, pull);
  clock_.advance(4999);
  EXPECT_EQ(router_.reply(empty), nullptr);
  clock_.advance(1);
  EnvelopePtr timed_out = router_.reply(empty);
  ASSERT_TRUE(timed_out && timed_out->body.AsEventPulled());
  EXPECT_TRUE(timed_out->body.AsEventPulled()->interactions.empty());
}

TEST_F(InteractionRequestsTest, ReportingSubscribersGetCommittedEventsAndCanResume) {
  proto::RequestStartReportingT start;
  ASSERT_TRUE(acked(call(reporter_, start)));
  const std::string id = submit();
  EnvelopePtr submitted = reporter_.event(Message::EventInteractionSubmitted);
  ASSERT_NE(submitted, nullptr);
  EXPECT_EQ(submitted->body.AsEventInteractionSubmitted()->interaction->interaction_id, id);
  EXPECT_NE(reporter_.event(Message::EventPlacedInQueue), nullptr);

  ASSERT_TRUE(acked(call(reporter_, proto::RequestStopReportingT{})));
  submit();
  EXPECT_EQ(reporter_.event(Message::EventInteractionSubmitted), nullptr) << "stopped";

  // Resuming from 0 replays the log (an asynchronous read) before turning live.
  auto position = std::make_unique<proto::ResumePositionT>();
  position->node_id = "pair-1";
  position->seq = 0;
  start.resume.push_back(std::move(position));
  ASSERT_TRUE(acked(call(reporter_, start)));
  ASSERT_TRUE(loop_.run_until([&] { return reporter_.received.size() >= 4; }, 2000));
  EXPECT_NE(reporter_.event(Message::EventInteractionSubmitted), nullptr);
  EXPECT_NE(reporter_.event(Message::EventInteractionSubmitted), nullptr) << "both submits, from the backlog";
}

TEST_F(InteractionRequestsTest, ReportingStateShowsOpenInteractionsAndAgentsAsOfTheLastSeq) {
  login(desktop_, "a1", "p1", 2);
  ready(desktop_, "a1");
  const std::string first = submit("inbound", 5);
  submit();
  proto::RequestReportingStateT request;
  request.condition = "priority = 5";
  EnvelopePtr reply = call(reporter_, request);
  ASSERT_TRUE(reply && reply->body.AsEventReportingState()) << "got " << (reply ? wire::message_name(reply->body.type) : "nothing");
  const proto::EventReportingStateT& state = *reply->body.AsEventReportingState();
  EXPECT_EQ(state.node_id, "pair-1");
  ASSERT_EQ(state.interactions.size(), 1u) << "only what meets the condition";
  EXPECT_EQ(state.interactions[0]->interaction_id, first);
  ASSERT_EQ(state.agents.size(), 1u);
  EXPECT_EQ(state.agents[0]->agent_id, "a1");
  EXPECT_TRUE(state.agents[0]->media[0]->ready);

  // The seq is where the stream stands: a subscriber resuming from it gets only later events.
  proto::RequestStartReportingT start;
  auto position = std::make_unique<proto::ResumePositionT>();
  position->node_id = "pair-1";
  position->seq = state.seq;
  start.resume.push_back(std::move(position));
  ASSERT_TRUE(acked(call(media_, start)));
  submit();
  ASSERT_TRUE(loop_.run_until([&] { return media_.event(Message::EventInteractionSubmitted) != nullptr; }, 2000));
  EXPECT_EQ(media_.event(Message::EventInteractionSubmitted), nullptr) << "only the one submitted after the state";

  request.condition = "priority >";
  EXPECT_EQ(error_code(call(reporter_, request)), ErrorCode::InvalidCondition) << "a bad condition is refused";
}

}  // namespace
}  // namespace ix::test
