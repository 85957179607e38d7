// The footage API on the real binary: the timeline's frames per minute, frames listed oldest first, and exports as
// jobs (their bounds and errors as JSON, their progress, the MP4 and ZIP they make).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "support/server_test.h"

namespace iotstream {
namespace {

using nlohmann::json;
using testing::HttpClient;
using testing::HttpResult;

class FootageApiTest : public testing::ServerTest {
 protected:
  static json Json(const HttpResult& r) { return json::parse(r.body, nullptr, false); }

  // Posts `n` frames of `device` on the stream path (answered once stored), `step_ms` apart from `t0` (the cameras'
  // X-Frame-Timestamp), and returns their ids.
  std::vector<uint64_t> PostFrames(HttpClient& c, const std::string& device, int64_t t0, int n, int64_t step_ms) {
    std::vector<uint64_t> ids;
    for (int i = 0; i < n; ++i) {
      auto r = c.Request("POST", "/api/v1/stream/fast", obama_,
                         {{"Content-Type", "image/jpeg"}, {"X-Device-ID", device},
                          {"X-Frame-Timestamp", std::to_string(t0 + i * step_ms)}});
      EXPECT_EQ(r.status, 200) << r.body;
      ids.push_back(Json(r)["frame_id"].get<uint64_t>());
    }
    // /fast answers before the store commits: wait until every frame is listed.
    EXPECT_TRUE(testing::WaitFor([&] {
      auto list = Json(c.Get("/api/v1/devices/" + device + "/frames?limit=1000"));
      return list.is_object() && list["count"] == static_cast<size_t>(n);
    }));
    return ids;
  }

  // Polls the job until it is done or failed.
  json WaitForJob(HttpClient& c, const std::string& url) {
    json job;
    EXPECT_TRUE(testing::WaitFor([&] {
      job = Json(c.Get(url));
      return job.is_object() && (job["state"] == "done" || job["state"] == "failed");
    }, std::chrono::seconds(60)));
    return job;
  }

  // A minute boundary an hour ago: frames there are within the camera clock skew the server accepts.
  static int64_t HourAgo() {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    return (now - 3'600'000) / 60'000 * 60'000;
  }
};

TEST_F(FootageApiTest, TheTimelineCountsFramesPerMinute) {
  auto server = Start({"--recognition=false", "--recognition-api=false"});
  HttpClient c(server.port());
  const int64_t t0 = HourAgo();
  PostFrames(c, "cam", t0, 6, 10'000);             // 6 frames over the first minute
  PostFrames(c, "other", t0, 1, 0);
  // Two more in the third minute (the count waits for all 8).
  for (int64_t ts : {t0 + 120'000, t0 + 150'000}) {
    ASSERT_EQ(c.Request("POST", "/api/v1/stream/stream", obama_,
                        {{"Content-Type", "image/jpeg"}, {"X-Device-ID", "cam"},
                         {"X-Frame-Timestamp", std::to_string(ts)}})
                  .status,
              200);
  }
  auto r = c.Get("/api/v1/footage/cam/timeline");
  ASSERT_EQ(r.status, 200) << r.body;
  json t = Json(r);
  EXPECT_EQ(t["bucket_ms"], 60'000);
  EXPECT_TRUE(t["to"].is_null());
  EXPECT_EQ(t["frames"], 8);
  ASSERT_EQ(t["buckets"].size(), 2u) << r.body;
  EXPECT_EQ(t["buckets"][0]["start"], t0);
  EXPECT_EQ(t["buckets"][0]["frames"], 6);
  EXPECT_EQ(t["buckets"][1]["start"], t0 + 120'000);
  EXPECT_EQ(t["buckets"][1]["frames"], 2);
  EXPECT_EQ(t["first"]["timestamp"], t0);
  EXPECT_EQ(t["last"]["timestamp"], t0 + 150'000);
  EXPECT_EQ(t["export"]["max_seconds"], 600);

  // Narrower, with 10 s buckets.
  json narrow = Json(c.Get("/api/v1/footage/cam/timeline?from=" + std::to_string(t0 + 10'000) +
                           "&to=" + std::to_string(t0 + 30'000) + "&bucket_s=10"));
  ASSERT_EQ(narrow["buckets"].size(), 3u) << narrow.dump();
  EXPECT_EQ(narrow["frames"], 3);

  // Oldest first, for playing forward.
  json asc = Json(c.Get("/api/v1/devices/cam/frames?order=asc&limit=2&from=" + std::to_string(t0 + 1)));
  ASSERT_EQ(asc["count"], 2);
  EXPECT_EQ(asc["frames"][0]["timestamp"], t0 + 10'000);
  EXPECT_EQ(asc["frames"][1]["timestamp"], t0 + 20'000);

  for (const std::string bad : {"/api/v1/footage/cam/timeline?bucket_s=0", "/api/v1/footage/cam/timeline?from=x",
                                "/api/v1/footage/cam/timeline?from=5&to=4", "/api/v1/devices/cam/frames?order=up"}) {
    auto e = c.Get(bad);
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_TRUE(Json(e).contains("error")) << bad << ": " << e.body;
  }
  EXPECT_EQ(c.Get("/api/v1/footage/nobody/timeline").status, 404);
}

TEST_F(FootageApiTest, ExportsARangeAsMp4AndZipThroughJobs) {
  auto server = Start({"--recognition=false", "--recognition-api=false", "--max-export-seconds", "60"});
  HttpClient c(server.port());
  const int64_t t0 = HourAgo();
  const auto ids = PostFrames(c, "cam", t0, 30, 500);  // 15 s of frames
  const json range{{"from", t0 + 2'000}, {"to", t0 + 12'000}};  // frames 4..23: 20 of them

  json mp4_body = range;
  mp4_body["format"] = "mp4";
  auto started =
      c.Request("POST", "/api/v1/footage/cam/exports", mp4_body.dump(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(started.status, 202) << started.body;
  json job = Json(started);
  EXPECT_EQ(job["frames_total"], 20);
  EXPECT_EQ(job["format"], "mp4");
  EXPECT_EQ(started.headers["location"], job["url"]);
  job = WaitForJob(c, job["url"]);
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["progress"], 1.0);
  EXPECT_EQ(job["frames_done"], 20);
  auto file = c.Get(job["file_url"]);
  ASSERT_EQ(file.status, 200);
  EXPECT_EQ(file.headers["content-type"], "video/mp4");
  EXPECT_NE(file.headers["content-disposition"].find("attachment; filename=\"cam-"), std::string::npos);
  EXPECT_EQ(file.body.size(), job["bytes"].get<size_t>());
  EXPECT_NE(file.body.find("ftyp"), std::string::npos);

  json zip_body = range;
  zip_body["format"] = "zip";
  auto zip_started = c.Request("POST", "/api/v1/footage/cam/exports", zip_body.dump());
  ASSERT_EQ(zip_started.status, 202) << zip_started.body;
  json zip_job = WaitForJob(c, Json(zip_started)["url"]);
  ASSERT_EQ(zip_job["state"], "done") << zip_job.dump();
  auto zip = c.Get(zip_job["file_url"]);
  ASSERT_EQ(zip.status, 200);
  EXPECT_EQ(zip.headers["content-type"], "application/zip");
  EXPECT_EQ(zip.body.substr(0, 4), std::string("PK\x03\x04", 4));
  // Each frame's JPEG is in it, stored: its bytes appear whole.
  EXPECT_NE(zip.body.find(obama_), std::string::npos);
  EXPECT_NE(zip.body.find("cam_" + std::to_string(t0 + 2'000) + "_" + std::to_string(ids[4]) + ".jpg"),
            std::string::npos);

  // A job of another camera's path, an unknown one, a bad id.
  const std::string job_path = "/exports/" + std::to_string(job["id"].get<uint64_t>());
  EXPECT_EQ(c.Get("/api/v1/footage/other" + job_path).status, 404);
  EXPECT_EQ(c.Get("/api/v1/footage/cam/exports/999999").status, 404);
  EXPECT_EQ(c.Get("/api/v1/footage/cam/exports/x").status, 400);
}

TEST_F(FootageApiTest, BadExportRequestsGetAStatusAndAJsonError) {
  auto server = Start({"--recognition=false", "--recognition-api=false", "--max-export-seconds", "60"});
  HttpClient c(server.port());
  const int64_t t0 = HourAgo();
  PostFrames(c, "cam", t0, 2, 1000);
  auto post = [&](const std::string& device, const std::string& body) {
    return c.Request("POST", "/api/v1/footage/" + device + "/exports", body, {{"Content-Type", "application/json"}});
  };
  const std::string from = std::to_string(t0);
  struct Case {
    std::string device, body;
    int status;
  };
  for (const Case& k : std::vector<Case>{
           {"cam", "not json", 400},
           {"cam", R"({"from": 5})", 400},
           {"cam", "{\"from\": " + from + ", \"to\": " + from + "}", 400},
           {"cam", "{\"from\": " + from + ", \"to\": " + std::to_string(t0 + 60'001) + "}", 400},  // over 60 s
           {"cam", "{\"from\": " + from + ", \"to\": " + std::to_string(t0 + 1'000) + ", \"format\": \"gif\"}", 400},
           {"nobody", "{\"from\": " + from + ", \"to\": " + std::to_string(t0 + 1'000) + "}", 404},
           {"cam", "{\"from\": " + std::to_string(t0 - 20'000) + ", \"to\": " + std::to_string(t0 - 10'000) + "}",
            404},  // no frames there
       }) {
    auto r = post(k.device, k.body);
    EXPECT_EQ(r.status, k.status) << k.body << ": " << r.body;
    EXPECT_TRUE(Json(r).contains("error")) << k.body << ": " << r.body;
  }
  const std::string metrics = c.Get("/metrics").body;
  // The range over 60 s and the range without frames, refused by the exporter.
  EXPECT_NE(metrics.find("export_refused_total{reason=\"invalid\"} 2"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace iotstream
