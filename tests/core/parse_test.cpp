#include "core/parse.h"

#include <gtest/gtest.h>

namespace iotstream {
namespace {

TEST(ParseInt, WholeNumbersOnly) {
  EXPECT_EQ(ParseInt("1750000000123"), 1750000000123);
  EXPECT_EQ(ParseInt("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(ParseInt(""));
  EXPECT_FALSE(ParseInt("-"));
  EXPECT_FALSE(ParseInt("12ms"));
  EXPECT_FALSE(ParseInt("9223372036854775808"));
  EXPECT_FALSE(ParseInt(std::string("12\0", 3)));
}

TEST(IsPrintableUtf8, AcceptsTextRefusesControlsAndMalformedSequences) {
  for (const char* ok : {"Ada Lovelace", "Zoë", "東京", "😀 ok", "../../etc", ""}) EXPECT_TRUE(IsPrintableUtf8(ok)) << ok;
  for (const std::string& bad : {
           std::string("a\0b", 3), std::string("tab\there"), std::string("new\nline"), std::string("del\x7F"),
           std::string("\xFF"), std::string("\xC3"),            // not UTF-8 at all; a sequence cut short
           std::string("\xC0\xAE"), std::string("\xE0\x80\xAE"),  // overlong "."
           std::string("\xED\xA0\x80"),                          // a UTF-16 surrogate
           std::string("\xF4\x90\x80\x80"),                      // above U+10FFFF
           std::string("\x80"), std::string("\xE6\x9D")}) {
    EXPECT_FALSE(IsPrintableUtf8(bad)) << testing::PrintToString(bad);
  }
}

}  // namespace
}  // namespace iotstream
