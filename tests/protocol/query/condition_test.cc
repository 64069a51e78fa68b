#include "protocol/query/condition.h"

#include <gtest/gtest.h>

#include "protocol/wire/kv.h"

namespace ix::query {
namespace {

proto::InteractionInfoT interaction(const std::string& id, int priority, const std::string& media, int64_t submitted) {
  proto::InteractionInfoT i;
  i.interaction_id = id;
  i.priority = priority;
  i.media_type = media;
  i.queue = "inbound";
  i.state = proto::InteractionState::Queued;
  i.submitted_at_us = submitted;
  i.user_data = wire::kv_list({{"Segment", "gold"}, {"Score", 42}, {"Customer Name", "O'Brien"}});
  return i;
}

bool matches(const std::string& text, const proto::InteractionInfoT& i) {
  auto c = Condition::parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << (c.ok() ? "" : c.error().text);
  return c.ok() && c->matches(i);
}

std::string error_of(const std::string& text) {
  auto c = Condition::parse(text);
  return c.ok() ? "parsed" : c.error().text;
}

TEST(Condition, ComparisonsOnAttributesAndUserData) {
  auto i = interaction("p1-1", 5, "chat", 100);
  EXPECT_TRUE(matches("", i)) << "an empty condition matches everything";
  EXPECT_TRUE(matches("priority > 3", i));
  EXPECT_FALSE(matches("priority >= 6", i));
  EXPECT_TRUE(matches("media_type = 'chat' AND ud.Segment = 'gold'", i));
  EXPECT_TRUE(matches("[media_type] = 'chat'", i)) << "the familiar bracketed form";
  EXPECT_TRUE(matches("ud.Score <> 41 AND ud.Score = 42", i));
  EXPECT_TRUE(matches("ud['Customer Name'] = 'O''Brien'", i));
  EXPECT_TRUE(matches("NOT (queue IN ('vip', 'sales'))", i));
  EXPECT_TRUE(matches("queue NOT IN ('vip') AND ud.Score IN (1, 42)", i));
  EXPECT_TRUE(matches("state = 'Queued'", i));
  EXPECT_TRUE(matches("priority = 1 or priority = 5", i)) << "keywords are case-insensitive";
  EXPECT_TRUE(matches("(priority = 1 OR media_type = 'chat') AND NOT ud.Segment = 'silver'", i));
}

TEST(Condition, AbsentUserDataAndMixedTypesAreNeverTrue) {
  auto i = interaction("p1-1", 5, "chat", 100);
  EXPECT_FALSE(matches("ud.Missing = 'x'", i));
  EXPECT_FALSE(matches("ud.Missing != 'x'", i)) << "like SQL NULL";
  EXPECT_FALSE(matches("ud.Missing IN ('x')", i));
  EXPECT_FALSE(matches("ud.Missing NOT IN ('x')", i));
  EXPECT_FALSE(matches("ud.Segment > 3", i)) << "a string is not compared with a number";
  EXPECT_FALSE(matches("priority = '5'", i));
}

TEST(Condition, ErrorsPointAtThePosition) {
  EXPECT_EQ(error_of("priority >"), "at position 11: expected a value, found the end");
  EXPECT_EQ(error_of("colour = 'red'"), "at position 1: unknown attribute \"colour\" (user data is written ud.colour)");
  EXPECT_EQ(error_of("(priority = 1"), "at position 14: expected ')'");
  EXPECT_EQ(error_of("priority = 'x"), "at position 12: string literal is not closed");
  EXPECT_EQ(error_of("priority @ 1"), "at position 10: unexpected character '@'");
  EXPECT_EQ(error_of("queue IN 'a'"), "at position 10: expected '(' after IN");
  EXPECT_EQ(error_of("priority = 1 priority = 2"), "at position 14: unexpected \"priority\"; expected AND, OR or the end");
  EXPECT_EQ(error_of("priority 1"), "at position 10: expected a comparison operator, found \"1\"");
  EXPECT_EQ(error_of("priority = 99999999999999999999"), "at position 12: number 99999999999999999999 is out of range");
  EXPECT_EQ(error_of("priority IN (1, 99999999999999999999)"), "at position 17: number 99999999999999999999 is out of range");
  std::string deep(200, '(');
  EXPECT_NE(error_of(deep + "priority = 1").find("nested too deeply"), std::string::npos);
  auto c = Condition::parse("priority >");
  EXPECT_EQ(c.error().code, static_cast<int>(proto::ErrorCode::InvalidCondition));
}

TEST(Order, PriorityThenAgeThenIdByDefault) {
  auto order = Order::parse("");
  ASSERT_TRUE(order.ok());
  auto a = interaction("p1-a", 5, "chat", 200), b = interaction("p1-b", 5, "chat", 100), c = interaction("p1-c", 9, "chat", 300);
  EXPECT_TRUE(order->less(c, b)) << "higher priority first";
  EXPECT_TRUE(order->less(b, a)) << "then older first";
  EXPECT_FALSE(order->less(a, a));
}

TEST(Order, UserDataKeysAndDirectionsWithAbsentValuesLast) {
  auto order = Order::parse("ud.Score desc, interaction_id");
  ASSERT_TRUE(order.ok()) << order.error().text;
  auto high = interaction("p1-h", 0, "chat", 0), low = interaction("p1-l", 0, "chat", 0), none = interaction("p1-n", 0, "chat", 0);
  wire::kv_set(*low.user_data, {"Score", 1});
  none.user_data->pairs.clear();
  EXPECT_TRUE(order->less(high, low));
  EXPECT_TRUE(order->less(low, none));
  EXPECT_FALSE(order->less(none, high));
  EXPECT_EQ(Order::parse("priority sideways").error().text, "at position 10: expected ',' or the end of the order");
  EXPECT_EQ(Order::parse("'x' asc").error().text, "at position 1: expected an attribute to order by");
}

TEST(Condition, NamesTheValuesAnAttributeMustHave) {
  auto values = [](const std::string& text) {
    auto c = Condition::parse(text);
    EXPECT_TRUE(c.ok()) << text;
    return c->required_values("media_type");
  };
  EXPECT_EQ(values("media_type = 'email'"), (std::vector<std::string>{"email"}));
  EXPECT_EQ(values("priority > 3 AND 'chat' = media_type"), (std::vector<std::string>{"chat"}));
  EXPECT_EQ(values("media_type IN ('chat', 'sms') AND queue = 'inbound'"), (std::vector<std::string>{"chat", "sms"}));
  for (const char* open : {"", "priority > 3", "media_type = 'email' OR priority > 3", "NOT media_type = 'email'",
                           "media_type != 'email'", "media_type NOT IN ('chat')", "queue = 'inbound'"}) {
    EXPECT_FALSE(values(open)) << open;
  }
}

}  // namespace
}  // namespace ix::query
