#include "proxy/upstream/in_flight_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ix::proxy {
namespace {

TEST(InFlightTable, AReplyFindsItsRequestOnceAndALateOneFindsNothing) {
  InFlightTable<std::string> table;
  const uint64_t a = table.add("a");
  const uint64_t b = table.add("b");
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.take(b), "b");
  EXPECT_FALSE(table.take(b));  // answered already
  // b's slot is used again: the new ref differs, and the old one still matches nothing.
  const uint64_t c = table.add("c");
  EXPECT_EQ(c & 0xffffffffu, b & 0xffffffffu);  // the same slot
  EXPECT_NE(c, b);
  EXPECT_FALSE(table.take(b));
  EXPECT_EQ(*table.find(c), "c");
  EXPECT_EQ(table.take(a), "a");
  EXPECT_EQ(table.size(), 1u);
  EXPECT_FALSE(table.take(0));
  EXPECT_FALSE(table.take(c + 1));  // a slot that was never used
}

TEST(InFlightTable, UnslottedRefsMatchNothingAndDoNotRepeat) {
  InFlightTable<int> table;
  std::set<uint64_t> refs;
  for (int i = 0; i < 100; ++i) {
    refs.insert(table.add(i));
    const uint64_t own = table.unslotted_ref();
    EXPECT_FALSE(table.find(own));
    refs.insert(own);
  }
  EXPECT_EQ(refs.size(), 200u);
  EXPECT_EQ(refs.count(0), 0u);
}

TEST(InFlightTable, TakeAllEmptiesTheTable) {
  InFlightTable<int> table;
  std::set<uint64_t> live;
  for (int i = 0; i < 10; ++i) live.insert(table.add(i));
  table.take(*live.begin());
  live.erase(live.begin());
  const auto all = table.take_all();
  ASSERT_EQ(all.size(), 9u);
  for (const auto& [ref, value] : all) EXPECT_EQ(live.count(ref), 1u) << value;
  EXPECT_EQ(table.size(), 0u);
  for (uint64_t ref : live) EXPECT_FALSE(table.find(ref));
  const uint64_t next = table.add(42);
  EXPECT_NE(next, 0u);
  EXPECT_EQ(live.count(next), 0u);  // refs do not repeat after a reconnect empties the table
  EXPECT_EQ(table.size(), 1u);
}

}  // namespace
}  // namespace ix::proxy
