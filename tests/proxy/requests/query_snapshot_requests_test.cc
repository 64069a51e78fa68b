// Find, workbin content and snapshots run in-process against scripted node pairs
// (FakePairCalls): the merge in the requested order, partial results, and snapshots taken all
// or nothing, paged in order across the parts and released everywhere. No sockets, no sleeps.
#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/wire/interaction_id.h"
#include "proxy/requests/query_requests.h"
#include "proxy/requests/snapshot_requests.h"
#include "proxy/route/cluster_snapshot.h"
#include "tests/proxy/support/request_harness.h"

namespace ix::test {
namespace {

using proxy::PairAnswer;
using proxy::PairIndex;

std::unique_ptr<proto::InteractionInfoT> info(const std::string& id, PairIndex pair, int64_t placed = 0) {
  auto i = std::make_unique<proto::InteractionInfoT>();
  i->interaction_id = id;
  i->node_id = "pair-" + std::to_string(pair + 1);
  i->placed_at_us = placed;
  return i;
}

proto::RequestFindT find(const std::string& order, uint32_t limit, bool accept_partial = false) {
  proto::RequestFindT r;
  r.tenant_id = "101";
  r.condition = "queue = 'inbound'";
  r.order = order;
  r.limit = limit;
  r.accept_partial = accept_partial;
  return r;
}

std::vector<std::string> ids(const std::vector<std::unique_ptr<proto::InteractionInfoT>>& list) {
  std::vector<std::string> out;
  for (const auto& i : list) out.push_back(i->interaction_id);
  return out;
}

// Pair p holds "a-x", "d-x", "g-x" shifted by p letters, interleaving with the other pairs in ID
// order; like a node, it answers in the order the request asks for.
PairAnswer find_result(PairIndex pair, const proto::EnvelopeT& request) {
  proto::EventFindResultT r;
  for (char c : std::string("adg")) r.interactions.push_back(info(std::string(1, static_cast<char>(c + pair)) + "-x", pair));
  if (request.body.AsRequestFind()->order.find("desc") != std::string::npos) std::reverse(r.interactions.begin(), r.interactions.end());
  return FakePairCalls::reply(pair, r);
}

TEST(FindRequest, MergesEveryPairsAnswerInTheRequestedOrderAndAppliesTheLimitOnce) {
  RequestHarness h;
  h.calls.script(find_result);
  h.send(1, find("interaction_id asc", 5), proxy::handle_find);
  h.calls.run();
  EXPECT_EQ(h.calls.sent.size(), 3u);
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventFindResult()) << h.error_text(1);
  const auto* result = h.reply(1)->body.AsEventFindResult();
  EXPECT_EQ(ids(result->interactions), (std::vector<std::string>{"a-x", "b-x", "c-x", "d-x", "e-x"}));
  EXPECT_FALSE(result->partial);
  // Client-supplied IDs in the result are remembered with the pair that reported them.
  EXPECT_EQ(h.context.cache.find("b-x"), std::optional<PairIndex>(1));
}

TEST(FindRequest, ALostPairFails2002UnlessPartialIsAcceptedAndAConditionOnMediaNarrowsThePairs) {
  RequestHarness h;
  h.calls.script(find_result);
  h.calls.set_reachable(1, false);
  h.send(1, find("interaction_id desc", 10), proxy::handle_find);
  h.send(2, find("interaction_id desc", 10, true), proxy::handle_find);
  h.calls.run();
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::ClusterLostConnection)) << h.error_text(1);
  ASSERT_TRUE(h.reply(2) && h.reply(2)->body.AsEventFindResult()) << h.error_text(2);
  const auto* partial = h.reply(2)->body.AsEventFindResult();
  EXPECT_TRUE(partial->partial);
  EXPECT_EQ(partial->missing_nodes, (std::vector<std::string>{"pair-2"}));
  EXPECT_EQ(ids(partial->interactions), (std::vector<std::string>{"i-x", "g-x", "f-x", "d-x", "c-x", "a-x"}));

  RequestHarness narrowed;
  narrowed.calls.script(find_result);
  proto::RequestFindT email = find("interaction_id asc", 10);
  email.condition = "media_type = 'email'";
  narrowed.send(1, email, proxy::handle_find);
  narrowed.calls.run();
  ASSERT_EQ(narrowed.calls.sent.size(), 1u) << "only pair-2 lists email";
  EXPECT_EQ(narrowed.calls.sent[0].pair, 1u);

  RequestHarness bad;
  bad.send(1, find("no_such_field sideways", 10), proxy::handle_find);
  proto::RequestFindT stranger = find("interaction_id asc", 10);
  stranger.tenant_id = "999";
  bad.send(2, stranger, proxy::handle_find);
  bad.calls.run();
  EXPECT_EQ(bad.error_code(1), code(proto::ErrorCode::InvalidCondition));
  EXPECT_EQ(bad.error_code(2), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_TRUE(bad.calls.sent.empty());
}

TEST(WorkbinContentRequest, MergesInTheOrderItemsWerePlacedAcrossPairs) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    proto::EventWorkbinContentT r;
    r.interactions.push_back(info("w" + std::to_string(pair) + "-early", pair, 10 + pair));
    r.interactions.push_back(info("w" + std::to_string(pair) + "-late", pair, 100 - pair));
    return FakePairCalls::reply(pair, r);
  });
  proto::RequestWorkbinContentT request;
  request.tenant_id = "101";
  request.workbin_type = "drafts";
  request.owner_agent_id = "agent-1";
  h.send(1, request, proxy::handle_workbin_content);
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventWorkbinContent()) << h.error_text(1);
  const auto* content = h.reply(1)->body.AsEventWorkbinContent();
  EXPECT_EQ(content->workbin_type, "drafts");
  EXPECT_EQ(content->owner_agent_id, "agent-1");
  EXPECT_EQ(ids(content->interactions),
            (std::vector<std::string>{"w0-early", "w1-early", "w2-early", "w2-late", "w1-late", "w0-late"}));
}

std::string node_snapshot(PairIndex pair) { return wire::make_cluster_id("p" + std::to_string(pair + 1), 77); }

// Each pair's part of a snapshot holds 3 interactions, "s<k><pair>" for k = 0..2, so that in ID
// order the parts interleave.
PairAnswer snapshot_script(PairIndex pair, const proto::EnvelopeT& request) {
  if (request.body.type == proto::Message::RequestTakeSnapshot) {
    proto::EventSnapshotTakenT taken;
    taken.snapshot_id = node_snapshot(pair);
    taken.count = 3;
    return FakePairCalls::reply(pair, taken);
  }
  if (request.body.type == proto::Message::RequestSnapshotPage) {
    const auto* r = request.body.AsRequestSnapshotPage();
    EXPECT_EQ(r->snapshot_id, node_snapshot(pair)) << "each pair is asked for its own part";
    proto::EventSnapshotPageT page;
    page.snapshot_id = r->snapshot_id;
    page.start = r->start;
    for (uint32_t k = r->start; k < std::min<uint32_t>(3, r->start + r->count); ++k) {
      page.interactions.push_back(info("s" + std::to_string(k) + std::to_string(pair), pair));
    }
    return FakePairCalls::reply(pair, page);
  }
  return FakePairCalls::reply(pair, proto::EventAckT{});
}

TEST(SnapshotRequests, TakenOnEveryPairPagedInOrderAcrossThePartsAndReleasedEverywhere) {
  RequestHarness h;
  h.calls.script(snapshot_script);
  proto::RequestTakeSnapshotT take;
  take.tenant_id = "101";
  take.order = "interaction_id asc";
  h.send(1, take, proxy::handle_take_snapshot);
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventSnapshotTaken()) << h.error_text(1);
  const std::string id = h.reply(1)->body.AsEventSnapshotTaken()->snapshot_id;
  EXPECT_EQ(h.reply(1)->body.AsEventSnapshotTaken()->count, 9u);
  std::optional<proxy::ClusterSnapshotId> decoded = proxy::decode_cluster_snapshot(id);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->parts.size(), 3u);

  std::vector<std::string> seen;
  for (uint32_t start = 0; start < 9; start += 4) {
    proto::RequestSnapshotPageT page;
    page.snapshot_id = id;
    page.start = start;
    page.count = 4;
    h.send(10 + start, page, [](proxy::RequestContext& c, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing) {
      proxy::handle_snapshot_page(c, call, e);
    });
    h.calls.run();
    ASSERT_TRUE(h.reply(10 + start) && h.reply(10 + start)->body.AsEventSnapshotPage()) << h.error_text(10 + start);
    for (const std::string& i : ids(h.reply(10 + start)->body.AsEventSnapshotPage()->interactions)) seen.push_back(i);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"s00", "s01", "s02", "s10", "s11", "s12", "s20", "s21", "s22"}));

  proto::RequestReleaseSnapshotT release;
  release.snapshot_id = id;
  const size_t before = h.calls.sent.size();
  h.send(30, release, [](proxy::RequestContext& c, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing) {
    proxy::handle_release_snapshot(c, call, e);
  });
  h.calls.run();
  ASSERT_TRUE(h.reply(30) && h.reply(30)->body.AsEventAck()) << h.error_text(30);
  std::set<PairIndex> released;
  for (size_t i = before; i < h.calls.sent.size(); ++i) {
    EXPECT_EQ(h.calls.sent[i].type(), proto::Message::RequestReleaseSnapshot);
    released.insert(h.calls.sent[i].pair);
  }
  EXPECT_EQ(released, (std::set<PairIndex>{0, 1, 2}));
}

TEST(SnapshotRequests, AllOrNothingOnTakeAnd2006ForAPartThatIsGone) {
  RequestHarness h;
  h.calls.script(snapshot_script);
  h.calls.set_reachable(2, false);
  proto::RequestTakeSnapshotT take;
  take.tenant_id = "101";
  h.send(1, take, proxy::handle_take_snapshot);
  h.calls.run();
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::ClusterLostConnection)) << h.error_text(1);
  EXPECT_NE(h.error_text(1).find("pair-3"), std::string::npos) << h.error_text(1);
  std::set<PairIndex> released;
  for (const auto& s : h.calls.sent) {
    if (s.type() == proto::Message::RequestReleaseSnapshot) released.insert(s.pair);
  }
  EXPECT_EQ(released, (std::set<PairIndex>{0, 1})) << "what was taken is released";

  // A snapshot whose pair-3 part can no longer be read: 2006 naming the part.
  const std::string id = proxy::encode_cluster_snapshot({{{node_snapshot(0), 3}, {node_snapshot(2), 3}}, ""});
  proto::RequestSnapshotPageT page;
  page.snapshot_id = id;
  page.count = 2;
  h.send(2, page, [](proxy::RequestContext& c, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing) {
    proxy::handle_snapshot_page(c, call, e);
  });
  page.snapshot_id = "not-a-snapshot";
  h.send(3, page, [](proxy::RequestContext& c, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing) {
    proxy::handle_snapshot_page(c, call, e);
  });
  h.calls.run();
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << h.error_text(2);
  EXPECT_NE(h.error_text(2).find(node_snapshot(2)), std::string::npos) << h.error_text(2);
  EXPECT_EQ(h.error_code(3), code(proto::ErrorCode::InvalidAttribute));
}

// A snapshot ID whose parts are all empty is still checked with the nodes: made up or released,
// it answers 2006; one that exists pages as empty.
TEST(SnapshotRequests, AnIdWhoseEmptyPartsTheNodesDoNotKnowAnswers2006) {
  RequestHarness h;
  const std::string known = node_snapshot(0), gone = node_snapshot(1);
  h.calls.script([&](PairIndex pair, const proto::EnvelopeT& request) {
    const auto* r = request.body.AsRequestSnapshotPage();
    if (r == nullptr || r->snapshot_id != known) {
      return FakePairCalls::refused(pair, proto::ErrorCode::UnknownSnapshot, "snapshot does not exist (or was released)");
    }
    proto::EventSnapshotPageT page;
    page.snapshot_id = r->snapshot_id;
    return FakePairCalls::reply(pair, page);
  });
  auto page_of = [&](uint64_t ref, const std::string& id) {
    proto::RequestSnapshotPageT page;
    page.snapshot_id = id;
    page.count = 10;
    h.send(ref, page, [](proxy::RequestContext& c, const proxy::Call& call, const proto::Envelope& e, proxy::Outgoing) {
      proxy::handle_snapshot_page(c, call, e);
    });
  };
  page_of(1, proxy::encode_cluster_snapshot({{{known, 0}}, ""}));
  page_of(2, proxy::encode_cluster_snapshot({{{known, 0}, {gone, 0}}, ""}));
  page_of(3, proxy::encode_cluster_snapshot({{{"p9-snap-0-1", 0}}, ""}));
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventSnapshotPage()) << h.error_text(1);
  EXPECT_TRUE(h.reply(1)->body.AsEventSnapshotPage()->interactions.empty());
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << h.error_text(2);
  EXPECT_NE(h.error_text(2).find(gone), std::string::npos) << h.error_text(2);
  EXPECT_EQ(h.error_code(3), code(proto::ErrorCode::ClusterSnapshotNotAccessible)) << h.error_text(3);
}

}  // namespace
}  // namespace ix::test
