// The proxy's routing policies against scripted pair states and answers (mcrouter style: no
// sockets, no nodes).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "proxy/route/agent_fan_out.h"
#include "proxy/route/cluster_snapshot.h"
#include "proxy/route/interaction_cache.h"
#include "proxy/route/ordered_merge.h"
#include "protocol/query/condition.h"
#include "protocol/wire/kv.h"
#include "proxy/route/owner_lookup.h"
#include "proxy/route/pull_plan.h"
#include "proxy/route/request_attributes.h"
#include "proxy/route/submit_router.h"
#include "tests/proxy/route/route_fixture.h"

namespace ix::proxy {
namespace {

using test::routing_config;

constexpr int code(proto::ErrorCode c) { return static_cast<int>(c); }

PairAnswer found(PairIndex pair) {
  return PairAnswer::reply(pair, std::make_shared<const std::vector<uint8_t>>());
}
PairAnswer not_found(PairIndex pair) {
  return PairAnswer::refused(pair, wire::make_error(proto::ErrorCode::UnknownInteraction, "no such interaction"));
}

TEST(SubmitRouter, BalancesAcrossEligiblePairsOnly) {
  RoutingTable table(routing_config());
  SubmitRouter router;
  std::map<PairIndex, int> chosen;
  for (int i = 0; i < 10; ++i) {
    Result<PairIndex> pair = router.choose(table, "101", "chat", {true, true, true});
    ASSERT_TRUE(pair);
    ++chosen[*pair];
  }
  // pair-3 has submit disabled; pair-1 lists chat; pair-2 serves every media.
  EXPECT_EQ(chosen[0], 5);
  EXPECT_EQ(chosen[1], 5);
  EXPECT_EQ(chosen.count(2), 0u);
  // Email: only pair-2 lists it (pair-1 lists chat only).
  EXPECT_EQ(*router.choose(table, "101", "email", {true, true, true}), 1u);
  // Tenant 202 is served by pair-2 alone.
  EXPECT_EQ(*router.choose(table, "202", "chat", {true, true, true}), 1u);
}

TEST(SubmitRouter, SkipsUnreachablePairsAndSays2002WhenNoneIsLeft) {
  RoutingTable table(routing_config());
  SubmitRouter router;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(*router.choose(table, "101", "chat", {false, true, true}), 1u);
  Result<PairIndex> none = router.choose(table, "101", "chat", {false, false, true});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, code(proto::ErrorCode::ClusterLostConnection));
  EXPECT_NE(none.error().text.find("pair-1, pair-2"), std::string::npos) << none.error().text;
}

TEST(SubmitRouter, Says2001ForDisabledUnknownOrUnservedMedia) {
  RoutingTable table(routing_config());
  SubmitRouter router;
  for (auto [tenant, media, why] : {std::tuple{"101", "sms", "disabled"}, std::tuple{"101", "fax", "not configured"},
                                    std::tuple{"303", "chat", "no node pair accepts"}}) {
    Result<PairIndex> r = router.choose(table, tenant, media, {true, true, true});
    ASSERT_FALSE(r) << media;
    EXPECT_EQ(r.error().code, code(proto::ErrorCode::ClusterNoServerForMedia));
    EXPECT_NE(r.error().text.find(why), std::string::npos) << r.error().text;
  }
}

TEST(OwnerLookup, RoutesClusterIdsByTagWithoutCacheOrBroadcast) {
  RoutingTable table(routing_config());
  InteractionCache cache(100);
  OwnerPlan plan = plan_owner_lookup(table, cache, "p2-00000000000000a3");
  ASSERT_TRUE(plan.owner);
  EXPECT_EQ(*plan.owner, 1u);
  EXPECT_TRUE(plan.ask.empty());
  EXPECT_EQ(cache.hits() + cache.misses(), 0u);
  // Snapshot IDs carry the tag too.
  EXPECT_EQ(*plan_owner_lookup(table, cache, "p3-snap-7").owner, 2u);
  // A tag no pair has, or the wrong shape, is a client-supplied ID: ask everyone.
  EXPECT_EQ(plan_owner_lookup(table, cache, "zz-00000000000000a3").ask.size(), 3u);
  EXPECT_EQ(plan_owner_lookup(table, cache, "p2-123").ask.size(), 3u);
}

TEST(OwnerLookup, UsesTheCacheForClientIds) {
  RoutingTable table(routing_config());
  InteractionCache cache(100);
  cache.remember("order-42", 2);
  OwnerPlan plan = plan_owner_lookup(table, cache, "order-42");
  EXPECT_TRUE(plan.from_cache);
  EXPECT_EQ(*plan.owner, 2u);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(OwnerLookup, DecidesOwnerDuplicateInaccessibleOrUnknown) {
  RoutingTable table(routing_config());
  EXPECT_EQ(*decide_owner(table, "x", {not_found(0), found(1), not_found(2)}), 1u);

  Result<PairIndex> duplicate = decide_owner(table, "x", {found(0), not_found(1), found(2)});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, code(proto::ErrorCode::ClusterDuplicateInteraction));
  EXPECT_NE(duplicate.error().text.find("pair-1, pair-3"), std::string::npos);

  // One found is an answer even if another pair is down.
  EXPECT_EQ(*decide_owner(table, "x", {PairAnswer::unreachable(0, "down"), found(1), not_found(2)}), 1u);

  Result<PairIndex> inaccessible = decide_owner(table, "x", {not_found(0), PairAnswer::unreachable(1, "down"), not_found(2)});
  ASSERT_FALSE(inaccessible);
  EXPECT_EQ(inaccessible.error().code, code(proto::ErrorCode::ClusterInteractionNotAccessible));
  EXPECT_NE(inaccessible.error().text.find("pair-2"), std::string::npos);

  // A node refusing for another reason cannot vouch either.
  Result<PairIndex> refused = decide_owner(
      table, "x", {not_found(0), PairAnswer::refused(1, wire::make_error(proto::ErrorCode::NotPrimary, "backup")), not_found(2)});
  EXPECT_EQ(refused.error().code, code(proto::ErrorCode::ClusterInteractionNotAccessible));

  Result<PairIndex> unknown = decide_owner(table, "x", {not_found(0), not_found(1), not_found(2)});
  EXPECT_EQ(unknown.error().code, code(proto::ErrorCode::UnknownInteraction));
}

TEST(InteractionCache, EvictsOldestFirstWhenFull) {
  InteractionCache cache(3);
  for (int i = 0; i < 5; ++i) cache.remember("id-" + std::to_string(i), static_cast<PairIndex>(i % 2));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("id-0"));
  EXPECT_FALSE(cache.find("id-1"));
  EXPECT_EQ(*cache.find("id-4"), 0u);
  cache.remember("id-2", 1);  // an update does not make it younger or grow the cache
  cache.remember("id-5", 1);
  EXPECT_FALSE(cache.find("id-2"));
  EXPECT_EQ(cache.size(), 3u);
  cache.forget("id-5");
  EXPECT_FALSE(cache.find("id-5"));
  EXPECT_EQ(cache.size(), 2u);
}

TEST(AgentFanOut, AllMustAcceptAndTheAcceptedAreListedForRevocation) {
  RoutingTable table(routing_config());
  FanOutOutcome ok = decide_fan_out(table, {found(0), found(1), found(2)});
  EXPECT_TRUE(ok.status);
  EXPECT_EQ(ok.accepted.size(), 3u);

  FanOutOutcome seats = decide_fan_out(
      table, {found(0), PairAnswer::refused(1, wire::make_error(proto::ErrorCode::NoSeatsAvailable, "all 2 seats taken")),
              PairAnswer::unreachable(2, "down")});
  ASSERT_FALSE(seats.status);
  EXPECT_EQ(seats.status.error().code, code(proto::ErrorCode::NoSeatsAvailable));  // a refusal wins over a lost pair
  EXPECT_EQ(seats.status.error().text, "node pair pair-2 refused: all 2 seats taken");
  EXPECT_EQ(seats.accepted, (PairSet{0}));
  EXPECT_EQ(seats.failed, (PairSet{1, 2}));

  FanOutOutcome lost = decide_fan_out(table, {found(0), PairAnswer::unreachable(2, "lost connection")});
  EXPECT_EQ(lost.status.error().code, code(proto::ErrorCode::ClusterLostConnection));
  EXPECT_NE(lost.status.error().text.find("pair-3"), std::string::npos);
}

TEST(AgentFanOut, EachPairIsAskedAboutTheMediaItServes) {
  RoutingTable table(routing_config());  // pair-1 lists chat; pair-2 serves every media
  auto with = [](auto body) {
    proto::EnvelopeT e;
    e.body.Set(std::move(body));
    return e;
  };
  proto::RequestAgentLoginT login;
  for (const char* m : {"chat", "email"}) {
    login.media.push_back(std::make_unique<proto::MediaCapacityT>());
    login.media.back()->media_type = m;
  }
  const proto::EnvelopeT both = with(proto::RequestAgentLoginT(login));
  MediaScope narrowed = media_scope(table.pair(0), both);
  EXPECT_EQ(narrowed.kind, MediaScope::Kind::kNarrowed);
  EXPECT_EQ(narrowed.login_media, (std::vector<std::string>{"chat"}));
  EXPECT_EQ(media_scope(table.pair(1), both).kind, MediaScope::Kind::kUnchanged);
  login.media.erase(login.media.begin());  // email only: pair-1 is not asked at all
  EXPECT_EQ(media_scope(table.pair(0), with(proto::RequestAgentLoginT(login))).kind, MediaScope::Kind::kSkip);

  proto::RequestAgentReadyT ready;
  ready.media_type = "email";
  EXPECT_EQ(media_scope(table.pair(0), with(proto::RequestAgentReadyT(ready))).kind, MediaScope::Kind::kSkip);
  EXPECT_EQ(media_scope(table.pair(1), with(proto::RequestAgentReadyT(ready))).kind, MediaScope::Kind::kUnchanged);
  ready.media_type.clear();  // every media the agent has
  EXPECT_EQ(media_scope(table.pair(0), with(std::move(ready))).kind, MediaScope::Kind::kUnchanged);
  EXPECT_EQ(media_scope(table.pair(0), with(proto::RequestAgentLogoutT())).kind, MediaScope::Kind::kUnchanged);
}

TEST(PullPlanner, RotatesTheFirstPairAndLeavesOutUnreachableOnes) {
  PullPlanner planner;
  EXPECT_EQ(planner.order({0, 1, 2}, {true, true, true}), (PairSet{0, 1, 2}));
  EXPECT_EQ(planner.order({0, 1, 2}, {true, true, true}), (PairSet{1, 2, 0}));
  EXPECT_EQ(planner.order({0, 1, 2}, {true, false, true}), (PairSet{2, 0}));
  EXPECT_TRUE(planner.order({}, {}).empty());
}

TEST(PullPlanner, CapsEachPairsHoldAtPullHoldTimeout) {
  EXPECT_EQ(PullPlanner::hold_per_pair(30'000, std::chrono::seconds(2)), 2000u);
  EXPECT_EQ(PullPlanner::hold_per_pair(500, std::chrono::seconds(2)), 500u);
}

TEST(RequestAttributes, RouteKindsAndTheInteractionIdTheyCarry) {
  using M = proto::Message;
  EXPECT_EQ(route_kind(M::RequestSubmit), RouteKind::kSubmit);
  EXPECT_EQ(route_kind(M::RequestAccept), RouteKind::kByInteraction);
  EXPECT_EQ(route_kind(M::RequestAgentLogin), RouteKind::kAgent);
  EXPECT_EQ(route_kind(M::RequestPull), RouteKind::kPull);
  EXPECT_EQ(route_kind(M::RequestPing), RouteKind::kUnsupported);

  proto::RequestStopProcessingT stop;
  stop.interaction_id = "order-7";
  wire::Frame frame = wire::encode_frame(1, 0, stop);
  const std::vector<uint8_t> payload(frame.begin() + wire::kFrameHeaderSize, frame.end());
  const proto::Envelope* e = proto::GetEnvelope(payload.data());
  ASSERT_NE(interaction_id_of(*e), nullptr);
  EXPECT_EQ(interaction_id_of(*e)->str(), "order-7");

  wire::Frame missing = wire::encode_frame(1, 0, proto::RequestLockT{});
  const std::vector<uint8_t> missing_payload(missing.begin() + wire::kFrameHeaderSize, missing.end());
  EXPECT_EQ(interaction_id_of(*proto::GetEnvelope(missing_payload.data())), nullptr);
}

TEST(ClusterSnapshot, IdRoundTripsAndRejectsAnythingElse) {
  std::vector<SnapshotPart> parts{{"p1-snap-3", 120}, {"p2-snap-9", 0}};
  const std::string id = encode_cluster_snapshot(parts);
  EXPECT_EQ(id, "cs:p1-snap-3@120,p2-snap-9@0");
  auto decoded = decode_cluster_snapshot(id);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[1].node_snapshot_id, "p2-snap-9");
  EXPECT_EQ((*decoded)[0].count, 120u);
  for (const char* bad : {"", "p1-snap-3", "cs:", "cs:p1-snap-3", "cs:p1-snap-3@", "cs:p1-snap-3@12x", "cs:@4",
                          "cs:p1-snap-3@1,", "cs:p1-snap-3@99999999999"}) {
    EXPECT_FALSE(decode_cluster_snapshot(bad)) << bad;
  }
}

TEST(ClusterSnapshot, PagePositionsSpanParts) {
  std::vector<SnapshotPart> parts{{"a", 3}, {"b", 0}, {"c", 4}};
  auto ranges = page_ranges(parts, 2, 3);
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].part, 0u);
  EXPECT_EQ(ranges[0].start, 2u);
  EXPECT_EQ(ranges[0].count, 1u);
  EXPECT_EQ(ranges[1].part, 2u);
  EXPECT_EQ(ranges[1].start, 0u);
  EXPECT_EQ(ranges[1].count, 2u);
  EXPECT_TRUE(page_ranges(parts, 7, 10).empty());
  EXPECT_EQ(page_ranges(parts, 0, 100).size(), 2u);
}

TEST(OrderedMerge, RandomPerPairSequencesMergeToASortByTheOrderKey) {
  // Property: whatever the pairs hold, merging their sorted results equals sorting everything.
  std::mt19937 random(20261121);
  for (const char* text : {"", "priority desc, submitted asc", "submitted desc", "ud.Score asc, interaction_id desc"}) {
    const query::Order order = *query::Order::parse(text);
    auto less = [&](const proto::InteractionInfoT& a, const proto::InteractionInfoT& b) { return order.less(a, b); };
    for (int round = 0; round < 200; ++round) {
      const size_t pairs = 1 + random() % 5, limit = random() % 40;
      std::vector<InteractionList> lists(pairs);
      std::vector<proto::InteractionInfoT> all;
      for (size_t p = 0; p < pairs; ++p) {
        const size_t n = random() % 12;
        for (size_t i = 0; i < n; ++i) {
          auto info = std::make_unique<proto::InteractionInfoT>();
          info->interaction_id = "p" + std::to_string(p) + "-" + std::to_string(i);
          info->priority = static_cast<int>(random() % 4);
          info->submitted_at_us = static_cast<int64_t>(random() % 10);
          info->user_data = wire::kv_list({{"Score", static_cast<int64_t>(random() % 3)}});
          all.push_back(*info);
          lists[p].push_back(std::move(info));
        }
        std::stable_sort(lists[p].begin(), lists[p].end(), [&](const auto& a, const auto& b) { return less(*a, *b); });
      }
      std::stable_sort(all.begin(), all.end(), less);
      InteractionList merged = merge_in_order(std::move(lists), less, limit);
      ASSERT_EQ(merged.size(), std::min(limit, all.size())) << text;
      for (size_t i = 0; i < merged.size(); ++i) {
        // Equal keys may come in either order; the keys must be the sorted ones.
        EXPECT_FALSE(less(*merged[i], all[i]) || less(all[i], *merged[i])) << text << " at " << i;
        if (i > 0) {
          EXPECT_FALSE(less(*merged[i], *merged[i - 1])) << text << " at " << i;
        }
      }
    }
  }
}

TEST(OrderedMerge, ARefusalDecidesALostPairFailsUnlessPartialIsAccepted) {
  RoutingTable table(routing_config());
  ScatterOutcome refused = decide_scatter(
      table, {found(0), PairAnswer::unreachable(1, "down"), PairAnswer::refused(2, wire::make_error(proto::ErrorCode::InvalidCondition, "bad"))},
      true);
  ASSERT_TRUE(refused.error);
  EXPECT_EQ(refused.error->code, code(proto::ErrorCode::InvalidCondition));
  EXPECT_EQ(refused.error->text, "node pair pair-3 refused: bad");

  ScatterOutcome lost = decide_scatter(table, {found(0), PairAnswer::unreachable(1, "down")}, false);
  ASSERT_TRUE(lost.error);
  EXPECT_EQ(lost.error->code, code(proto::ErrorCode::ClusterLostConnection));
  EXPECT_NE(lost.error->text.find("pair-2"), std::string::npos);

  ScatterOutcome partial = decide_scatter(table, {PairAnswer::unreachable(2, "down"), found(0), PairAnswer::unreachable(1, "down")}, true);
  EXPECT_FALSE(partial.error);
  EXPECT_EQ(partial.missing, (std::vector<std::string>{"pair-2", "pair-3"}));
}

}  // namespace
}  // namespace ix::proxy
