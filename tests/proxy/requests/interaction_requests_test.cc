// Submit, requests by interaction ID and pulls, run in-process against scripted node pairs
// (FakePairCalls): which pairs are asked, with what, and what the client gets back. No
// sockets, no sleeps; pair-1 "p1", pair-2 "p2", pair-3 "p3" (submit disabled) all serve 101.
#include <gtest/gtest.h>

#include "protocol/wire/interaction_id.h"
#include "proxy/requests/by_id_request.h"
#include "proxy/requests/pull_request.h"
#include "proxy/requests/submit_request.h"
#include "tests/proxy/support/request_harness.h"

namespace ix::test {
namespace {

using proxy::PairAnswer;
using proxy::PairIndex;

proto::RequestSubmitT submit(const std::string& tenant, const std::string& media, const std::string& id = "") {
  proto::RequestSubmitT r;
  r.tenant_id = tenant;
  r.media_type = media;
  r.queue = "inbound";
  r.interaction_id = id;
  return r;
}

proto::EventPropertiesT properties(const std::string& id, const std::string& node) {
  proto::EventPropertiesT p;
  p.interaction = std::make_unique<proto::InteractionInfoT>();
  p.interaction->interaction_id = id;
  p.interaction->node_id = node;
  return p;
}

PairAnswer unknown(PairIndex pair) { return FakePairCalls::refused(pair, proto::ErrorCode::UnknownInteraction, "no such interaction"); }

TEST(SubmitRequest, RoutingAttributesAreCheckedAndEachFailureHasItsCode) {
  RequestHarness h;
  h.send(1, submit("", "chat"), proxy::handle_submit);
  h.send(2, submit("101", ""), proxy::handle_submit);
  h.send(3, submit("999", "chat"), proxy::handle_submit);
  h.send(4, submit("101", "sms"), proxy::handle_submit);  // a disabled media type
  h.calls.run();
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::MissingAttribute));
  EXPECT_NE(h.error_text(1).find("RequestSubmit.tenant_id"), std::string::npos) << h.error_text(1);
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::MissingAttribute));
  EXPECT_NE(h.error_text(2).find("media_type"), std::string::npos) << h.error_text(2);
  EXPECT_EQ(h.error_code(3), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(h.error_text(3).find("\"999\""), std::string::npos) << h.error_text(3);
  EXPECT_EQ(h.error_code(4), code(proto::ErrorCode::ClusterNoServerForMedia));
  EXPECT_TRUE(h.calls.sent.empty()) << "nothing is sent for a request the proxy refuses";
}

TEST(SubmitRequest, GoesToOneEligiblePairAndTheNodesReplyComesBackUnderTheClientsRefId) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    proto::EventSubmittedT submitted;
    submitted.interaction_id = wire::make_cluster_id(pair == 0 ? "p1" : "p2", 1);
    return FakePairCalls::reply(pair, submitted);
  });
  for (uint64_t ref = 1; ref <= 4; ++ref) h.send(ref, submit("101", "chat"), proxy::handle_submit);
  EXPECT_TRUE(h.replies.by_ref.empty()) << "no reply from inside the request";
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 4u);
  std::set<PairIndex> used;
  for (const auto& s : h.calls.sent) {
    EXPECT_NE(s.pair, 2u) << "pair-3 has submit disabled";
    EXPECT_EQ(s.type(), proto::Message::RequestSubmit);
    used.insert(s.pair);
  }
  EXPECT_EQ(used.size(), 2u) << "balanced over the eligible pairs";
  for (uint64_t ref = 1; ref <= 4; ++ref) {
    ASSERT_TRUE(h.reply(ref) && h.reply(ref)->body.AsEventSubmitted()) << ref;
  }
  // The one eligible pair left down: 2002 naming why.
  RequestHarness down;
  down.calls.set_reachable(0, false);
  down.calls.set_reachable(1, false);
  down.send(9, submit("101", "chat"), proxy::handle_submit);
  down.calls.run();
  EXPECT_EQ(down.error_code(9), code(proto::ErrorCode::ClusterLostConnection)) << down.error_text(9);
}

TEST(SubmitRequest, AClientSuppliedIdIsLookedForEverywhereAndRefusedWhereItExists) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT& request) {
    if (request.body.type == proto::Message::RequestGetProperties) {
      return pair == 1 ? FakePairCalls::reply(pair, properties("order-1", "pair-2")) : unknown(pair);
    }
    return FakePairCalls::reply(pair, proto::EventSubmittedT{});
  });
  h.send(1, submit("101", "chat", "order-1"), proxy::handle_submit);
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 3u) << "asked every pair, submitted nowhere";
  for (const auto& s : h.calls.sent) EXPECT_EQ(s.type(), proto::Message::RequestGetProperties);
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::DuplicateInteractionId));
  EXPECT_NE(h.error_text(1).find("pair-2"), std::string::npos) << h.error_text(1);
}

TEST(SubmitRequest, ANewClientSuppliedIdIsSubmittedAndItsOwnerRemembered) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT& request) {
    if (request.body.type == proto::Message::RequestGetProperties) return unknown(pair);
    proto::EventSubmittedT submitted;
    submitted.interaction_id = "order-2";
    return FakePairCalls::reply(pair, submitted);
  });
  h.send(1, submit("101", "chat", "order-2"), proxy::handle_submit);  // borrowed bytes: kept for the second step
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 4u);
  const auto& submitted = h.calls.sent.back();
  ASSERT_EQ(submitted.type(), proto::Message::RequestSubmit);
  EXPECT_EQ(submitted.request->body.AsRequestSubmit()->interaction_id, "order-2");
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventSubmitted()) << h.error_text(1);
  EXPECT_EQ(h.context.cache.find("order-2"), std::optional<PairIndex>(submitted.pair));
}

// A submit with a request_id goes to the pair its key hashes to, on every proxy, and is not
// moved to another pair while that one has no primary (it may have applied the submit).
TEST(SubmitRequest, ARequestIdRoutesToTheSamePairOnEveryProxyAndWaitsForItWhileItIsDown) {
  auto answer = [](PairIndex pair, const proto::EnvelopeT&) {
    proto::EventSubmittedT submitted;
    submitted.interaction_id = wire::make_cluster_id(pair == 0 ? "p1" : "p2", 1);
    return FakePairCalls::reply(pair, submitted);
  };
  RequestHarness one, two;  // two proxies
  one.calls.script(answer);
  two.calls.script(answer);
  std::set<PairIndex> used;
  for (uint64_t ref = 1; ref <= 16; ++ref) {
    proto::RequestSubmitT r = submit("101", "chat");
    r.request_id = "key-" + std::to_string(ref);
    for (int twice = 0; twice < 2; ++twice) one.send(ref * 10 + twice, r, proxy::handle_submit);
    two.send(ref, r, proxy::handle_submit);
  }
  one.calls.run();
  two.calls.run();
  ASSERT_EQ(one.calls.sent.size(), 32u);
  ASSERT_EQ(two.calls.sent.size(), 16u);
  for (size_t i = 0; i < 16; ++i) {
    EXPECT_EQ(one.calls.sent[2 * i].pair, one.calls.sent[2 * i + 1].pair) << "a retry goes where the first went";
    EXPECT_EQ(one.calls.sent[2 * i].pair, two.calls.sent[i].pair) << "through any proxy";
    EXPECT_NE(two.calls.sent[i].pair, 2u) << "pair-3 has submit disabled";
    EXPECT_EQ(two.calls.sent[i].request->body.AsRequestSubmit()->request_id, "key-" + std::to_string(i + 1));
    used.insert(two.calls.sent[i].pair);
  }
  EXPECT_EQ(used.size(), 2u) << "keys spread over the eligible pairs";

  const PairIndex home = two.calls.sent[0].pair;
  RequestHarness down;
  down.calls.script(answer);
  down.calls.set_reachable(home, false);
  proto::RequestSubmitT r = submit("101", "chat");
  r.request_id = "key-1";
  down.send(1, r, proxy::handle_submit);
  down.send(2, submit("101", "chat"), proxy::handle_submit);
  down.calls.run();
  EXPECT_EQ(down.error_code(1), code(proto::ErrorCode::ClusterLostConnection)) << down.error_text(1);
  EXPECT_NE(down.error_text(1).find("request_id"), std::string::npos) << down.error_text(1);
  ASSERT_TRUE(down.reply(2) && down.reply(2)->body.AsEventSubmitted()) << "a submit without a key goes to the other pair";
  ASSERT_EQ(down.calls.sent.size(), 1u);
  EXPECT_NE(down.calls.sent[0].pair, home);
}

// A client-supplied ID that exists already: with a request_id the submit goes to its owner,
// which answers a retry with the original (or DuplicateInteractionId for another key).
TEST(SubmitRequest, AClientSuppliedIdThatExistsGoesToItsOwnerWhenTheSubmitHasARequestId) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT& request) {
    if (request.body.type == proto::Message::RequestGetProperties) {
      return pair == 1 ? FakePairCalls::reply(pair, properties("order-1", "pair-2")) : unknown(pair);
    }
    proto::EventSubmittedT submitted;
    submitted.interaction_id = "order-1";
    submitted.repeated = true;
    return FakePairCalls::reply(pair, submitted);
  });
  proto::RequestSubmitT r = submit("101", "chat", "order-1");
  r.request_id = "key-9";
  h.send(1, r, proxy::handle_submit);
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 4u);
  EXPECT_EQ(h.calls.sent.back().type(), proto::Message::RequestSubmit);
  EXPECT_EQ(h.calls.sent.back().pair, 1u) << "to the owner";
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventSubmitted()) << h.error_text(1);
  EXPECT_TRUE(h.reply(1)->body.AsEventSubmitted()->repeated);
}

proto::RequestStopProcessingT stop(const std::string& id) {
  proto::RequestStopProcessingT r;
  r.interaction_id = id;
  return r;
}

TEST(ByIdRequest, AClusterIdGoesStraightToThePairItsTagNames) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, proto::EventAckT{}); });
  h.send(1, stop(wire::make_cluster_id("p2", 42)), proxy::handle_by_interaction_id);
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 1u);
  EXPECT_EQ(h.calls.sent[0].pair, 1u);
  EXPECT_EQ(h.calls.sent[0].upstream_client, h.clients.upstream(1, 7)) << "under the client's own upstream client_id";
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventAck());
  // Its pair down: 2003 naming it; no ID at all: the attribute is named.
  h.calls.set_reachable(1, false);
  h.send(2, stop(wire::make_cluster_id("p2", 43)), proxy::handle_by_interaction_id);
  h.send(3, stop(""), proxy::handle_by_interaction_id);
  h.calls.run();
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::ClusterInteractionNotAccessible));
  EXPECT_NE(h.error_text(2).find("pair-2"), std::string::npos) << h.error_text(2);
  EXPECT_EQ(h.error_code(3), code(proto::ErrorCode::MissingAttribute));
}

TEST(ByIdRequest, ACacheMissAsksEveryCandidateThenSendsToTheOwnerAndTheNextRequestHitsTheCache) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT& request) {
    if (request.body.type == proto::Message::RequestGetProperties) {
      return pair == 2 ? FakePairCalls::reply(pair, properties("order-3", "pair-3")) : unknown(pair);
    }
    return FakePairCalls::reply(pair, proto::EventAckT{});
  });
  h.send(1, stop("order-3"), proxy::handle_by_interaction_id);
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 4u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(h.calls.sent[i].type(), proto::Message::RequestGetProperties);
  EXPECT_EQ(h.calls.sent[3].type(), proto::Message::RequestStopProcessing);
  EXPECT_EQ(h.calls.sent[3].pair, 2u);
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventAck()) << h.error_text(1);
  EXPECT_EQ(h.context.cache_misses.value(), 1u);

  h.send(2, stop("order-3"), proxy::handle_by_interaction_id);
  h.calls.run();
  ASSERT_EQ(h.calls.sent.size(), 5u) << "no lookup the second time";
  EXPECT_EQ(h.calls.sent[4].pair, 2u);
  EXPECT_EQ(h.context.cache_hits.value(), 1u);
}

TEST(ByIdRequest, OwnedByTwoPairsIs2005AndUnaskableWithNoOwnerIs2003) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    return pair == 2 ? unknown(pair) : FakePairCalls::reply(pair, properties("twin", "?"));
  });
  h.send(1, stop("twin"), proxy::handle_by_interaction_id);
  h.calls.run();
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::ClusterDuplicateInteraction));

  RequestHarness lost;
  lost.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return unknown(pair); });
  lost.calls.set_reachable(0, false);
  lost.send(1, stop("lost-1"), proxy::handle_by_interaction_id);
  lost.calls.run();
  EXPECT_EQ(lost.error_code(1), code(proto::ErrorCode::ClusterInteractionNotAccessible));
  EXPECT_NE(lost.error_text(1).find("pair-1"), std::string::npos) << lost.error_text(1);
}

TEST(ByIdRequest, GetPropertiesIsItsOwnLookupAndTheOwnersAnswerIsTheReply) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    return pair == 0 ? FakePairCalls::reply(pair, properties("order-4", "pair-1")) : unknown(pair);
  });
  proto::RequestGetPropertiesT get;
  get.interaction_id = "order-4";
  h.send(1, get, proxy::handle_by_interaction_id);
  h.calls.run();
  EXPECT_EQ(h.calls.sent.size(), 3u);
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventProperties()) << h.error_text(1);
  EXPECT_EQ(h.reply(1)->body.AsEventProperties()->interaction->interaction_id, "order-4");
}

proto::RequestPullT pull(uint32_t count, uint32_t hold_ms) {
  proto::RequestPullT r;
  r.tenant_id = "101";
  r.queue = "inbound";
  r.count = count;
  r.hold_time_ms = hold_ms;
  return r;
}

proto::EventPulledT pulled(std::vector<std::string> ids, const std::string& node) {
  proto::EventPulledT p;
  for (const std::string& id : ids) {
    auto info = std::make_unique<proto::InteractionInfoT>();
    info->interaction_id = id;
    info->node_id = node;
    p.interactions.push_back(std::move(info));
  }
  return p;
}

TEST(PullRequest, AsksThePairsInTurnForWhatIsStillMissingAndAnswersWithAllItGot) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT& request) {
    const uint32_t count = request.body.AsRequestPull()->count;
    if (pair == 2) return FakePairCalls::reply(pair, pulled({}, "pair-3"));
    std::vector<std::string> ids;
    for (uint32_t i = 0; i < std::min<uint32_t>(count, 2); ++i) ids.push_back("c" + std::to_string(pair) + "-" + std::to_string(i));
    return FakePairCalls::reply(pair, pulled(ids, "pair-" + std::to_string(pair + 1)));
  });
  h.send(1, pull(3, 0), proxy::handle_pull);
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventPulled()) << h.error_text(1);
  EXPECT_EQ(h.reply(1)->body.AsEventPulled()->interactions.size(), 3u);
  // One pair after another, each for what was still missing, none held.
  ASSERT_GE(h.calls.sent.size(), 2u);
  uint32_t missing = 3;
  for (const auto& s : h.calls.sent) {
    EXPECT_EQ(s.request->body.AsRequestPull()->count, missing);
    EXPECT_EQ(s.request->body.AsRequestPull()->hold_time_ms, 0u);
    missing -= s.pair == 2 ? 0 : std::min<uint32_t>(missing, 2);
  }
  EXPECT_EQ(missing, 0u);
  // Client-supplied IDs handed out are remembered with their pair.
  EXPECT_TRUE(h.context.cache.find("c0-0") || h.context.cache.find("c1-0"));
}

TEST(PullRequest, NothingAnywhereWaitsOnASecondPassWithEachPairsHoldCappedByPullHoldTimeout) {
  RequestHarness h;  // pull-hold-timeout 500 ms
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) { return FakePairCalls::reply(pair, pulled({}, "")); });
  h.send(1, pull(1, 2000), proxy::handle_pull);
  while (h.calls.sent.size() < 4) ASSERT_GT(h.calls.run_one(), 0u);
  EXPECT_EQ(h.context.pulls_waiting.value(), 1.0) << "counted while it holds";
  h.calls.run();
  EXPECT_EQ(h.context.pulls_waiting.value(), 0.0);
  ASSERT_EQ(h.calls.sent.size(), 6u) << "two passes over three pairs";
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(h.calls.sent[i].request->body.AsRequestPull()->hold_time_ms, 0u);
  for (size_t i = 3; i < 6; ++i) {
    EXPECT_EQ(h.calls.sent[i].request->body.AsRequestPull()->hold_time_ms, 500u);
    EXPECT_EQ(h.calls.sent[i].timeout_ms, 1000u + 500u) << "the deadline covers the hold";
  }
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventPulled());
  EXPECT_TRUE(h.reply(1)->body.AsEventPulled()->interactions.empty());
}

TEST(PullRequest, ARefusalIsTheAnswerOnlyWhenNothingWasPulledAndAnUnknownTenantIsNamed) {
  RequestHarness h;
  h.calls.script([](PairIndex pair, const proto::EnvelopeT&) {
    return FakePairCalls::refused(pair, proto::ErrorCode::InvalidAttribute, "no such view");
  });
  h.send(1, pull(1, 0), proxy::handle_pull);
  proto::RequestPullT stranger = pull(1, 0);
  stranger.tenant_id = "999";
  h.send(2, stranger, proxy::handle_pull);
  h.calls.run();
  EXPECT_EQ(h.error_code(1), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(h.error_text(1).find("refused: no such view"), std::string::npos) << h.error_text(1);
  EXPECT_EQ(h.error_code(2), code(proto::ErrorCode::InvalidAttribute));
  EXPECT_NE(h.error_text(2).find("not a tenant"), std::string::npos) << h.error_text(2);
  // Every pair down: 2002 with each one's reason.
  RequestHarness down;
  for (PairIndex p = 0; p < 3; ++p) down.calls.set_reachable(p, false);
  down.send(1, pull(1, 0), proxy::handle_pull);
  down.calls.run();
  EXPECT_EQ(down.error_code(1), code(proto::ErrorCode::ClusterLostConnection));
  EXPECT_NE(down.error_text(1).find("fake pair 2 is down"), std::string::npos) << down.error_text(1);
}

TEST(PullRequest, AnOrderedViewIsPulledInTheViewsOrderAcrossPairs) {
  RequestHarness h(R"(
[[queues]]
id = "inbound"
tenant = "101"
[[views]]
id = "ordered"
tenant = "101"
queues = ["inbound"]
order = "interaction_id asc"
ordered-pull = true
)");
  // The heads of the view: pair 0 holds b, e; pair 1 holds a, d; pair 2 holds c, f.
  auto held = [](PairIndex pair) {
    const char* ids[3][2] = {{"b-x", "e-x"}, {"a-x", "d-x"}, {"c-x", "f-x"}};
    return std::vector<std::string>{ids[pair][0], ids[pair][1]};
  };
  h.calls.script([&](PairIndex pair, const proto::EnvelopeT& request) {
    const std::string node = "pair-" + std::to_string(pair + 1);
    if (request.body.type == proto::Message::RequestFind) {
      proto::EventFindResultT found;
      found.interactions = pulled(held(pair), node).interactions;
      return FakePairCalls::reply(pair, found);
    }
    std::vector<std::string> ids = held(pair);
    ids.resize(request.body.AsRequestPull()->count);
    return FakePairCalls::reply(pair, pulled(ids, node));
  });
  proto::RequestPullT request = pull(3, 0);
  request.view_id = "ordered";
  h.send(1, request, proxy::handle_pull);
  h.calls.run();
  ASSERT_TRUE(h.reply(1) && h.reply(1)->body.AsEventPulled()) << h.error_text(1);
  std::vector<std::string> got;
  for (const auto& i : h.reply(1)->body.AsEventPulled()->interactions) got.push_back(i->interaction_id);
  EXPECT_EQ(got, (std::vector<std::string>{"a-x", "b-x", "c-x"})) << "what a single server would hand out next, in order";
  std::map<PairIndex, uint32_t> pulls;
  for (const auto& s : h.calls.sent) {
    if (s.type() == proto::Message::RequestFind) {
      EXPECT_EQ(s.request->body.AsRequestFind()->limit, 3u);
      EXPECT_NE(s.request->body.AsRequestFind()->condition.find("queue IN ('inbound')"), std::string::npos);
    } else {
      ASSERT_EQ(s.type(), proto::Message::RequestPull);
      pulls[s.pair] = s.request->body.AsRequestPull()->count;
      EXPECT_EQ(s.request->body.AsRequestPull()->hold_time_ms, 0u);
    }
  }
  EXPECT_EQ(pulls, (std::map<PairIndex, uint32_t>{{0, 1}, {1, 1}, {2, 1}}));
}

}  // namespace
}  // namespace ix::test
