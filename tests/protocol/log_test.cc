#include "protocol/log.h"

#include <gtest/gtest.h>

namespace ix {
namespace {

TEST(Log, QuoteKeepsAValueOnOneParsableLine) {
  EXPECT_EQ(quote("node pair-1 lost"), "\"node pair-1 lost\"");
  EXPECT_EQ(quote("say \"hi\"\\now"), "\"say \\\"hi\\\"\\\\now\"");
  EXPECT_EQ(quote("two\nlines"), "\"two lines\"") << "one event per line";
}

}  // namespace
}  // namespace ix
