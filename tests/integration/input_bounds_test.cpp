// Issue #16, hostile input against the real binary: multipart bodies over the configured bounds are refused with
// 413 and counted; ids with path traversal, NUL bytes or bytes that are not UTF-8 never reach the filesystem and
// never take the server down (an error quoting them must still be valid JSON).
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "support/server_test.h"

namespace iotstream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::HttpClient;
using testing::HttpResult;
using testing::MultipartBody;

// `n` small text parts, then the image part.
std::string ManyParts(size_t n, const std::string& jpeg) {
  std::string body;
  for (size_t i = 0; i < n; ++i) {
    body += "--m\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) + "\"\r\n\r\nx\r\n";
  }
  return body + "--m\r\nContent-Disposition: form-data; name=\"image\"\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg +
         "\r\n--m--\r\n";
}

// The image part after `lines` header lines of 100 bytes each.
std::string LongPartHeader(size_t lines, const std::string& jpeg) {
  std::string body = "--m\r\nContent-Disposition: form-data; name=\"image\"\r\n";
  for (size_t i = 0; i < lines; ++i) body += "X-Pad: " + std::string(91, 'p') + "\r\n";
  return body + "\r\n" + jpeg + "\r\n--m--\r\n";
}

// The value of an unlabelled Prometheus sample in /metrics, or -1 when absent.
double Metric(HttpClient& c, const std::string& name) {
  const std::string text = c.Get("/metrics").body;
  const size_t at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

// The answer is an error object whose text is valid JSON.
void ExpectJsonError(const HttpResult& r, int status, const std::string& what) {
  EXPECT_EQ(r.status, status) << what << ": " << r.body;
  const json j = json::parse(r.body, nullptr, false);
  EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << what << ": " << r.body;
}

const std::vector<std::pair<std::string, std::string>> kMultipart{{"Content-Type", "multipart/form-data; boundary=m"}};

class InputBoundsTest : public testing::ServerTest {};

TEST_F(InputBoundsTest, TenThousandPartsAndLongPartHeadersAre413AndCounted) {
  auto server = Start({"--recognition=false", "--max-part-header-bytes", "4096"});
  ASSERT_NE(server.port(), 0);
  HttpClient c(server.port());
  EXPECT_NE(c.Get("/metrics").body.find("# HELP ingest_multipart_over_limit_total "), std::string::npos);
  EXPECT_EQ(Metric(c, "ingest_multipart_over_limit_total"), 0);

  const auto parts = c.Request("POST", "/api/v1/stream/fast", ManyParts(10'000, obama_), kMultipart);
  ExpectJsonError(parts, 413, "10,000 parts");
  EXPECT_NE(parts.body.find("more than 64 parts"), std::string::npos) << parts.body;
  const auto header = c.Request("POST", "/api/v1/stream/fast", LongPartHeader(41, obama_), kMultipart);
  ExpectJsonError(header, 413, "a 4.1 KB part header");
  EXPECT_NE(header.body.find("longer than 4096 bytes"), std::string::npos) << header.body;
  EXPECT_EQ(Metric(c, "ingest_multipart_over_limit_total"), 2);

  // Within the bounds the same shapes are frames; the server took no harm.
  EXPECT_EQ(c.Request("POST", "/api/v1/stream/fast", ManyParts(63, obama_), kMultipart).status, 200);
  EXPECT_EQ(c.Request("POST", "/api/v1/stream/fast", LongPartHeader(39, obama_), kMultipart).status, 200);
  EXPECT_EQ(Metric(c, "ingest_multipart_over_limit_total"), 2);
}

TEST_F(InputBoundsTest, TheLimitsAreConfiguredAndRefuseBadValues) {
  {
    auto server = Start({"--recognition=false", "--max-multipart-parts", "20000"});
    ASSERT_NE(server.port(), 0);
    HttpClient c(server.port());
    EXPECT_EQ(c.Request("POST", "/api/v1/stream/fast", ManyParts(10'000, obama_), kMultipart).status, 200);
  }
  // A zero bound, a detector image doubled more than three times, a port beyond 65535 (both found by fuzz/config)
  // a malformed motion setting, or a cluster's database URL, node id or advertise URL that cannot be one is a
  // configuration error: exit status 2 and a message naming the flag.
  for (const std::string flag : {"--max-multipart-parts 0", "--max-part-header-bytes 0", "--hog-upsample 4",
                                 "--port 9003400000", "--recognition-port 65536", "--recognition-scheduler fifo",
                                 "--motion-sensitivity 2", "--motion-camera porch", "--motion-camera porch=1.5",
                                 "--motion-mask porch=0,0,0.5", "--motion-mask porch=0,0,0,0.5",
                                 "--database mysql://db/iotstream", "--database postgresql://db/x?no_such_option=1",
                                 "--node-id ''", "--node-id 'node 1'", "--advertise-url ftp://node1:9003",
                                 "--advertise-url http://node1:9003/api", "--advertise-url http://node1:0"}) {
    const std::string command = std::string(std::getenv("IOTSTREAM_BIN")) + " " + flag + " 2>&1";
    FILE* out = popen(command.c_str(), "r");
    ASSERT_NE(out, nullptr);
    std::string said;
    char buf[256];
    while (size_t n = fread(buf, 1, sizeof buf, out)) said.append(buf, n);
    const int status = pclose(out);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << flag << ": " << status;
    EXPECT_NE(said.find(flag.substr(0, flag.find(' '))), std::string::npos) << said;
  }
}

TEST_F(InputBoundsTest, TheRecognitionApiSharesTheBounds) {
  auto server = Start({"--max-multipart-parts", "8"});
  ASSERT_NE(server.port(), 0);
  HttpClient c(server.port());
  const auto refused = c.Request("POST", "/api/v1/recognize", ManyParts(8, obama_), kMultipart);
  ExpectJsonError(refused, 413, "9 parts to /recognize");
  HttpClient r(server.recognition_port());
  ExpectJsonError(r.Request("POST", "/api/v1/recognition/add-permitted-face", ManyParts(8, obama_), kMultipart), 413,
                  "9 parts to add-permitted-face");
  EXPECT_EQ(Metric(c, "recognition_multipart_over_limit_total"), 2);
  EXPECT_EQ(c.Request("POST", "/api/v1/recognize", ManyParts(7, obama_), kMultipart).status, 200);
}

TEST_F(InputBoundsTest, DeviceIdsThatLeaveTheDataFolderOrHoldNulBytesAreRefused) {
  auto server = Start({"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  HttpClient c(server.port());
  const std::vector<std::pair<std::string, std::string>> jpeg{{"Content-Type", "image/jpeg"}};
  for (const std::string id : {"../../escape", "..", "a/b", "/abs", "..\\x", "cam\xFF", "cam\x7F"}) {
    ExpectJsonError(c.Request("POST", "/api/v1/stream/fast", obama_, {{"X-Device-ID", id}}), 400, "header " + id);
  }
  for (const std::string q : {"..%2F..%2Fescape", "%2E%2E", "cam%00x", "%00", "a%2Fb", "cam%FF", "cam%0Ax"}) {
    ExpectJsonError(c.Request("POST", "/api/v1/stream/fast?device_id=" + q, obama_, jpeg), 400, "query " + q);
    ExpectJsonError(c.Request("POST", "/api/v1/stream/stream?device_id=" + q, obama_, jpeg), 400, "stream " + q);
  }
  for (const std::string& id : {std::string("../x"), std::string("cam\0x", 5), std::string("\xC0\xAE\xC0\xAE")}) {
    ExpectJsonError(c.Request("POST", "/api/v1/stream/fast",
                              MultipartBody("m", {{"device_id", id, "", ""}, {"image", obama_, "f.jpg", "image/jpeg"}}),
                              kMultipart),
                    400, "form field");
  }
  // The routes that name a device: 404, in valid JSON, whatever the id's bytes.
  for (const std::string id : {"..", "%2E%2E", "..%2F..%2Fescape", "%00", "%FF", "%C0%AE", "a%2Fb"}) {
    for (const std::string& target : {"/api/v1/devices/" + id, "/api/v1/devices/" + id + "/frames",
                                      "/api/v1/devices/" + id + "/snapshot.jpg"}) {
      ExpectJsonError(c.Get(target), 404, target);
    }
    ExpectJsonError(c.Request("DELETE", "/api/v1/devices/" + id), 404, "DELETE " + id);
    ExpectJsonError(c.Request("PATCH", "/api/v1/devices/" + id, R"({"name":"x"})"), 404, "PATCH " + id);
    ExpectJsonError(c.Get("/api/v1/devices/" + id + "/mjpeg"), 404, "mjpeg " + id);
  }
  ExpectJsonError(c.Get("/no/such/\xFF\xFE"), 404, "a path that is not UTF-8");

  // Nothing was stored, and nothing was created beside the data folder's own entries.
  EXPECT_EQ(json::parse(c.Get("/api/v1/devices").body)["total"], 0);
  EXPECT_FALSE(fs::exists(dir_.path() / "escape"));
  EXPECT_FALSE(fs::exists(data() / "escape"));
  EXPECT_TRUE(!fs::exists(data() / "frames") || fs::is_empty(data() / "frames"));
  // And it still takes frames.
  EXPECT_EQ(c.PostJpeg("/api/v1/stream/fast", obama_, "after").status, 200);
}

TEST_F(InputBoundsTest, PersonNamesMustBePrintableUtf8) {
  auto server = Start();
  ASSERT_NE(server.port(), 0);
  HttpClient c(server.recognition_port());
  auto enrol = [&](const std::string& name) {
    return c.Request("POST", "/api/v1/recognition/add-permitted-face",
                     MultipartBody("m", {{"name", name, "", ""}, {"image", obama_, "p.jpg", "image/jpeg"}}), kMultipart);
  };
  for (const std::string& name : {std::string("\xFF\xFE"), std::string("Ada\0Lovelace", 12), std::string("a\nb"),
                                 std::string("\xC0\xAE\xC0\xAE")}) {
    ExpectJsonError(enrol(name), 400, "name");
  }
  ExpectJsonError(c.Request("POST", "/api/v1/recognition/add-permitted-face?name=%FF", obama_,
                            {{"Content-Type", "image/jpeg"}}),
                  400, "?name=%FF");
  // A name is a name, not a path: stored and listed as given.
  const auto ok = enrol("../../Zoë");
  ASSERT_EQ(ok.status, 200) << ok.body;
  const json people = json::parse(c.Get("/api/v1/recognition/permitted-faces").body, nullptr, false);
  ASSERT_EQ(people["total"], 1) << people.dump();
  EXPECT_EQ(people["people"][0]["name"], "../../Zoë");
  EXPECT_FALSE(fs::exists(dir_.path() / "Zoë"));
}

}  // namespace
}  // namespace iotstream
