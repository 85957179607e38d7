// The real iotstream binary on a free port, driven over real HTTP with photos from the shared face set.
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>

#include <filesystem>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/server_test.h"

namespace iotstream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::FaceJpeg;
using testing::HttpClient;
using testing::MultipartBody;

class IngestApiTest : public testing::ServerTest {
 protected:
  size_t FrameFiles() const {
    size_t n = 0;
    if (!fs::exists(data() / "frames")) return 0;
    for (auto& e : fs::recursive_directory_iterator(data() / "frames")) n += e.is_regular_file() ? 1 : 0;
    return n;
  }
  static json Json(const testing::HttpResult& r) { return json::parse(r.body, nullptr, false); }
  static json Perf(HttpClient& c) { return Json(c.Get("/api/v1/system/performance")); }
};

TEST_F(IngestApiTest, RawAndMultipartFramesAreStoredAndListed) {
  auto server = Start();
  HttpClient c(server.port());

  auto raw = c.PostJpeg("/api/v1/stream/fast", obama_, "cam-raw");
  ASSERT_EQ(raw.status, 200) << raw.body;
  json r = Json(raw);
  EXPECT_EQ(r["success"], true);
  EXPECT_EQ(r["device_id"], "cam-raw");
  EXPECT_EQ(r["width"], 853);
  EXPECT_EQ(r["height"], 480);
  EXPECT_EQ(r["size"], obama_.size());
  EXPECT_GT(r["timestamp"].get<int64_t>(), 0);
  const uint64_t raw_id = r["frame_id"];

  // multipart, device id from the form field; octet-stream raw with the id in the query.
  auto mp = c.Request("POST", "/api/v1/stream/fast",
                      MultipartBody("----esp32", {{"device_id", "cam-form", "", ""},
                                                  {"image", biden_, "frame.jpg", "image/jpeg"}}),
                      {{"Content-Type", "multipart/form-data; boundary=----esp32"}});
  ASSERT_EQ(mp.status, 200) << mp.body;
  EXPECT_EQ(Json(mp)["device_id"], "cam-form");
  auto oct = c.Request("POST", "/api/v1/stream/fast?device_id=cam-query", obama_,
                       {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(oct.status, 200) << oct.body;
  EXPECT_EQ(Json(oct)["device_id"], "cam-query");

  // The fast path does not wait for the disk: wait for the storage thread.
  ASSERT_TRUE(testing::WaitFor([&] { return Perf(c)["frames"]["stored"] == 3; }));
  auto frames = Json(c.Get("/api/v1/devices/cam-raw/frames"));
  ASSERT_EQ(frames["frames"].size(), 1u);
  EXPECT_EQ(frames["frames"][0]["frame_id"], raw_id);
  auto jpeg = c.Get("/api/v1/frames/" + std::to_string(raw_id));
  EXPECT_EQ(jpeg.status, 200);
  EXPECT_EQ(jpeg.headers["content-type"], "image/jpeg");
  EXPECT_EQ(jpeg.body, obama_);
  // The frame under its camera (the list's url), and under another camera not at all.
  EXPECT_EQ(frames["frames"][0]["url"], "/api/v1/devices/cam-raw/frames/" + std::to_string(raw_id));
  EXPECT_EQ(c.Get(frames["frames"][0]["url"].get<std::string>()).body, obama_);
  EXPECT_EQ(c.Get("/api/v1/devices/cam-form/frames/" + std::to_string(raw_id)).status, 404);

  auto devices = Json(c.Get("/api/v1/devices"));
  EXPECT_EQ(devices["total"], 3);
  EXPECT_EQ(devices["online"], 3);
  auto dev = Json(c.Get("/api/v1/devices/cam-form"));
  EXPECT_EQ(dev["frames_received"], 1);
  EXPECT_EQ(dev["bytes_received"], biden_.size());
  EXPECT_EQ(dev["online"], true);
  EXPECT_EQ(FrameFiles(), 3u);
}

TEST_F(IngestApiTest, DeviceIdFallsBackToThePeerAddress) {
  auto server = Start();
  HttpClient c(server.port());
  auto r = c.Request("POST", "/api/v1/stream/fast", obama_, {{"Content-Type", "image/jpeg"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Json(r)["device_id"], "127.0.0.1");
}

TEST_F(IngestApiTest, BadInputGetsStatusAndJsonErrorAndNothingIsStored) {
  auto server = Start({"--max-body-bytes", "200000"});
  HttpClient c(server.port());
  ASSERT_EQ(c.PostJpeg("/api/v1/stream/stream", obama_, "cam").status, 200);  // registers cam, stored

  struct Case {
    std::string what;
    testing::HttpResult result;
    int status;
  };
  std::vector<Case> cases;
  cases.push_back({"not a jpeg", c.PostJpeg("/api/v1/stream/fast", "hello, I am text", "cam"), 400});
  cases.push_back({"empty", c.PostJpeg("/api/v1/stream/fast", "", "cam"), 400});
  cases.push_back({"truncated", c.PostJpeg("/api/v1/stream/fast", obama_.substr(0, obama_.size() - 100), "cam"), 400});
  cases.push_back({"png", c.PostJpeg("/api/v1/stream/stream", FaceJpeg("ageitgey_face_recognition/examples/alex-lacamoire.png"), "cam"), 400});
  cases.push_back({"text, no image", c.Request("POST", "/api/v1/stream/fast", "hello", {{"Content-Type", "text/plain"}, {"X-Device-ID", "cam"}}), 415});
  cases.push_back({"bad device id", c.PostJpeg("/api/v1/stream/fast", obama_, "../../etc"), 400});
  cases.push_back({"multipart without image",
                   c.Request("POST", "/api/v1/stream/fast", MultipartBody("b", {{"photo", "not an image", "a.jpg", ""}}),
                             {{"Content-Type", "multipart/form-data; boundary=b"}, {"X-Device-ID", "cam"}}),
                   400});
  cases.push_back({"multipart without boundary",
                   c.Request("POST", "/api/v1/stream/fast", "x", {{"Content-Type", "multipart/form-data"}, {"X-Device-ID", "cam"}}), 400});
  cases.push_back({"too large", c.PostJpeg("/api/v1/stream/fast", std::string(300000, 'x'), "cam"), 413});
  for (const auto& k : cases) {
    EXPECT_EQ(k.result.status, k.status) << k.what << ": " << k.result.body;
    json body = Json(k.result);
    EXPECT_TRUE(body.is_object() && body["error"].is_string()) << k.what << ": " << k.result.body;
  }
  HttpClient fresh(server.port());
  auto perf = Perf(fresh);
  EXPECT_EQ(perf["frames"]["stored"], 1);
  EXPECT_EQ(perf["frames"]["accepted"], 1);
  // Every case but "too large" (refused by the HTTP layer) reaches ingest; all but the bad id count against cam.
  EXPECT_EQ(perf["frames"]["rejected"], 8);
  auto dev = Json(fresh.Get("/api/v1/devices/cam"));
  EXPECT_EQ(dev["frames_received"], 1);
  EXPECT_EQ(dev["frames_rejected"], 7);
  EXPECT_LT(dev["success_rate"].get<double>(), 0.2);
  EXPECT_EQ(Json(fresh.Get("/api/v1/devices"))["total"], 1);
  EXPECT_EQ(FrameFiles(), 1u);
  EXPECT_EQ(fresh.Get("/api/v1/devices/nope").status, 404);
  EXPECT_EQ(fresh.Get("/api/v1/frames/abc").status, 400);
  EXPECT_EQ(fresh.Get("/api/v1/frames/999999").status, 404);
  EXPECT_EQ(fresh.Get("/api/v1/devices/cam/frames?limit=-3").status, 400);
  EXPECT_EQ(fresh.Request("PATCH", "/api/v1/devices/cam", "{not json").status, 400);
  EXPECT_EQ(fresh.Request("PATCH", "/api/v1/devices/cam", "{\"name\": 5}").status, 400);
  EXPECT_EQ(fresh.Get("/api/v1/stream/fast").status, 405);
}

TEST_F(IngestApiTest, StreamPathAnswersAfterTheFrameIsDurable) {
  auto server = Start();
  HttpClient c(server.port());
  auto r = c.PostJpeg("/api/v1/stream/stream", obama_, "cam");
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t id = Json(r)["frame_id"];
  // Acknowledged means on disk and indexed: even kill -9 right now keeps it.
  EXPECT_EQ(server.Stop(SIGKILL), 128 + SIGKILL);
  auto again = Start();
  HttpClient c2(again.port());
  auto jpeg = c2.Get("/api/v1/frames/" + std::to_string(id));
  EXPECT_EQ(jpeg.status, 200);
  EXPECT_EQ(jpeg.body, obama_);
}

TEST_F(IngestApiTest, StreamPathGets503WhenTheStorageQueueIsFull) {
  auto server = Start({"--store-queue-bytes", "1000"});  // smaller than any frame
  HttpClient c(server.port());
  auto stream = c.PostJpeg("/api/v1/stream/stream", obama_, "cam");
  EXPECT_EQ(stream.status, 503);
  EXPECT_EQ(stream.headers["retry-after"], "1");
  auto fast = c.PostJpeg("/api/v1/stream/fast", obama_, "cam");
  EXPECT_EQ(fast.status, 200);  // the camera is never made to wait
  auto perf = Perf(c);
  EXPECT_EQ(perf["frames"]["dropped"], 2);
  EXPECT_EQ(perf["frames"]["stored"], 0);
}

TEST_F(IngestApiTest, RestartKeepsDevicesFramesAndNames) {
  uint64_t last_id = 0;
  {
    auto server = Start();
    HttpClient c(server.port());
    for (int i = 0; i < 3; ++i) last_id = Json(c.PostJpeg("/api/v1/stream/stream", obama_, "porch"))["frame_id"];
    ASSERT_EQ(c.PostJpeg("/api/v1/stream/stream", biden_, "garage").status, 200);
    auto patched = c.Request("PATCH", "/api/v1/devices/porch", R"({"name":"Porch","location":"front"})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(Json(patched)["name"], "Porch");
    auto sparse = c.Request("PATCH", "/api/v1/devices/garage", R"({"sparse":true,"expected_interval_s":300})");
    ASSERT_EQ(sparse.status, 200) << sparse.body;
    EXPECT_EQ(Json(sparse)["sparse"], true);
    EXPECT_EQ(Json(sparse)["expected_interval_s"], 300.0);
    for (const char* bad : {R"({"sparse":"yes"})", R"({"expected_interval_s":-1})", R"({"expected_interval_s":1e9})"}) {
      auto refused = c.Request("PATCH", "/api/v1/devices/garage", bad);
      EXPECT_EQ(refused.status, 400) << bad << ": " << refused.body;
      EXPECT_TRUE(Json(refused)["error"].is_string()) << bad;
    }
    EXPECT_EQ(server.Stop(SIGTERM), 0) << server.Log();
  }
  auto server = Start();
  HttpClient c(server.port());
  auto porch = Json(c.Get("/api/v1/devices/porch"));
  EXPECT_EQ(porch["name"], "Porch");
  EXPECT_EQ(porch["location"], "front");
  EXPECT_EQ(porch["frames_received"], 3);
  EXPECT_EQ(porch["sparse"], false);
  auto garage = Json(c.Get("/api/v1/devices/garage"));
  EXPECT_EQ(garage["sparse_marked"], true);
  EXPECT_EQ(garage["expected_interval_s"], 300.0);
  EXPECT_EQ(Json(c.Get("/api/v1/devices"))["total"], 2);
  EXPECT_EQ(Json(c.Get("/api/v1/devices/porch/frames"))["frames"].size(), 3u);
  auto next = Json(c.PostJpeg("/api/v1/stream/fast", obama_, "porch"));
  EXPECT_GT(next["frame_id"].get<uint64_t>(), last_id + 1);  // ids continue, never reused
}

TEST_F(IngestApiTest, DeleteForgetsTheDeviceAndItsFrames) {
  auto server = Start();
  HttpClient c(server.port());
  ASSERT_EQ(c.PostJpeg("/api/v1/stream/stream", obama_, "old").status, 200);
  ASSERT_EQ(c.PostJpeg("/api/v1/stream/stream", obama_, "new").status, 200);
  auto del = c.Request("DELETE", "/api/v1/devices/old");
  EXPECT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(c.Get("/api/v1/devices/old").status, 404);
  EXPECT_EQ(c.Request("DELETE", "/api/v1/devices/old").status, 404);
  EXPECT_EQ(FrameFiles(), 1u);
  EXPECT_FALSE(fs::exists(data() / "frames" / "old"));
}

TEST_F(IngestApiTest, EnvironmentConfiguresAndFlagsWin) {
  setenv("IOTSTREAM_MAX_BODY_BYTES", "1000", 1);
  setenv("IOTSTREAM_MAX_HEADER_BYTES", "2048", 1);
  {
    auto server = Start({"--max-body-bytes", "400000"});
    HttpClient c(server.port());
    // The flag wins over IOTSTREAM_MAX_BODY_BYTES; IOTSTREAM_MAX_HEADER_BYTES applies.
    EXPECT_EQ(c.PostJpeg("/api/v1/stream/fast", obama_, "cam").status, 200);
    EXPECT_EQ(c.Request("POST", "/api/v1/stream/fast", obama_,
                        {{"Content-Type", "image/jpeg"}, {"X-Pad", std::string(3000, 'p')}})
                  .status,
              431);
  }
  unsetenv("IOTSTREAM_MAX_BODY_BYTES");
  unsetenv("IOTSTREAM_MAX_HEADER_BYTES");
  const std::string cmd = std::string(std::getenv("IOTSTREAM_BIN")) + " --help > " + (dir_.path() / "help.txt").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string text = testing::ReadFile(dir_.path() / "help.txt");
  for (const char* flag : {"--port", "--data-dir", "--max-body-bytes", "--retention-bytes", "--recognition-port",
                           "IOTSTREAM_"}) {
    EXPECT_NE(text.find(flag), std::string::npos) << flag;
  }
  const std::string bad = std::string(std::getenv("IOTSTREAM_BIN")) + " --no-such-flag 2> /dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
}

TEST_F(IngestApiTest, HealthAndPerformance) {
  auto server = Start();
  HttpClient c(server.port());
  auto health = Json(c.Get("/health"));
  EXPECT_EQ(health["status"], "ok");
  EXPECT_TRUE(health["version"].is_string());
  ASSERT_EQ(c.PostJpeg("/api/v1/stream/fast", obama_, "cam").status, 200);
  auto perf = Perf(c);
  EXPECT_GT(perf["process"]["rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(perf["devices"]["total"], 1);
  EXPECT_EQ(perf["latency_ms"]["fast_count"], 1);
  EXPECT_GT(perf["latency_ms"]["fast_p99"].get<double>(), 0);
  EXPECT_GE(perf["connections"]["open"].get<int>(), 1);
  EXPECT_EQ(perf["storage"]["budget_bytes"], 512ull << 20);  // --retention-bytes' default
  EXPECT_TRUE(perf["recognition"]["jobs_completed"].is_number()) << perf.dump();
  auto metrics = c.Get("/metrics");
  EXPECT_NE(metrics.body.find("ingest_frames_accepted_total 1"), std::string::npos);
}

}  // namespace
}  // namespace iotstream
