// The one severity order of upstream failures (proxy/route/answer_severity.h): whatever order the
// answers of a fan-out arrive in, the same set of failures gives the same code and text — for the
// agent fan-out, the find/workbin scatter, the pull's pass over the pairs, and the order itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "proxy/route/agent_fan_out.h"
#include "proxy/route/answer_severity.h"
#include "proxy/route/ordered_merge.h"
#include "proxy/route/pull_pass.h"
#include "tests/proxy/route/route_fixture.h"

namespace ix::proxy {
namespace {

using E = proto::ErrorCode;

PairAnswer refused(PairIndex pair, E code, std::string text) {
  return PairAnswer::refused(pair, wire::make_error(code, std::move(text)));
}
PairAnswer replied(PairIndex pair) { return PairAnswer::reply(pair, std::make_shared<const std::vector<uint8_t>>()); }

// Every arrival order of `answers`, as the callers see them (each permutation is one run).
template <class Fn>
std::set<std::string> outcomes_over_every_order(std::vector<PairAnswer> answers, Fn outcome) {
  std::vector<size_t> order(answers.size());
  std::iota(order.begin(), order.end(), 0);
  std::set<std::string> seen;
  do {
    std::vector<PairAnswer> arrived;
    for (size_t i : order) arrived.push_back(answers[i]);
    seen.insert(outcome(arrived));
  } while (std::next_permutation(order.begin(), order.end()));
  return seen;
}

std::string describe(const Error& e) { return std::to_string(e.code) + " " + e.text; }

TEST(AnswerSeverity, TheRequestsOwnFaultOutranksStateWhichOutranksTheNodeAndTheCluster) {
  auto rank = [](E code) { return severity_rank(wire::make_error(code, "")); };
  EXPECT_LT(rank(E::MalformedMessage), rank(E::UnknownAgent));
  EXPECT_LT(rank(E::InvalidAttribute), rank(E::WrongState));
  EXPECT_LT(rank(E::UnknownAgent), rank(E::NotPrimary));
  EXPECT_LT(rank(E::NotPrimary), rank(E::ClusterSnapshotNotAccessible));
  EXPECT_LT(rank(E::Internal), rank(E::ClusterInteractionNotAccessible));
  EXPECT_LT(rank(E::ClusterSnapshotNotAccessible), rank(E::ClusterLostConnection));
  // Same rank: the smaller code, then the pair first in the configuration, then the text.
  EXPECT_TRUE(more_severe(wire::make_error(E::InvalidAttribute, "b"), 2, wire::make_error(E::MissingAttribute, "a"), 0));
  EXPECT_TRUE(more_severe(wire::make_error(E::UnknownAgent, "z"), 0, wire::make_error(E::UnknownAgent, "a"), 1));
  EXPECT_TRUE(more_severe(wire::make_error(E::UnknownAgent, "a"), 1, wire::make_error(E::UnknownAgent, "b"), 1));
}

const std::vector<PairAnswer> kMixedFailures = {
    PairAnswer::unreachable(0, "connection lost"),
    refused(1, E::NoSeatsAvailable, "no seat left"),
    refused(2, E::UnknownAgent, "agent-9 is not configured"),
};

TEST(AnswerSeverity, AnAgentFanOutGivesOneAnswerWhateverTheArrivalOrder) {
  RoutingTable table(test::routing_config());
  std::vector<PairAnswer> answers = kMixedFailures;
  answers.push_back(replied(0));  // pair-1 served the other half of the tenant: a 4th answer
  const std::set<std::string> seen = outcomes_over_every_order(answers, [&](const std::vector<PairAnswer>& arrived) {
    FanOutOutcome out = decide_fan_out(table, arrived);
    EXPECT_FALSE(out.status);
    return describe(out.status.error());
  });
  ASSERT_EQ(seen.size(), 1u) << "the arrival order changed the answer";
  // UnknownAgent (302) and NoSeatsAvailable (308) are both state refusals; the smaller code wins.
  EXPECT_EQ(*seen.begin(), "302 node pair " + table.pair_id(2) + " refused: agent-9 is not configured");
}

TEST(AnswerSeverity, AFindOrWorkbinScatterGivesOneAnswerWhateverTheArrivalOrder) {
  RoutingTable table(test::routing_config());
  std::vector<PairAnswer> answers = kMixedFailures;
  answers.push_back(refused(0, E::InvalidCondition, "unknown attribute 'colour'"));
  for (bool partial : {false, true}) {
    const std::set<std::string> seen = outcomes_over_every_order(answers, [&](const std::vector<PairAnswer>& arrived) {
      ScatterOutcome out = decide_scatter(table, arrived, partial);
      return out.error ? describe(*out.error) : "ok";
    });
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(*seen.begin(), "203 node pair " + table.pair_id(0) + " refused: unknown attribute 'colour'");
  }
  // Only unreachable pairs: 2002 naming the first pair in the configuration.
  const std::set<std::string> lost = outcomes_over_every_order(
      {PairAnswer::unreachable(2, "down"), PairAnswer::unreachable(1, "timed out"), replied(0)},
      [&](const std::vector<PairAnswer>& arrived) { return describe(*decide_scatter(table, arrived, false).error); });
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_TRUE(lost.begin()->starts_with("2002 node pair " + table.pair_id(1))) << *lost.begin();
}

TEST(AnswerSeverity, APullsRefusalIsTheMostSevereWhicheverPairItAskedFirst) {
  // A pull asks the pairs one after the other, starting at a rotating pair: every start gives
  // the same refusal.
  const std::vector<Error> by_pair = {wire::make_error(E::UnknownView, "node pair pair-1 refused: no view v"),
                                      wire::make_error(E::InvalidAttribute, "node pair pair-2 refused: count 0"),
                                      wire::make_error(E::WrongState, "node pair pair-3 refused: busy")};
  std::vector<PairIndex> order = {0, 1, 2};
  std::set<std::string> seen;
  do {
    PullPass pass(order, 1, 0, 0, std::chrono::milliseconds(500));
    while (std::optional<PullPass::Ask> ask = pass.next(0)) pass.refused(by_pair[ask->pair]);
    Result<InteractionList> result = pass.result();
    ASSERT_FALSE(result);
    seen.insert(describe(result.error()));
  } while (std::next_permutation(order.begin(), order.end()));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(*seen.begin(), "201 node pair pair-2 refused: count 0");
}

TEST(AnswerSeverity, TheDecidingFailureIgnoresRepliesAndIsNullWhenAllReplied) {
  EXPECT_EQ(deciding_failure({replied(0), replied(1)}), nullptr);
  std::vector<PairAnswer> answers = {replied(0), PairAnswer::unreachable(1, "down"), replied(2)};
  const PairAnswer* failure = deciding_failure(answers);
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->pair, 1u);
}

}  // namespace
}  // namespace ix::proxy
