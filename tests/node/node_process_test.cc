// ixnode as a real process on loopback with a temporary SQLite database.
#include <gtest/gtest.h>

#include <flatbuffers/idl.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "protocol/wire/kv.h"
#include "tests/node/node_fixture.h"
#include "tests/support/http_exchange.h"

namespace ix::test {
namespace {

using proto::ClientType;
using proto::ErrorCode;
using proto::Message;

class IxnodeTest : public NodePairFixture {};

std::string submitted_id(const EnvelopePtr& reply) {
  if (!reply || !reply->body.AsEventSubmitted()) return "";
  return reply->body.AsEventSubmitted()->interaction_id;
}

void expect_error(const EnvelopePtr& reply, ErrorCode code, const std::string& says) {
  ASSERT_NE(as_error(reply), nullptr) << "expected EventError " << static_cast<int>(code);
  EXPECT_EQ(as_error(reply)->code, static_cast<int>(code)) << as_error(reply)->text;
  EXPECT_NE(as_error(reply)->text.find(says), std::string::npos) << as_error(reply)->text;
}

TEST_F(IxnodeTest, SubmitGetChangeAndStop) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);

  proto::RequestSubmitT submit = submit_request();
  submit.user_data = wire::kv_list({{"Subject", "where is my parcel"}, {"Score", 7}});
  std::string id = submitted_id(media->call(submit));
  ASSERT_EQ(id.rfind("p1-", 0), 0u) << "cluster-generated IDs carry the pair's tag: " << id;
  EXPECT_EQ(id.size(), 3u + 16u);

  proto::RequestGetPropertiesT get;
  get.interaction_id = id;
  EnvelopePtr props = media->call(get);
  ASSERT_NE(props->body.AsEventProperties(), nullptr);
  const proto::InteractionInfoT& info = *props->body.AsEventProperties()->interaction;
  EXPECT_EQ(info.queue, "inbound");
  EXPECT_EQ(info.state, proto::InteractionState::Queued);
  EXPECT_EQ(info.media_type, "chat");
  ASSERT_NE(info.user_data, nullptr);
  EXPECT_EQ(info.user_data->pairs.size(), 2u);

  proto::RequestChangePropertiesT change;
  change.interaction_id = id;
  change.changed = wire::kv_list({{"Score", 9}});
  change.added = wire::kv_list({{"Language", "de"}});
  change.deleted = {"Subject"};
  EnvelopePtr ack = media->call(change);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->body.type, Message::EventAck) << (as_error(ack) ? as_error(ack)->text : "");
  props = media->call(get);
  const auto& pairs = props->body.AsEventProperties()->interaction->user_data->pairs;
  ASSERT_EQ(pairs.size(), 2u);
  std::set<std::string> keys{pairs[0]->key, pairs[1]->key};
  EXPECT_EQ(keys, (std::set<std::string>{"Score", "Language"}));

  // A refused change leaves the interaction as it was.
  proto::RequestChangePropertiesT bad;
  bad.interaction_id = id;
  bad.added = wire::kv_list({{"New", 1}});
  bad.changed = wire::kv_list({{"Missing", 1}});
  expect_error(media->call(bad), ErrorCode::InvalidAttribute, "property \"Missing\" does not exist");
  EXPECT_EQ(media->call(get)->body.AsEventProperties()->interaction->user_data->pairs.size(), 2u);

  proto::RequestStopProcessingT stop;
  stop.interaction_id = id;
  EXPECT_EQ(media->call(stop)->body.type, Message::EventAck);
  expect_error(media->call(get), ErrorCode::UnknownInteraction, id);
}

TEST_F(IxnodeTest, SubmitRefusesBadAttributesAndChangesNothing) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  proto::RequestSubmitT r = submit_request();
  r.media_type = "";
  expect_error(media->call(r), ErrorCode::MissingAttribute, "RequestSubmit.media_type is missing");
  r = submit_request("inbound", 0, "fax");
  expect_error(media->call(r), ErrorCode::InvalidAttribute, "\"fax\" is not a configured media type");
  r = submit_request("nowhere");
  expect_error(media->call(r), ErrorCode::UnknownQueue, "\"nowhere\" is not a queue of tenant 101");
  r = submit_request("other-tenant");
  expect_error(media->call(r), ErrorCode::UnknownQueue, "other-tenant");
  r = submit_request();
  r.tenant_id = "202";
  expect_error(media->call(r), ErrorCode::InvalidAttribute, "is not served by node pair pair-1");
  r = submit_request();
  r.interaction_id = "p7-00000000000000ab";
  expect_error(media->call(r), ErrorCode::InvalidAttribute, "form of a cluster-generated ID");
  r = submit_request();
  r.interaction_id = "chat-session-42";
  EXPECT_EQ(submitted_id(media->call(r)), "chat-session-42") << "client-supplied IDs are kept";
  expect_error(media->call(r), ErrorCode::DuplicateInteractionId, "chat-session-42 already exists");

  proto::RequestPullT pull;
  pull.queue = "inbound";
  pull.count = 10;
  auto router = primary_client(ClientType::RoutingEngine);
  EnvelopePtr pulled = router->call(pull);
  ASSERT_NE(pulled->body.AsEventPulled(), nullptr);
  EXPECT_EQ(pulled->body.AsEventPulled()->interactions.size(), 1u) << "only the accepted submit exists";
}

TEST_F(IxnodeTest, PullTakesInPriorityThenAgeOrderAcrossTheViewsQueues) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  std::vector<std::string> ids;
  ids.push_back(submitted_id(media->call(submit_request("inbound", 1))));  // 0: low, oldest
  ids.push_back(submitted_id(media->call(submit_request("vip", 5))));      // 1: high
  ids.push_back(submitted_id(media->call(submit_request("inbound", 5))));  // 2: high, younger
  ids.push_back(submitted_id(media->call(submit_request("inbound", 1))));  // 3: low, youngest

  auto router = primary_client(ClientType::RoutingEngine);
  proto::RequestPullT pull;
  pull.view_id = "all-inbound";
  pull.count = 3;
  EnvelopePtr first = router->call(pull);
  ASSERT_NE(first->body.AsEventPulled(), nullptr);
  const auto& got = first->body.AsEventPulled()->interactions;
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]->interaction_id, ids[1]);
  EXPECT_EQ(got[1]->interaction_id, ids[2]);
  EXPECT_EQ(got[2]->interaction_id, ids[0]);
  EXPECT_EQ(got[0]->state, proto::InteractionState::Handling);
  EnvelopePtr second = router->call(pull);
  ASSERT_EQ(second->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(second->body.AsEventPulled()->interactions[0]->interaction_id, ids[3]);
  EXPECT_TRUE(router->call(pull)->body.AsEventPulled()->interactions.empty());

  // Back into a queue, and it can be pulled again.
  proto::RequestPlaceInQueueT place;
  place.interaction_id = ids[0];
  place.queue = "vip";
  EXPECT_EQ(router->call(place)->body.type, Message::EventAck);
  pull.queue = "vip";
  pull.view_id.clear();
  EXPECT_EQ(router->call(pull)->body.AsEventPulled()->interactions[0]->interaction_id, ids[0]);

  pull.queue.clear();
  pull.view_id = "nope";
  expect_error(router->call(pull), ErrorCode::UnknownView, "\"nope\" does not exist");
  pull.view_id = "all-inbound";
  pull.count = 0;
  expect_error(router->call(pull), ErrorCode::InvalidAttribute, "count 0 is out of range");
}

TEST_F(IxnodeTest, ClientTypesAreCheckedAndUnknownIdsNamed) {
  primary_ = start_node("primary");
  auto reporting = primary_client(ClientType::ReportingEngine);
  ASSERT_NE(reporting, nullptr);
  expect_error(reporting->call(submit_request()), ErrorCode::RequestNotAllowed, "ReportingEngine clients may not send RequestSubmit");
  auto media = primary_client();
  expect_error(media->call(proto::RequestStartReportingT{}), ErrorCode::RequestNotAllowed, "MediaServer clients may not send");
  proto::RequestStopProcessingT stop;
  stop.interaction_id = "p1-00000000000000ff";
  expect_error(media->call(stop), ErrorCode::UnknownInteraction, "p1-00000000000000ff does not exist on node pair pair-1");
  stop.interaction_id = "";
  expect_error(media->call(stop), ErrorCode::MissingAttribute, "RequestStopProcessing.interaction_id is missing");
  expect_error(media->call(proto::EventAckT{}), ErrorCode::RequestNotAllowed, "EventAck is an event, not a request");
}

// Collects the seq numbers of the reporting events a client has received.
std::vector<uint64_t> seqs(const ProtocolClient& c) {
  std::vector<uint64_t> out;
  for (const EnvelopePtr& e : c.events) {
    flatbuffers::FlatBufferBuilder b;
    proto::FinishEnvelopeBuffer(b, proto::Envelope::Pack(b, e.get()));
    const proto::ReportingHeader* h = wire::reporting_header(*proto::GetEnvelope(b.GetBufferPointer()));
    if (h) out.push_back(h->seq());
  }
  return out;
}

TEST_F(IxnodeTest, ReportingBacklogThenLiveWithoutGapOrDuplicate) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(submitted_id(media->call(submit_request())).empty());  // seq 1..10

  auto stats = primary_client(ClientType::ReportingEngine);
  proto::RequestStartReportingT start;
  auto resume = std::make_unique<proto::ResumePositionT>();
  resume->node_id = "pair-1";
  resume->seq = 4;
  start.resume.push_back(std::move(resume));
  EXPECT_EQ(stats->call(start)->body.type, Message::EventAck);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(submitted_id(media->call(submit_request())).empty());  // seq 11..16
  ASSERT_TRUE(stats->wait_for_events(12));
  std::vector<uint64_t> expected;
  for (uint64_t s = 5; s <= 16; ++s) expected.push_back(s);
  EXPECT_EQ(seqs(*stats), expected);
  EXPECT_EQ(stats->events[0]->body.type, Message::EventInteractionSubmitted) << "seq 5 opens the third submit";
  EXPECT_EQ(stats->events[1]->body.type, Message::EventPlacedInQueue);
  const proto::ReportingHeaderT& header = *stats->events[1]->body.AsEventPlacedInQueue()->header;
  EXPECT_EQ(header.node_id, "pair-1");
  EXPECT_EQ(header.tenant_id, "101");
  EXPECT_EQ(header.media_type, "chat") << "statistics engines group by media";
  EXPECT_GT(header.timestamp_us, 0);

  auto ahead = primary_client(ClientType::ReportingEngine);
  start.resume[0]->seq = 999;
  expect_error(ahead->call(start), ErrorCode::InvalidAttribute, "ahead of the event log");
}

TEST_F(IxnodeTest, BackupRefusesWorkAndTakesOverWhenThePrimaryDies) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 20; ++i) acknowledged.push_back(submitted_id(media->call(submit_request())));

  backup_ = start_node("backup");
  auto on_backup = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup);
  ASSERT_NE(on_backup, nullptr);
  expect_error(on_backup->call(submit_request()), ErrorCode::NotPrimary, "is the backup");

  auto started = std::chrono::steady_clock::now();
  primary_->kill(SIGKILL);
  ASSERT_TRUE(on_backup->wait_for_events(1, 10'000)) << "the backup announces itself";
  const auto* changed = on_backup->events[0]->body.AsEventServerRoleChanged();
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->role, proto::ServerRole::Primary);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::seconds(3)) << "lease-timeout is 1s";

  for (const std::string& id : acknowledged) {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id;
    EnvelopePtr reply = on_backup->call(get);
    ASSERT_NE(reply, nullptr);
    EXPECT_NE(reply->body.AsEventProperties(), nullptr) << id << " was acknowledged and must survive";
  }
  EXPECT_FALSE(submitted_id(on_backup->call(submit_request())).empty());
}

TEST_F(IxnodeTest, ViewConditionsFindSnapshotsAndLocks) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  std::vector<std::string> ids;
  for (int priority : {1, 7, 4, 9, 2}) {
    proto::RequestSubmitT r = submit_request("inbound", priority);
    r.user_data = wire::kv_list({{"Segment", priority > 5 ? "gold" : "silver"}});
    ids.push_back(submitted_id(media->call(r)));
  }
  auto router = primary_client(ClientType::RoutingEngine);

  // find: condition, order and limit
  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "ud.Segment = 'gold' OR priority = 1";
  find.order = "priority asc";
  EnvelopePtr found = router->call(find);
  ASSERT_NE(found->body.AsEventFindResult(), nullptr) << (as_error(found) ? as_error(found)->text : "");
  const auto& hits = found->body.AsEventFindResult()->interactions;
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0]->interaction_id, ids[0]);
  EXPECT_EQ(hits[1]->interaction_id, ids[1]);
  EXPECT_EQ(hits[2]->interaction_id, ids[3]);
  find.limit = 1;
  EXPECT_EQ(router->call(find)->body.AsEventFindResult()->interactions.size(), 1u);
  find.condition = "priority >";
  expect_error(router->call(find), ErrorCode::InvalidCondition, "RequestFind.condition at position 11: expected a value");

  // snapshot with a lock: the locked interactions disappear from views until released
  proto::RequestTakeSnapshotT take;
  take.view_id = "all-inbound";
  take.condition = "priority >= 4";
  take.order = "priority desc";
  take.lock = true;
  EnvelopePtr taken = router->call(take);
  ASSERT_NE(taken->body.AsEventSnapshotTaken(), nullptr) << (as_error(taken) ? as_error(taken)->text : "");
  const std::string snapshot = taken->body.AsEventSnapshotTaken()->snapshot_id;
  EXPECT_EQ(taken->body.AsEventSnapshotTaken()->count, 3u);
  proto::RequestSnapshotPageT page;
  page.snapshot_id = snapshot;
  page.start = 1;
  page.count = 5;
  EnvelopePtr second_page = router->call(page);
  ASSERT_NE(second_page->body.AsEventSnapshotPage(), nullptr);
  const auto& paged = second_page->body.AsEventSnapshotPage()->interactions;
  ASSERT_EQ(paged.size(), 2u);
  EXPECT_EQ(paged[0]->interaction_id, ids[1]);  // 9, [7], [4]
  EXPECT_EQ(paged[1]->interaction_id, ids[2]);
  EXPECT_TRUE(paged[0]->locked);

  proto::RequestPullT pull;
  pull.view_id = "filtered";  // priority > 3: all three are locked
  pull.count = 10;
  EXPECT_TRUE(router->call(pull)->body.AsEventPulled()->interactions.empty()) << "locked interactions cannot be pulled";
  proto::RequestDeliverT deliver;
  deliver.interaction_id = ids[3];
  deliver.agent_id = "a1";
  expect_error(router->call(deliver), ErrorCode::UnknownAgent, "a1");

  proto::RequestReleaseSnapshotT release;
  release.snapshot_id = snapshot;
  EXPECT_EQ(router->call(release)->body.type, Message::EventAck);
  expect_error(router->call(page), ErrorCode::UnknownSnapshot, snapshot);
  EnvelopePtr pulled = router->call(pull);
  ASSERT_EQ(pulled->body.AsEventPulled()->interactions.size(), 3u) << "released: visible again";
  EXPECT_EQ(pulled->body.AsEventPulled()->interactions[0]->interaction_id, ids[3]);

  // explicit locks, released when their client disconnects
  auto locker = primary_client(ClientType::AgentApplication);
  proto::RequestLockT lock;
  lock.interaction_id = ids[0];
  EXPECT_EQ(locker->call(lock)->body.type, Message::EventAck);
  expect_error(router->call(lock), ErrorCode::InteractionLocked, "already locked");
  proto::RequestUnlockT unlock;
  unlock.interaction_id = ids[0];
  expect_error(router->call(unlock), ErrorCode::InteractionLocked, "locked by another client");
  locker.reset();
  // The node notices the disconnect a moment later; until then the lock holds.
  bool released = false;
  for (int attempt = 0; attempt < 100 && !released; ++attempt) {
    released = router->call(lock)->body.type == Message::EventAck;
    if (!released) loop_.run_for(20);
  }
  EXPECT_TRUE(released) << "the disconnect released the lock";
}

class BadViewTest : public NodePairFixture {
 protected:
  std::string config_text() override {
    std::string text = NodePairFixture::config_text();
    text.replace(text.find("condition = \"priority > 3\""), 26, "condition = \"priority >> 3\"");
    return text;
  }
};

TEST_F(BadViewTest, NodeRefusesToStartWithAnInvalidViewCondition) {
  // The configuration itself is refused (exit 2), with the file, line and key of the condition.
  primary_ = start_node("primary");
  EXPECT_EQ(primary_->wait_for_exit(std::chrono::seconds(10)), 2);
  EXPECT_NE(primary_->log().find("cluster.toml:"), std::string::npos) << primary_->log();
  EXPECT_NE(primary_->log().find("views[filtered].condition: at position 11: expected a value, found \">\""), std::string::npos)
      << primary_->log();
}

TEST_F(IxnodeTest, EmptyPullWaitsForAnInteractionUpToItsHoldTime) {
  primary_ = start_node("primary");
  auto router = primary_client(ClientType::RoutingEngine);
  auto media = primary_client();
  ASSERT_NE(media, nullptr);

  proto::RequestPullT pull;
  pull.view_id = "all-inbound";
  pull.hold_time_ms = 300;
  auto started = std::chrono::steady_clock::now();
  EnvelopePtr empty = router->call(pull);
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_NE(empty->body.AsEventPulled(), nullptr);
  EXPECT_TRUE(empty->body.AsEventPulled()->interactions.empty());
  EXPECT_GE(waited, std::chrono::milliseconds(280));

  // A held pull is served by the first interaction that arrives.
  pull.hold_time_ms = 5000;
  started = std::chrono::steady_clock::now();
  const uint64_t ref = router->send(pull);
  // The node serves one connection's requests in order: once the ping after the pull is
  // answered, the pull is held.
  ASSERT_NE(router->call(proto::RequestPingT{}), nullptr);
  std::string id = submitted_id(media->call(submit_request("vip", 1)));
  ASSERT_FALSE(id.empty());
  EnvelopePtr served = router->wait_reply(ref);
  ASSERT_NE(served, nullptr);
  ASSERT_NE(served->body.AsEventPulled(), nullptr);
  ASSERT_EQ(served->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(served->body.AsEventPulled()->interactions[0]->interaction_id, id);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2000)) << "served at once, not at the hold time";
}

TEST_F(IxnodeTest, WorkbinsHoldInteractionsForTheirOwnerAndNotifyListeners) {
  primary_ = start_node("primary");
  auto media = primary_client();
  auto desktop = primary_client(ClientType::AgentApplication);
  ASSERT_NE(desktop, nullptr);
  std::string first = submitted_id(media->call(submit_request()));
  std::string second = submitted_id(media->call(submit_request()));

  proto::RequestWorkbinSubscribeT subscribe;
  subscribe.tenant_id = "101";
  subscribe.workbin_type = "drafts";
  subscribe.owner_agent_id = "a1";
  ASSERT_EQ(desktop->call(subscribe)->body.type, Message::EventAck);

  proto::RequestPlaceInWorkbinT place;
  place.interaction_id = first;
  place.workbin_type = "drafts";
  place.owner_agent_id = "a1";
  ASSERT_EQ(desktop->call(place)->body.type, Message::EventAck);
  place.interaction_id = second;
  ASSERT_EQ(desktop->call(place)->body.type, Message::EventAck);
  ASSERT_TRUE(desktop->wait_for_events(2));
  ASSERT_NE(desktop->events[0]->body.AsEventWorkbinChanged(), nullptr);
  EXPECT_TRUE(desktop->events[0]->body.AsEventWorkbinChanged()->added);
  EXPECT_EQ(desktop->events[0]->body.AsEventWorkbinChanged()->interaction_id, first);

  proto::RequestWorkbinContentT content;
  content.tenant_id = "101";
  content.workbin_type = "drafts";
  content.owner_agent_id = "a1";
  EnvelopePtr listed = desktop->call(content);
  ASSERT_NE(listed->body.AsEventWorkbinContent(), nullptr);
  ASSERT_EQ(listed->body.AsEventWorkbinContent()->interactions.size(), 2u);
  EXPECT_EQ(listed->body.AsEventWorkbinContent()->interactions[0]->interaction_id, first);
  EXPECT_EQ(listed->body.AsEventWorkbinContent()->interactions[0]->state, proto::InteractionState::InWorkbin);

  // Out of the workbin into a queue: listeners hear of it, and a queue pull finds it.
  proto::RequestPlaceInQueueT back;
  back.interaction_id = first;
  back.queue = "inbound";
  ASSERT_EQ(desktop->call(back)->body.type, Message::EventAck);
  ASSERT_TRUE(desktop->wait_for_events(3));
  EXPECT_FALSE(desktop->events[2]->body.AsEventWorkbinChanged()->added);
  EXPECT_EQ(desktop->call(content)->body.AsEventWorkbinContent()->interactions.size(), 1u);

  content.owner_agent_id.clear();
  expect_error(desktop->call(content), ErrorCode::MissingAttribute, "owner_agent_id is missing (workbin type drafts belongs to agents)");
  content.workbin_type = "nope";
  expect_error(desktop->call(content), ErrorCode::InvalidAttribute, "\"nope\" is not a workbin type of tenant 101");
  place.workbin_type = "team";
  place.owner_agent_id.clear();
  place.owner_place_id = "pl-1";
  EXPECT_EQ(desktop->call(place)->body.type, Message::EventAck) << "place workbins are owned by places";

  // Pulling from the workbin takes the interaction out of it (and tells the listeners).
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.workbin_type = "team";
  pull.owner_place_id = "pl-1";
  EnvelopePtr pulled = desktop->call(pull);
  ASSERT_NE(pulled->body.AsEventPulled(), nullptr) << (as_error(pulled) ? as_error(pulled)->text : "");
  ASSERT_EQ(pulled->body.AsEventPulled()->interactions.size(), 1u);
  EXPECT_EQ(pulled->body.AsEventPulled()->interactions[0]->interaction_id, second);
  EXPECT_EQ(pulled->body.AsEventPulled()->interactions[0]->state, proto::InteractionState::Handling);
  EXPECT_TRUE(desktop->call(pull)->body.AsEventPulled()->interactions.empty());
  pull.queue = "inbound";
  expect_error(desktop->call(pull), ErrorCode::MissingAttribute, "exactly one of view_id, queue and workbin_type");
}

class RetentionTest : public NodePairFixture {
 protected:
  void SetUp() override {
    retention_ = "2s";
    NodePairFixture::SetUp();
  }
};

TEST_F(RetentionTest, OldEventsLeaveTheLogAndResumingBeforeThemIsRefused) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(submitted_id(media->call(submit_request())).empty());  // seq 1..6
  loop_.run_for(3500);  // older than the 2 s retention; the newest event (6) stays
  ASSERT_FALSE(submitted_id(media->call(submit_request())).empty());  // seq 7, 8

  auto stats = primary_client(ClientType::ReportingEngine);
  proto::RequestStartReportingT start;
  auto resume = std::make_unique<proto::ResumePositionT>();
  resume->node_id = "pair-1";
  resume->seq = 0;
  start.resume.push_back(std::move(resume));
  expect_error(stats->call(start), ErrorCode::InvalidAttribute, "older than the event log's retention (first sequence number 6)");
  start.resume[0]->seq = 5;
  ASSERT_EQ(stats->call(start)->body.type, Message::EventAck);
  ASSERT_TRUE(stats->wait_for_events(3));
  EXPECT_EQ(seqs(*stats), (std::vector<uint64_t>{6, 7, 8}));
}

TEST_F(IxnodeTest, AdminPortReportsRoleQueuesAndInteractionsByState) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(submitted_id(media->call(submit_request("vip"))).empty());
  auto router = primary_client(ClientType::RoutingEngine);
  proto::RequestPullT pull;
  pull.queue = "vip";
  ASSERT_EQ(router->call(pull)->body.AsEventPulled()->interactions.size(), 1u);
  // Refusals are counted by their code's class: a queue that does not exist (3xx), a submit
  // without its tenant (2xx).
  expect_error(media->call(submit_request("no-such-queue")), ErrorCode::UnknownQueue, "no-such-queue");
  proto::RequestSubmitT no_tenant = submit_request("vip");
  no_tenant.tenant_id.clear();
  expect_error(media->call(no_tenant), ErrorCode::MissingAttribute, "tenant");

  HttpExchange metrics = http_get(loop_, primary_admin_, "/metrics");
  ASSERT_EQ(metrics.status(), 200);
  const std::string body = metrics.body();
  // Every node series names its pair and configured endpoint.
  for (const char* line : {"ix_node_primary{pair=\"pair-1\",node=\"primary\"} 1\n",
                           "ix_node_role{pair=\"pair-1\",node=\"primary\",role=\"primary\"} 1\n",
                           "ix_node_queue_depth{pair=\"pair-1\",node=\"primary\",queue=\"vip\"} 2\n",
                           "ix_node_interactions{pair=\"pair-1\",node=\"primary\",state=\"Queued\"} 2\n",
                           "ix_node_interactions{pair=\"pair-1\",node=\"primary\",state=\"Handling\"} 1\n",
                           "ix_node_event_log_seq{pair=\"pair-1\",node=\"primary\"} 7\n",
                           "ix_node_requests_total{pair=\"pair-1\",node=\"primary\",request=\"RequestSubmit\",result=\"ok\"} 3\n",
                           "ix_node_requests_total{pair=\"pair-1\",node=\"primary\",request=\"RequestSubmit\",result=\"3xx\"} 1\n",
                           "ix_node_requests_total{pair=\"pair-1\",node=\"primary\",request=\"RequestSubmit\",result=\"2xx\"} 1\n",
                           "ix_node_requests_total{pair=\"pair-1\",node=\"primary\",request=\"RequestPull\",result=\"ok\"} 1\n",
                           "ix_node_requests_total{pair=\"pair-1\",node=\"primary\",request=\"RequestPull\",result=\"5xx\"} 0\n"}) {
    EXPECT_NE(body.find(line), std::string::npos) << "missing " << line << " in\n" << body;
  }
  EXPECT_NE(body.find("ix_node_commit_batch_size_count"), std::string::npos);
  EXPECT_EQ(http_get(loop_, primary_admin_, "/readyz").status(), 200);
  EXPECT_NE(http_get(loop_, primary_admin_, "/status").body().find("\"role\": \"primary\""), std::string::npos);
}

class LiveLimitTest : public NodePairFixture {
 protected:
  void SetUp() override {
    max_live_interactions_ = 3;
    NodePairFixture::SetUp();
  }
};

// The node keeps every open interaction in memory: past max-live-interactions it refuses new
// submits with a specific error (and says so in its metrics) instead of growing until it is
// killed; a stopped interaction frees its place at once.
TEST_F(LiveLimitTest, SubmitsBeyondMaxLiveInteractionsAreRefusedUntilOneIsStopped) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(submitted_id(media->call(submit_request())));
    ASSERT_FALSE(ids.back().empty());
  }
  expect_error(media->call(submit_request()), ErrorCode::InteractionLimitReached,
               "node pair pair-1 holds 3 open interactions, its max-live-interactions (3)");
  proto::RequestSubmitT own_id = submit_request();
  own_id.interaction_id = "chat-session-1";
  expect_error(media->call(own_id), ErrorCode::InteractionLimitReached, "max-live-interactions");

  const std::string body = http_get(loop_, primary_admin_, "/metrics").body();
  for (const char* line : {"ix_node_live_interactions{pair=\"pair-1\",node=\"primary\"} 3\n",
                           "ix_node_max_live_interactions{pair=\"pair-1\",node=\"primary\"} 3\n",
                           "ix_node_request_errors_total{pair=\"pair-1\",node=\"primary\",code=\"312\"} 2\n"}) {
    EXPECT_NE(body.find(line), std::string::npos) << "missing " << line << " in\n" << body;
  }

  proto::RequestStopProcessingT stop;
  stop.interaction_id = ids[0];
  ASSERT_EQ(media->call(stop)->body.type, Message::EventAck);
  EXPECT_FALSE(submitted_id(media->call(own_id)).empty()) << "a stopped interaction frees its place";
  expect_error(media->call(submit_request()), ErrorCode::InteractionLimitReached, "holds 3 open interactions");
}

TEST_F(IxnodeTest, SighupReloadsTheConfigurationAndKeepsServing) {
  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  // A new queue appears in the file; after SIGHUP the node accepts submits to it.
  proto::RequestSubmitT r = submit_request("new-queue");
  expect_error(media->call(r), ErrorCode::UnknownQueue, "new-queue");
  std::ofstream(dir_ / "cluster.toml") << config_text() << "[[queues]]\nid = \"new-queue\"\ntenant = \"101\"\n";
  primary_->signal(SIGHUP);
  bool accepted = false;
  for (int attempt = 0; attempt < 100 && !accepted; ++attempt) {
    accepted = !submitted_id(media->call(r)).empty();
    if (!accepted) loop_.run_for(20);
  }
  EXPECT_TRUE(accepted) << primary_->log();
  EXPECT_NE(primary_->log().find("event=reload applied=true"), std::string::npos) << primary_->log();

  // A broken file is refused and the node goes on with the old configuration.
  std::ofstream(dir_ / "cluster.toml") << "this is not toml [";
  primary_->signal(SIGHUP);
  EXPECT_TRUE(loop_.run_until([&] { return primary_->log().find("event=reload applied=false") != std::string::npos; }, 5000))
      << primary_->log();
  EXPECT_FALSE(submitted_id(media->call(r)).empty()) << "still serving";
}

// Every request type the schema defines, sent empty: the node answers each one (an error that
// names what is missing, or a reply when empty is valid), never with an internal error, and it
// keeps serving.
TEST_F(IxnodeTest, EveryRequestTypeSentEmptyGetsAClearAnswer) {
  primary_ = start_node("primary");
  auto proxy = primary_client(ClientType::Proxy);  // a proxy may send every request
  ASSERT_NE(proxy, nullptr);
  flatbuffers::Parser parser;
  std::ifstream in(IX_SCHEMA_PATH);
  std::stringstream schema;
  schema << in.rdbuf();
  ASSERT_TRUE(parser.Parse(schema.str().c_str())) << parser.error_;
  size_t requests = 0;
  for (const flatbuffers::EnumVal* value : parser.enums_.Lookup("ix.proto.Message")->Vals()) {
    if (value->name.rfind("Request", 0) != 0) continue;
    ++requests;
    SCOPED_TRACE(value->name);
    const std::string json = "{ref_id: " + std::to_string(proxy->next_ref()) + ", body_type: " + value->name + ", body: {}}";
    ASSERT_TRUE(parser.Parse(json.c_str())) << parser.error_;
    std::vector<uint8_t> payload(parser.builder_.GetBufferPointer(), parser.builder_.GetBufferPointer() + parser.builder_.GetSize());
    EnvelopePtr reply = proxy->request(wire::make_frame(payload));
    ASSERT_NE(reply, nullptr) << "no answer";
    if (const proto::EventErrorT* error = as_error(reply)) {
      EXPECT_NE(error->code, static_cast<int>(ErrorCode::Internal)) << error->text;
      EXPECT_FALSE(error->text.empty());
    }
  }
  EXPECT_GT(requests, 30u);
  EXPECT_EQ(proxy->call(proto::RequestPingT{})->body.type, Message::EventPong) << "still serving";
}

TEST_F(IxnodeTest, SigtermStopsGracefullyAndReleasesTheLease) {
  primary_ = start_node("primary");
  backup_ = start_node("backup");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  const std::string id = submitted_id(media->call(submit_request()));
  EXPECT_EQ(primary_->kill(SIGTERM), 0) << primary_->log();
  EXPECT_NE(primary_->log().find("event=stopping reason=\"SIGTERM\""), std::string::npos);
  auto promoted = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Primary);
  ASSERT_NE(promoted, nullptr) << "the released lease goes to the backup";
  proto::RequestGetPropertiesT get;
  get.interaction_id = id;
  EXPECT_NE(promoted->call(get)->body.AsEventProperties(), nullptr);
}

// Submits continuously (many requests in flight) and remembers which ones were acknowledged.
struct SubmitStream {
  explicit SubmitStream(TestLoop& loop, uint16_t port) : client(connect_to(loop.get(), port)) {}
  void register_first() { client.send(wire::encode_register_client(1, ClientType::MediaServer, "stream", {})); }
  void send_batch(int n) {
    for (int i = 0; i < n; ++i) client.send(wire::encode_frame(next_ref++, 0, submit_request()));
  }
  std::vector<std::string> acknowledged() const {
    std::vector<std::string> out;
    for (const auto& e : client.received) {
      if (e && e->body.AsEventSubmitted()) out.push_back(e->body.AsEventSubmitted()->interaction_id);
    }
    return out;
  }
  FrameClient client;
  uint64_t next_ref = 2;
};

std::vector<uint64_t> all_seqs_from(ProtocolClient& stats, uint64_t after, size_t at_least) {
  proto::RequestStartReportingT start;
  auto resume = std::make_unique<proto::ResumePositionT>();
  resume->node_id = "pair-1";
  resume->seq = after;
  start.resume.push_back(std::move(resume));
  EnvelopePtr ack = stats.call(start);
  EXPECT_TRUE(ack && ack->body.type == Message::EventAck);
  stats.wait_for_events(at_least, 10'000);
  return seqs(stats);
}

TEST_F(IxnodeTest, KillNineWhileSubmittingLosesNoAcknowledgedInteraction) {
  primary_ = start_node("primary");
  ASSERT_NE(primary_client(), nullptr);  // up and primary
  SubmitStream stream(loop_, primary_port_);
  stream.register_first();
  // Keep many submits in flight, then kill the node in the middle of them.
  stream.send_batch(2500);
  ASSERT_TRUE(loop_.run_until([&] { return stream.acknowledged().size() >= 100; }));
  stream.send_batch(2500);  // still being committed when the node dies
  loop_.run_for(1);
  primary_->kill(SIGKILL);
  loop_.run_until([&] { return stream.client.closed; });
  std::vector<std::string> acknowledged = stream.acknowledged();
  ASSERT_GT(acknowledged.size(), 0u);
  std::cout << acknowledged.size() << " of 5000 submits acknowledged before kill -9\n";

  primary_ = start_node("primary");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  for (const std::string& id : acknowledged) {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id;
    EnvelopePtr reply = media->call(get);
    ASSERT_NE(reply, nullptr);
    ASSERT_NE(reply->body.AsEventProperties(), nullptr) << "acknowledged " << id << " was lost";
  }
  // The event log holds two events per committed submit (committed but not yet acknowledged
  // ones included), numbered without a gap: read all of it, as far as the node says it goes.
  auto status = nlohmann::json::parse(http_get(loop_, primary_admin_, "/status").body());
  const size_t last_seq = status["event_log_seq"].get<size_t>();
  EXPECT_GE(last_seq, 2 * acknowledged.size());
  EXPECT_EQ(last_seq % 2, 0u) << "a submit's two events commit together";
  auto stats = primary_client(ClientType::ReportingEngine);
  std::vector<uint64_t> seq = all_seqs_from(*stats, 0, last_seq);
  ASSERT_EQ(seq.size(), last_seq);
  for (size_t i = 0; i < seq.size(); ++i) ASSERT_EQ(seq[i], i + 1) << "gap or duplicate at position " << i;
}

TEST_F(IxnodeTest, FailoverUnderLoadLosesNothingAcknowledgedAndReportingStaysExact) {
  // 4000 submits in a burst starve a loaded machine (sanitizers, parallel tests) for longer than
  // a 1 s lease's serving window; the primary would rightly step down before the kill.
  lease_timeout_ = "3s";
  std::ofstream(dir_ / "cluster.toml") << config_text();
  primary_ = start_node("primary");
  backup_ = start_node("backup");
  ASSERT_NE(primary_client(), nullptr);
  ASSERT_NE(client(backup_port_, ClientType::MediaServer, proto::ServerRole::Backup), nullptr);
  SubmitStream stream(loop_, primary_port_);
  stream.register_first();
  stream.send_batch(2000);
  ASSERT_TRUE(loop_.run_until([&] { return stream.acknowledged().size() >= 200; }));
  stream.send_batch(2000);
  loop_.run_for(1);
  auto killed = std::chrono::steady_clock::now();
  primary_->kill(SIGKILL);
  loop_.run_until([&] { return stream.client.closed; });
  const std::vector<std::string> acknowledged = stream.acknowledged();

  auto promoted = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Primary);
  ASSERT_NE(promoted, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(6)) << "lease-timeout is 3s";
  for (const std::string& id : acknowledged) {
    proto::RequestGetPropertiesT get;
    get.interaction_id = id;
    ASSERT_NE(promoted->call(get)->body.AsEventProperties(), nullptr) << "acknowledged " << id << " was lost";
  }
  auto stats = client(backup_port_, ClientType::ReportingEngine, proto::ServerRole::Primary);
  std::vector<uint64_t> seq = all_seqs_from(*stats, 0, 2 * acknowledged.size());
  ASSERT_GE(seq.size(), 2 * acknowledged.size());
  for (size_t i = 0; i < seq.size(); ++i) ASSERT_EQ(seq[i], i + 1) << "gap or duplicate at position " << i;
}

TEST_F(IxnodeTest, ReportingClientResumesOnTheNewPrimaryExactlyOnce) {
  primary_ = start_node("primary");
  backup_ = start_node("backup");
  auto media = primary_client();
  ASSERT_NE(media, nullptr);
  auto stats = primary_client(ClientType::ReportingEngine);
  for (int i = 0; i < 10; ++i) ASSERT_FALSE(submitted_id(media->call(submit_request())).empty());
  std::vector<uint64_t> before = all_seqs_from(*stats, 0, 20);
  ASSERT_EQ(before.size(), 20u);

  primary_->kill(SIGKILL);
  auto new_primary = client(backup_port_, ClientType::MediaServer, proto::ServerRole::Primary);
  ASSERT_NE(new_primary, nullptr);
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(submitted_id(new_primary->call(submit_request())).empty());

  auto resumed = client(backup_port_, ClientType::ReportingEngine, proto::ServerRole::Primary);
  std::vector<uint64_t> after = all_seqs_from(*resumed, before.back(), 10);
  std::vector<uint64_t> all = before;
  all.insert(all.end(), after.begin(), after.end());
  ASSERT_EQ(all.size(), 30u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1) << "every event exactly once";
}

}  // namespace
}  // namespace ix::test
