// The firmware's hand-written HTTP: the server URL, the upload head, and the answer parser fed the way a socket
// delivers bytes (split anywhere).
#include "uploader/http.h"

#include <gtest/gtest.h>

#include <string>

namespace iotstream::firmware {
namespace {

ResponseParser::State FeedAll(ResponseParser& p, const std::string& bytes, size_t chunk) {
  ResponseParser::State s = p.state();
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    const std::string part = bytes.substr(at, chunk);
    s = p.Feed(reinterpret_cast<const uint8_t*>(part.data()), part.size());
  }
  return s;
}

TEST(FirmwareHttpTest, ParsesServerUrls) {
  ServerUrl url;
  ASSERT_TRUE(ParseServerUrl("http://192.168.1.10:9003", &url));
  EXPECT_EQ(url.host, "192.168.1.10");
  EXPECT_EQ(url.port, 9003);
  EXPECT_EQ(url.path, "");
  ASSERT_TRUE(ParseServerUrl("http://cams.local/api", &url));
  EXPECT_EQ(url.host, "cams.local");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.path, "/api");
  EXPECT_FALSE(ParseServerUrl("https://x:9003", &url));
  EXPECT_FALSE(ParseServerUrl("http://:9003", &url));
  EXPECT_FALSE(ParseServerUrl("http://x:99999", &url));
  EXPECT_EQ(url.host, "cams.local");  // untouched by the failures
}

TEST(FirmwareHttpTest, BuildsTheUploadHead) {
  UploadHead h;
  h.path = "/api/v1/stream/fast";
  h.host = "10.0.0.2";
  h.port = 9003;
  h.device_id = "esp32cam-a0b1c2d3e4f5";
  h.content_length = 40211;
  h.has_timestamp = true;
  h.timestamp_ms = 1700000000123;
  EXPECT_EQ(BuildUploadHead(h),
            "POST /api/v1/stream/fast HTTP/1.1\r\nHost: 10.0.0.2:9003\r\nContent-Type: image/jpeg\r\n"
            "Content-Length: 40211\r\nX-Device-ID: esp32cam-a0b1c2d3e4f5\r\nX-Frame-Timestamp: 1700000000123\r\n"
            "Connection: keep-alive\r\n\r\n");
  h.has_timestamp = false;
  h.api_key = "k1";
  const std::string head = BuildUploadHead(h);
  EXPECT_EQ(head.find("X-Frame-Timestamp"), std::string::npos);
  EXPECT_NE(head.find("\r\nX-API-Key: k1\r\n"), std::string::npos);
}

TEST(FirmwareHttpTest, ParsesAnAnswerSplitAnywhere) {
  const std::string answer =
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nCONTENT-LENGTH: 17\r\n\r\n{\"success\":true}\n";
  for (size_t chunk : {1u, 2u, 3u, 5u, 64u}) {
    ResponseParser p;
    ASSERT_EQ(FeedAll(p, answer, chunk), ResponseParser::State::kComplete) << chunk;
    EXPECT_EQ(p.status(), 200);
    EXPECT_TRUE(p.keep_alive());
    EXPECT_EQ(p.retry_after_s(), -1);
    EXPECT_EQ(p.body(), "{\"success\":true}\n");
  }
}

TEST(FirmwareHttpTest, ReadsConnectionCloseAndRetryAfter) {
  ResponseParser p;
  FeedAll(p, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
          7);
  ASSERT_EQ(p.state(), ResponseParser::State::kComplete);
  EXPECT_EQ(p.status(), 503);
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.retry_after_s(), 1);

  p.Reset();
  FeedAll(p, "HTTP/1.1 503 X\r\nRetry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n", 100);
  EXPECT_EQ(p.retry_after_s(), -1);  // a date is not a number of seconds
}

TEST(FirmwareHttpTest, ABodyWithoutLengthEndsWithTheConnection) {
  ResponseParser p;
  EXPECT_EQ(FeedAll(p, "HTTP/1.0 200 OK\r\n\r\nhello", 4), ResponseParser::State::kIncomplete);
  EXPECT_EQ(p.FeedEof(), ResponseParser::State::kComplete);
  EXPECT_EQ(p.body(), "hello");
  EXPECT_FALSE(p.keep_alive());
}

TEST(FirmwareHttpTest, KeepsAtMostMaxBodyBytes) {
  ResponseParser p(4);
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 3), ResponseParser::State::kComplete);
  EXPECT_EQ(p.body(), "0123");
  EXPECT_TRUE(p.body_truncated());
}

TEST(FirmwareHttpTest, RefusesWhatIsNotAnAnswer) {
  ResponseParser p;
  EXPECT_EQ(FeedAll(p, "SSH-2.0-OpenSSH\r\n\r\n", 100), ResponseParser::State::kError);
  p.Reset();
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 100),
            ResponseParser::State::kError);
  p.Reset();
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 100), ResponseParser::State::kIncomplete);
  EXPECT_EQ(p.FeedEof(), ResponseParser::State::kError);
  p.Reset();
  EXPECT_EQ(p.FeedEof(), ResponseParser::State::kError);
  EXPECT_STREQ(p.error(), "connection closed before an answer");
}

}  // namespace
}  // namespace iotstream::firmware
