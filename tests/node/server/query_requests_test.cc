// In-process tests of the queries (node/server/query_requests.cc): find, snapshots (take, page,
// release, with locks), lock and unlock, and the release of a closed session's holds.
#include "tests/node/server/service_fixture.h"

namespace ix::test {
namespace {

using proto::ErrorCode;

class QueryRequestsTest : public ServiceFixture {
 protected:
  std::string take_snapshot(bool lock, const std::string& view = "all-inbound") {
    proto::RequestTakeSnapshotT take;
    take.tenant_id = "101";
    take.view_id = view;
    take.lock = lock;
    EnvelopePtr reply = call(router_, take);
    return reply && reply->body.AsEventSnapshotTaken() ? reply->body.AsEventSnapshotTaken()->snapshot_id : "";
  }
  EnvelopePtr lock(RecordingSession& s, const std::string& id, bool on) {
    if (on) {
      proto::RequestLockT r;
      r.interaction_id = id;
      return call(s, r);
    }
    proto::RequestUnlockT r;
    r.interaction_id = id;
    return call(s, r);
  }
};

TEST_F(QueryRequestsTest, FindMatchesTheConditionInOrder) {
  submit("inbound", 2);
  const std::string high = submit("vip", 8);
  submit("inbound", 5);
  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "priority > 3";
  find.order = "priority desc";
  EnvelopePtr reply = call(router_, find);
  ASSERT_TRUE(reply && reply->body.AsEventFindResult());
  const auto& found = reply->body.AsEventFindResult()->interactions;
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0]->interaction_id, high);
  find.condition = "priority >";
  EXPECT_EQ(error_code(call(router_, find)), ErrorCode::InvalidCondition);
}

TEST_F(QueryRequestsTest, SnapshotPagesThroughAndReleaseEndsIt) {
  for (int i = 0; i < 5; ++i) submit();
  const std::string snapshot = take_snapshot(false);
  ASSERT_FALSE(snapshot.empty());
  proto::RequestSnapshotPageT page;
  page.snapshot_id = snapshot;
  page.start = 3;
  page.count = 10;
  EnvelopePtr reply = call(router_, page);
  ASSERT_TRUE(reply && reply->body.AsEventSnapshotPage());
  EXPECT_EQ(reply->body.AsEventSnapshotPage()->interactions.size(), 2u) << "entries 3 and 4 of five";

  proto::RequestReleaseSnapshotT release;
  release.snapshot_id = snapshot;
  ASSERT_TRUE(acked(call(router_, release)));
  EXPECT_EQ(error_code(call(router_, page)), ErrorCode::UnknownSnapshot);
  EXPECT_EQ(error_code(call(router_, release)), ErrorCode::UnknownSnapshot);
}

TEST_F(QueryRequestsTest, ALockingSnapshotHidesItsInteractionsFromPullsUntilReleased) {
  const std::string id = submit();
  const std::string snapshot = take_snapshot(true);
  EXPECT_TRUE(find(id)->locked);
  proto::RequestPullT pull;
  pull.tenant_id = "101";
  pull.queue = "inbound";
  EnvelopePtr empty = call(media_, pull);
  ASSERT_TRUE(empty && empty->body.AsEventPulled());
  EXPECT_TRUE(empty->body.AsEventPulled()->interactions.empty()) << "locked interactions are not pulled";
  proto::RequestReleaseSnapshotT release;
  release.snapshot_id = snapshot;
  ASSERT_TRUE(acked(call(router_, release)));
  EXPECT_FALSE(find(id)->locked);
}

TEST_F(QueryRequestsTest, LockBelongsToItsSession) {
  const std::string id = submit();
  ASSERT_TRUE(acked(lock(router_, id, true)));
  EXPECT_EQ(error_code(lock(media_, id, true)), ErrorCode::InteractionLocked);
  EXPECT_EQ(error_code(lock(media_, id, false)), ErrorCode::InteractionLocked) << "another client's lock";
  proto::RequestPlaceInQueueT place;
  place.interaction_id = id;
  place.queue = "vip";
  EXPECT_EQ(error_code(call(media_, place)), ErrorCode::InteractionLocked);
  ASSERT_TRUE(acked(lock(router_, id, false)));
  EXPECT_EQ(error_code(lock(router_, id, false)), ErrorCode::WrongState);
}

TEST_F(QueryRequestsTest, AClosedSessionReleasesItsLocksAndSnapshots) {
  const std::string a = submit(), b = submit();
  ASSERT_TRUE(acked(lock(router_, a, true)));
  take_snapshot(true);
  EXPECT_TRUE(find(b)->locked);
  service_->session_closed(router_);
  EXPECT_FALSE(find(a)->locked);
  EXPECT_FALSE(find(b)->locked);
}

}  // namespace
}  // namespace ix::test
