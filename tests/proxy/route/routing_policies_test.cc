// The proxy's routing policies against scripted pair states and answers (mcrouter style: no
// sockets, no nodes).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "proxy/route/agent_fan_out.h"
#include "proxy/route/cluster_snapshot.h"
#include "proxy/route/snapshot_cursor.h"
#include "proxy/route/interaction_cache.h"
#include "proxy/route/ordered_merge.h"
#include "protocol/query/condition.h"
#include "protocol/wire/interaction_id.h"
#include "protocol/wire/kv.h"
#include "proxy/route/owner_lookup.h"
#include "proxy/route/pull_plan.h"
#include "proxy/route/request_attributes.h"
#include "proxy/route/submit_router.h"
#include "cluster-config/loader.h"
#include "tests/proxy/route/route_fixture.h"
#include "tests/support/config_builder.h"

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
  ClusterSnapshotId snapshot{{{"p1-snap-3", 120}, {"p2-snap-9", 0}}, ""};
  const std::string id = encode_cluster_snapshot(snapshot);
  EXPECT_EQ(id, "cs:p1-snap-3@120,p2-snap-9@0");
  auto decoded = decode_cluster_snapshot(id);
  ASSERT_TRUE(decoded);
  ASSERT_EQ(decoded->parts.size(), 2u);
  EXPECT_EQ(decoded->parts[1].node_snapshot_id, "p2-snap-9");
  EXPECT_EQ(decoded->parts[0].count, 120u);
  EXPECT_EQ(decoded->order, "");

  snapshot.order = "priority desc, ud.Name asc; 100%";
  const std::string ordered = encode_cluster_snapshot(snapshot);
  EXPECT_EQ(ordered, "cs:p1-snap-3@120,p2-snap-9@0;priority%20desc%2C%20ud.Name%20asc%3B%20100%25");
  auto with_order = decode_cluster_snapshot(ordered);
  ASSERT_TRUE(with_order);
  EXPECT_EQ(with_order->order, snapshot.order);
  EXPECT_EQ(with_order->parts.size(), 2u);
  for (const char* bad : {"", "p1-snap-3", "cs:", "cs:p1-snap-3", "cs:p1-snap-3@", "cs:p1-snap-3@12x", "cs:@4",
                          "cs:p1-snap-3@1,", "cs:p1-snap-3@99999999999", "cs:p1-snap-3@1;", "cs:p1-snap-3@1;%2",
                          "cs:p1-snap-3@1;%zz", "cs:;priority"}) {
    EXPECT_FALSE(decode_cluster_snapshot(bad)) << bad;
  }
}

// A part of a snapshot as its node pages it: interactions in the part's order, some ended.
struct FakePart {
  std::vector<std::pair<std::string, int>> entries;  // id, priority; priority -1 = ended since
  InteractionList page(uint32_t start, uint32_t count) const {
    InteractionList out;
    for (uint32_t i = start; i < start + count && i < entries.size(); ++i) {
      if (entries[i].second < 0) continue;
      out.push_back(std::make_unique<proto::InteractionInfoT>());
      out.back()->interaction_id = entries[i].first;
      out.back()->priority = entries[i].second;
    }
    return out;
  }
};

// Reads a page through the cursor the way the worker does, counting the chunks asked for.
InteractionList read_page(SnapshotCursor& cursor, const std::vector<FakePart>& parts, uint64_t start, size_t count,
                          uint32_t chunk, int* chunks = nullptr) {
  InteractionList page;
  for (;;) {
    if (cursor.position() < start) cursor.take(start - cursor.position());
    if (cursor.position() >= start) {
      for (auto& i : cursor.take(count - page.size())) page.push_back(std::move(i));
    }
    if (cursor.finished() || (cursor.position() >= start && page.size() == count)) return page;
    std::vector<PartRange> wanted = cursor.wanted(chunk);
    EXPECT_FALSE(wanted.empty());
    if (wanted.empty()) return page;
    for (const PartRange& r : wanted) {
      if (chunks) ++*chunks;
      cursor.fill(r.part, r.count, parts[r.part].page(r.start, r.count));
    }
  }
}

TEST(SnapshotCursor, PagesFollowTheSnapshotsOrderAcrossParts) {
  // Order: priority desc (ties: submitted, all 0 here, then the part listed first).
  const std::vector<FakePart> parts{{{{"a9", 9}, {"a7", 7}, {"a4", 4}, {"a1", 1}}},
                                    {{{"b8", 8}, {"b7", 7}, {"b5", -1}, {"b3", 3}, {"b2", 2}}},
                                    {{}}};
  std::vector<SnapshotPart> ids{{"p1-snap-1", 4}, {"p2-snap-1", 5}, {"p3-snap-1", 0}};
  auto ids_of = [](const InteractionList& list) {
    std::vector<std::string> out;
    for (const auto& i : list) out.push_back(i->interaction_id);
    return out;
  };
  SnapshotCursor cursor(ids, *query::Order::parse("priority desc"));
  int chunks = 0;
  EXPECT_EQ(ids_of(read_page(cursor, parts, 0, 3, 2, &chunks)), (std::vector<std::string>{"a9", "b8", "a7"}));
  EXPECT_EQ(ids_of(read_page(cursor, parts, 3, 3, 2, &chunks)), (std::vector<std::string>{"b7", "a4", "b3"}));
  EXPECT_EQ(ids_of(read_page(cursor, parts, 6, 3, 2, &chunks)), (std::vector<std::string>{"b2", "a1"}));
  EXPECT_TRUE(cursor.finished());
  EXPECT_EQ(chunks, 5) << "each part read once, in chunks, never from the start again";

  // Any position, from a fresh cursor (another proxy): the same slice.
  SnapshotCursor fresh(ids, *query::Order::parse("priority desc"));
  EXPECT_EQ(ids_of(read_page(fresh, parts, 4, 2, 1000)), (std::vector<std::string>{"a4", "b3"}));
  SnapshotCursor beyond(ids, *query::Order::parse("priority desc"));
  EXPECT_TRUE(read_page(beyond, parts, 50, 10, 1000).empty());
}

TEST(SnapshotCursor, RandomPartsPageToTheSortedWhole) {
  // Property: whatever the parts hold and however the pages are cut, reading page after page
  // gives every open interaction once, in the order of a sort over all of them.
  std::mt19937 random(11);
  const query::Order order = *query::Order::parse("priority desc");
  for (int round = 0; round < 200; ++round) {
    std::vector<FakePart> parts(1 + random() % 4);
    std::vector<SnapshotPart> ids;
    std::vector<std::pair<int, std::string>> all;
    for (size_t p = 0; p < parts.size(); ++p) {
      const size_t n = random() % 30;
      std::vector<int> priorities;
      for (size_t i = 0; i < n; ++i) priorities.push_back(static_cast<int>(random() % 10));
      std::sort(priorities.rbegin(), priorities.rend());
      for (size_t i = 0; i < n; ++i) {
        const bool ended = random() % 7 == 0;
        const std::string id = std::to_string(p) + "-" + std::to_string(i);
        parts[p].entries.emplace_back(id, ended ? -1 : priorities[i]);
        if (!ended) all.emplace_back(priorities[i], id);
      }
      ids.push_back({"p" + std::to_string(p + 1) + "-snap-1", static_cast<uint32_t>(n)});
    }
    // Ties keep the part listed first, then the part's own order: a stable sort by priority.
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    SnapshotCursor cursor(ids, order);
    const size_t page_size = 1 + random() % 7;
    const uint32_t chunk = 1 + random() % 9;
    std::vector<std::pair<int, std::string>> read;
    for (uint64_t start = 0; read.size() < all.size() + 1; start += page_size) {
      InteractionList page = read_page(cursor, parts, start, page_size, chunk);
      for (const auto& i : page) read.emplace_back(i->priority, i->interaction_id);
      if (page.size() < page_size) break;
    }
    ASSERT_EQ(read, all) << "round " << round;
  }
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

// A cluster of the given pairs (ID, tag), in that order, every one serving tenant 101 and chat.
std::shared_ptr<const config::ClusterConfig> pairs_config(const std::vector<std::pair<std::string, std::string>>& pairs) {
  test::ConfigBuilder c;
  c.tenant("101").media_type("chat");
  uint16_t port = 7300;
  for (const auto& [id, tag] : pairs) {
    const uint16_t primary = ++port, backup = ++port;
    c.node_pair(id, tag, {"101"}, {"chat"})
        .endpoint("primary", primary, static_cast<uint16_t>(primary + 1000))
        .endpoint("backup", backup, static_cast<uint16_t>(backup + 1000))
        .set_in("storage", "sqlite-path", id + ".db");
  }
  config::LoadResult loaded = config::load_config_text(c.text(), "pairs.toml", "/tmp");
  EXPECT_TRUE(loaded.ok()) << loaded.error_text();
  return loaded.config;
}

TEST(RoutingTable, AReloadKeepsEachPairsIndexAndGivesAnAddedPairANewOne) {
  const RoutingTable first(pairs_config({{"pair-1", "p1"}, {"pair-2", "p2"}, {"pair-3", "p3"}}));
  EXPECT_EQ(first.all_pairs(), (PairSet{0, 1, 2}));
  // pair-2 goes, pair-4 comes (listed first), pair-3 moves up in the file.
  const RoutingTable second(pairs_config({{"pair-4", "p4"}, {"pair-1", "p1"}, {"pair-3", "p3"}}), &first);
  EXPECT_EQ(second.slot_count(), 4u);
  EXPECT_EQ(second.index_of("pair-1"), PairIndex{0});
  EXPECT_EQ(second.index_of("pair-3"), PairIndex{2});
  EXPECT_EQ(second.index_of("pair-4"), PairIndex{3});
  EXPECT_FALSE(second.index_of("pair-2"));
  EXPECT_FALSE(second.has(1));
  EXPECT_EQ(second.pair_id(1), "pair-2") << "a removed pair's ID stays known for the requests that were on it";
  EXPECT_EQ(second.slot_of("pair-2"), PairIndex{1});
  EXPECT_EQ(second.all_pairs(), (PairSet{3, 0, 2})) << "configuration order";
  EXPECT_EQ(second.pair(2).tag, "p3");
  EXPECT_EQ(second.pairs_for_tenant("101"), (PairSet{3, 0, 2}));
  // A removed pair's interactions are an unknown pair's: no tag routes to it.
  EXPECT_EQ(first.owner_by_tag(wire::make_cluster_id("p2", 17)), PairIndex{1});
  EXPECT_FALSE(second.owner_by_tag(wire::make_cluster_id("p2", 17)));
  EXPECT_EQ(second.owner_by_tag(wire::make_cluster_id("p4", 1)), PairIndex{3});
  const PairChanges changes = pair_changes(first, second);
  EXPECT_EQ(changes.removed, (PairSet{1}));
  EXPECT_EQ(changes.added, (PairSet{3}));
  // The same pair back: its old index again.
  const RoutingTable third(pairs_config({{"pair-1", "p1"}, {"pair-2", "p2"}}), &second);
  EXPECT_EQ(third.index_of("pair-2"), PairIndex{1});
  EXPECT_EQ(third.slot_count(), 4u);
  EXPECT_EQ(pair_changes(second, third).removed, (PairSet{3, 2}));
  EXPECT_EQ(pair_changes(second, third).added, (PairSet{1}));
  EXPECT_TRUE(pair_changes(third, third).empty());
}

TEST(RoutingTable, WhatIsKeptPerPairFollowsItsPairAcrossAReload) {
  const RoutingTable first(pairs_config({{"pair-1", "p1"}, {"pair-2", "p2"}, {"pair-3", "p3"}}));
  InteractionCache cache(100);
  cache.remember("on-1", *first.index_of("pair-1"));
  cache.remember("on-2", *first.index_of("pair-2"));
  cache.remember("on-3", *first.index_of("pair-3"));
  const RoutingTable second(pairs_config({{"pair-3", "p3"}, {"pair-1", "p1"}}), &first);
  // Entries of the pairs that stay still name them; a removed pair's go.
  EXPECT_EQ(cache.forget_pairs(pair_changes(first, second).removed), 1u);
  EXPECT_EQ(plan_owner_lookup(second, cache, "on-3").owner, second.index_of("pair-3"));
  EXPECT_EQ(plan_owner_lookup(second, cache, "on-1").owner, second.index_of("pair-1"));
  // One remembered after the swap by a request that was in flight: not used, asked anew.
  cache.remember("late", *first.index_of("pair-2"));
  const OwnerPlan late = plan_owner_lookup(second, cache, "late");
  EXPECT_FALSE(late.owner);
  EXPECT_EQ(late.ask, second.all_pairs());
  EXPECT_FALSE(cache.find("late"));
  // A submit spreads over the new set only.
  SubmitRouter router;
  std::map<std::string, int> chosen;
  for (int i = 0; i < 4; ++i) {
    Result<PairIndex> pair = router.choose(second, "101", "chat", {true, true, true});
    ASSERT_TRUE(pair);
    ++chosen[second.pair_id(*pair)];
  }
  EXPECT_EQ(chosen, (std::map<std::string, int>{{"pair-1", 2}, {"pair-3", 2}}));
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
