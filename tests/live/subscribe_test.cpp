#include "live/subscribe.h"

#include <gtest/gtest.h>

namespace iotstream::live {
namespace {

TEST(ParseSubscribe, AListOrEverything) {
  auto list = ParseSubscribe(R"({"subscribe": ["cam1", "cam2", "cam1"]})");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_FALSE(list.value().all);
  EXPECT_EQ(list.value().ids, (std::set<std::string>{"cam1", "cam2"}));
  auto all = ParseSubscribe(R"({"subscribe": "*"})");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all.value().all);
  EXPECT_TRUE(all.value().ids.empty());
  auto none = ParseSubscribe(R"({"subscribe": []})");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().all);
  EXPECT_TRUE(none.value().ids.empty());
}

TEST(ParseSubscribe, AnythingElseSaysWhatToSend) {
  for (const char* text : {"", "subscribe", "[]", R"({"unsubscribe": "*"})", "{\"subscribe\": \"*\"", "\xFF"}) {
    auto r = ParseSubscribe(text);
    ASSERT_TRUE(r.status().IsInvalidArgument()) << text;
    EXPECT_NE(r.status().message().find("{\"subscribe\": \"*\"}"), std::string::npos) << r.status().message();
  }
  for (const char* text : {R"({"subscribe": 5})", R"({"subscribe": "cam1"})", R"({"subscribe": ["cam1", 2]})",
                           R"({"subscribe": null})"}) {
    auto r = ParseSubscribe(text);
    ASSERT_TRUE(r.status().IsInvalidArgument()) << text;
    EXPECT_NE(r.status().message().find("array of device ids"), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace iotstream::live
