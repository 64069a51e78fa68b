// What a client holding something from before a failover gets after it, through real proxies in
// front of real node pairs: an old snapshot ID answers 2006 (never another client's snapshot),
// and a submit retried with its request ID after the primary died is the same interaction.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "proxy/route/cluster_snapshot.h"
#include "tests/proxy/cluster_fixture.h"

namespace ix::test {
namespace {

constexpr int code(proto::ErrorCode c) { return static_cast<int>(c); }

class FailoverRetry : public ClusterFixture {
 protected:
  void SetUp() override {
    ClusterFixture::SetUp();
    start_cluster();
  }

  // Kills pair-1's primary and waits until its backup serves and proxy-1 reaches it.
  void fail_over_pair_1() {
    nodes_[0][0]->kill(SIGKILL);
    ASSERT_TRUE(node_client(0, proto::ClientType::MediaServer)) << "pair-1's backup did not take over";
    ASSERT_TRUE(wait_linked(0)) << proxy_status(0);
  }

  // pair-1's part of a cluster snapshot ID.
  static std::string pair_1_part(const std::string& cluster_id) {
    std::optional<proxy::ClusterSnapshotId> id = proxy::decode_cluster_snapshot(cluster_id);
    if (!id) return "";
    for (const proxy::SnapshotPart& part : id->parts) {
      if (part.node_snapshot_id.starts_with("p1-")) return part.node_snapshot_id;
    }
    return "";
  }
};

EnvelopePtr page(ProtocolClient& client, const std::string& id) {
  proto::RequestSnapshotPageT page;
  page.snapshot_id = id;
  page.count = 10;
  return client.call(page);
}

TEST_F(FailoverRetry, SnapshotIdsDoNotRepeatAfterAFailoverAndAnOldOrMadeUpIdAnswers2006) {
  auto media = proxy_client(0, proto::ClientType::MediaServer);
  ASSERT_TRUE(media->call(chat_submit("email"))->body.AsEventSubmitted());  // email: on pair-1 only
  auto desktop = proxy_client(0, proto::ClientType::AgentApplication);
  proto::RequestTakeSnapshotT take;
  take.tenant_id = "101";
  take.view_id = "all-inbound";
  EnvelopePtr before = desktop->call(take);
  ASSERT_TRUE(before && before->body.AsEventSnapshotTaken()) << error_text(before);
  const std::string old_id = before->body.AsEventSnapshotTaken()->snapshot_id;
  ASSERT_NE(pair_1_part(old_id), "") << old_id;

  fail_over_pair_1();
  // The new primary has the interaction too, and issues snapshots of its own.
  EnvelopePtr after = desktop->call(take);
  ASSERT_TRUE(after && after->body.AsEventSnapshotTaken()) << error_text(after);
  const std::string new_id = after->body.AsEventSnapshotTaken()->snapshot_id;
  EXPECT_EQ(after->body.AsEventSnapshotTaken()->count, before->body.AsEventSnapshotTaken()->count);
  EXPECT_NE(pair_1_part(new_id), pair_1_part(old_id)) << "the new primary issued an ID the old one had issued: " << new_id;

  EnvelopePtr old_page = page(*desktop, old_id);
  EXPECT_EQ(error_code(old_page), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << error_text(old_page);
  EXPECT_NE(error_text(old_page).find(pair_1_part(old_id)), std::string::npos) << error_text(old_page);
  EnvelopePtr new_page = page(*desktop, new_id);
  ASSERT_TRUE(new_page && new_page->body.AsEventSnapshotPage()) << error_text(new_page);
  EXPECT_EQ(new_page->body.AsEventSnapshotPage()->interactions.size(), 1u);

  // Parts that all have count 0: made up, or released — 2006, not an empty page.
  EnvelopePtr made_up = page(*desktop, proxy::encode_cluster_snapshot({{{"p1-snap-1", 0}, {"p2-snap-1", 0}}, ""}));
  EXPECT_EQ(error_code(made_up), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << error_text(made_up);
  proto::RequestTakeSnapshotT none = take;
  none.view_id.clear();
  none.condition = "media_type = 'sms'";
  EnvelopePtr empty = desktop->call(none);
  ASSERT_TRUE(empty && empty->body.AsEventSnapshotTaken()) << error_text(empty);
  ASSERT_EQ(empty->body.AsEventSnapshotTaken()->count, 0u);
  const std::string empty_id = empty->body.AsEventSnapshotTaken()->snapshot_id;
  EnvelopePtr empty_page = page(*desktop, empty_id);
  ASSERT_TRUE(empty_page && empty_page->body.AsEventSnapshotPage()) << "a real empty snapshot pages as empty: " << error_text(empty_page);
  EXPECT_TRUE(empty_page->body.AsEventSnapshotPage()->interactions.empty());
  proto::RequestReleaseSnapshotT release;
  release.snapshot_id = empty_id;
  ASSERT_TRUE(desktop->call(release)->body.AsEventAck());
  EnvelopePtr released = page(*desktop, empty_id);
  EXPECT_EQ(error_code(released), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << error_text(released);
}

// The case: submits in flight when a primary dies are answered 2002 (or not at all)
// although some were applied. Retried with their request IDs through the other proxy until
// answered, every key ends up as exactly one interaction, and a retry of an answered submit
// after the failover is the original.
TEST_F(FailoverRetry, SubmitsRetriedWithTheirRequestIdsThroughTheOtherProxyAfterAFailoverAreOneInteractionEach) {
  start_proxy(1);
  auto first = proxy_client(0, proto::ClientType::MediaServer);
  auto second = proxy_client(1, proto::ClientType::MediaServer);
  constexpr int kSubmits = 40;
  auto keyed = [](int i) {
    proto::RequestSubmitT r = chat_submit();
    r.request_id = "retry-test-" + std::to_string(i);
    return r;
  };
  std::vector<uint64_t> refs;
  for (int i = 0; i < kSubmits; ++i) {
    if (i == kSubmits / 2) {
      loop_.run_for(2);                 // the first half on their way
      nodes_[0][0]->kill(SIGKILL);      // pair-1's primary, with submits in flight
    }
    refs.push_back(first->send(keyed(i)));
  }
  std::map<int, std::string> answered;  // key -> interaction
  int lost = 0;
  for (int i = 0; i < kSubmits; ++i) {
    EnvelopePtr reply = first->wait_reply(refs[i], 15'000);
    if (reply && reply->body.AsEventSubmitted()) {
      answered[i] = reply->body.AsEventSubmitted()->interaction_id;
    } else {
      ++lost;
    }
  }
  EXPECT_GT(lost, 0) << "the kill did not catch a submit in flight; the test proves less than it should";
  const auto deadline = uv_now(loop_.get()) + 30'000;
  std::map<int, std::string> retried;
  for (int i = 0; i < kSubmits; ++i) {
    while (uv_now(loop_.get()) < deadline) {
      EnvelopePtr reply = second->call(keyed(i));
      if (reply && reply->body.AsEventSubmitted()) {
        retried[i] = reply->body.AsEventSubmitted()->interaction_id;
        break;
      }
      ASSERT_EQ(error_code(reply), code(proto::ErrorCode::ClusterLostConnection)) << error_text(reply);
      loop_.run_for(100);  // the pair is failing over
    }
  }
  ASSERT_EQ(retried.size(), static_cast<size_t>(kSubmits)) << "retries still failing after 30 s";
  std::set<std::string> distinct;
  for (const auto& [key, id] : retried) {
    distinct.insert(id);
    if (answered.contains(key)) {
      EXPECT_EQ(answered[key], id) << "key " << key << " answered, then retried as another interaction";
    }
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kSubmits));

  proto::RequestFindT find;
  find.tenant_id = "101";
  find.condition = "queue = 'inbound'";
  find.limit = 1000;
  EnvelopePtr found = second->call(find);
  ASSERT_TRUE(found && found->body.AsEventFindResult()) << error_text(found);
  std::set<std::string> in_cluster;
  for (const auto& info : found->body.AsEventFindResult()->interactions) in_cluster.insert(info->interaction_id);
  EXPECT_EQ(in_cluster, distinct) << "one interaction per request ID, none created twice";
}

}  // namespace
}  // namespace ix::test
