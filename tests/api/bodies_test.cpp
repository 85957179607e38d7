#include "api/bodies.h"

#include <gtest/gtest.h>

namespace iotstream::api {
namespace {

TEST(DeviceUpdateOf, TheFieldsGiven) {
  auto u = DeviceUpdateOf(R"({"name": "Front door", "sparse": true, "expected_interval_s": 1.5})");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u.value().name, "Front door");
  EXPECT_FALSE(u.value().location);
  EXPECT_EQ(u.value().sparse, true);
  EXPECT_EQ(u.value().expected_interval_ms, 1500);
}

TEST(DeviceUpdateOf, RefusesWhatItCannotApply) {
  for (const std::string& body : {std::string("[]"), std::string("{}"), std::string("{\"name\": 5}"),
                                 "{\"name\": \"" + std::string(129, 'n') + "\"}", std::string("{\"sparse\": 1}"),
                                 std::string("{\"expected_interval_s\": -1}"),
                                 std::string("{\"expected_interval_s\": 604801}"),
                                 std::string("{\"expected_interval_s\": 1e400}"), std::string("{\"name\": \"\xFF\"}")}) {
    EXPECT_TRUE(DeviceUpdateOf(body).status().IsInvalidArgument()) << body;
  }
}

TEST(WebhookSpecOf, UrlSecretAndFilters) {
  auto w = WebhookSpecOf(R"({"url": "https://example.com/h", "secret": "s", "types": ["person_recognized"],
                            "cameras": null})");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w.value().url, "https://example.com/h");
  EXPECT_EQ(w.value().secret, "s");
  EXPECT_EQ(w.value().types, std::vector<std::string>{"person_recognized"});
  EXPECT_TRUE(w.value().cameras.empty());
  for (const char* body : {"{}", R"({"url": 1})", R"({"url": "u", "secret": 2})", R"({"url": "u", "types": "a"})",
                           R"({"url": "u", "persons": [1]})"}) {
    EXPECT_TRUE(WebhookSpecOf(body).status().IsInvalidArgument()) << body;
  }
}

TEST(FeedbackOf, ABoolean) {
  EXPECT_EQ(FeedbackOf(R"({"correct": false})").value(), false);
  EXPECT_EQ(FeedbackOf(R"({"correct": true})").value(), true);
  for (const char* body : {"", "{}", R"({"correct": 0})", "[true]"}) {
    EXPECT_TRUE(FeedbackOf(body).status().IsInvalidArgument()) << body;
  }
}

TEST(ExportSpecOf, RangeAndFormat) {
  auto spec = ExportSpecOf(R"({"from": 1000, "to": 11000, "format": "zip"})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec.value().from_ms, 1000);
  EXPECT_EQ(spec.value().to_ms, 11000);
  EXPECT_EQ(spec.value().format, exports::Format::kZip);
  auto mp4 = ExportSpecOf(R"({"from": 0, "to": 1})");
  ASSERT_TRUE(mp4.ok());
  EXPECT_EQ(mp4.value().format, exports::Format::kMp4);
}

TEST(ExportSpecOf, RefusesWhatItCannotExport) {
  for (const std::string body : {"[]", "{}", R"({"from": 5})", R"({"from": 5, "to": 5})", R"({"from": 6, "to": 5})",
                                 R"({"from": -1, "to": 5})", R"({"from": 1.5, "to": 5})", R"({"from": "1", "to": 5})",
                                 R"({"from": 1, "to": 5, "format": "avi"})", R"({"from": 1, "to": 5, "format": 1})",
                                 R"({"from": 1, "to": 1e400})", "not json"}) {
    EXPECT_TRUE(ExportSpecOf(body).status().IsInvalidArgument()) << body;
  }
}

}  // namespace
}  // namespace iotstream::api
