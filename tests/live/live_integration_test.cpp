// Live view against the real binary: WebSocket fan-out, subscriptions, slow viewers, MJPEG, snapshots.
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/server_test.h"

namespace iotstream {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::HttpClient;
using testing::WsClient;

class LiveTest : public testing::ServerTest {
 protected:
  // Posts and returns the frame id (0 on failure).
  static uint64_t Post(HttpClient& c, const std::string& jpeg, const std::string& device) {
    auto r = c.PostJpeg("/api/v1/stream/fast", jpeg, device);
    if (r.status != 200) return 0;
    return json::parse(r.body)["frame_id"].get<uint64_t>();
  }
};

TEST_F(LiveTest, EveryViewerGetsEveryFrameOfATenFpsCamera) {
  auto server = Start();
  HttpClient cam(server.port());
  std::vector<std::unique_ptr<WsClient>> viewers;
  for (int i = 0; i < 3; ++i) {
    viewers.push_back(std::make_unique<WsClient>(server.port(), "/ws"));
    ASSERT_TRUE(viewers.back()->connected());
    ASSERT_FALSE(testing::NextEvent(*viewers.back(), "hello").is_null());
  }
  constexpr int kFrames = 20;
  // Every viewer reads at once, as browsers do (a viewer that does not read skips frames by design).
  std::vector<std::vector<uint64_t>> got(viewers.size());
  std::vector<int> wrong_bytes(viewers.size(), 0);
  std::vector<std::thread> readers;
  for (size_t i = 0; i < viewers.size(); ++i) {
    readers.emplace_back([&, i] {
      while (got[i].size() < kFrames) {
        auto m = viewers[i]->Read();
        if (!m.ok) return;
        if (!m.binary) continue;
        auto f = testing::ParseWsFrame(m.data);
        if (!f.ok || f.device_id != "cam-10fps" || f.jpeg != (got[i].size() % 2 ? biden_ : obama_)) ++wrong_bytes[i];
        got[i].push_back(f.frame_id);
      }
    });
  }
  std::vector<uint64_t> ids;
  for (int i = 0; i < kFrames; ++i) {
    ids.push_back(Post(cam, i % 2 ? biden_ : obama_, "cam-10fps"));
    ASSERT_NE(ids.back(), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the camera's pace, not a wait for a result
  }
  for (auto& r : readers) r.join();
  for (size_t i = 0; i < viewers.size(); ++i) {
    EXPECT_EQ(got[i], ids) << "viewer " << i;
    EXPECT_EQ(wrong_bytes[i], 0) << "viewer " << i;
  }
}

TEST_F(LiveTest, SubscribeFiltersAndBadMessagesGetErrors) {
  auto server = Start();
  HttpClient cam(server.port());
  WsClient ws(server.port(), "/ws");
  ASSERT_TRUE(ws.connected());
  ASSERT_TRUE(ws.SendText("not json"));
  json err = testing::NextEvent(ws, "error");
  ASSERT_FALSE(err.is_null());
  EXPECT_TRUE(err["error"].is_string());
  ASSERT_TRUE(ws.SendText(R"({"subscribe": 42})"));
  EXPECT_FALSE(testing::NextEvent(ws, "error").is_null());
  ASSERT_TRUE(ws.SendText(R"({"subscribe": ["cam-b"]})"));
  json sub = testing::NextEvent(ws, "subscribed");
  ASSERT_FALSE(sub.is_null());
  EXPECT_EQ(sub["devices"], json::array({"cam-b"}));
  Post(cam, obama_, "cam-a");
  const uint64_t b = Post(cam, biden_, "cam-b");
  while (true) {
    auto m = ws.Read();
    ASSERT_TRUE(m.ok);
    if (!m.binary) continue;
    auto f = testing::ParseWsFrame(m.data);
    EXPECT_EQ(f.device_id, "cam-b");  // cam-a's frame, posted first, never arrives
    EXPECT_EQ(f.frame_id, b);
    break;
  }
  ASSERT_TRUE(ws.SendText(R"({"subscribe": "*"})"));
  ASSERT_FALSE(testing::NextEvent(ws, "subscribed").is_null());
}

TEST_F(LiveTest, OversizedMessageClosesOnlyThatSession) {
  auto server = Start();
  HttpClient cam(server.port());
  WsClient rude(server.port(), "/ws");
  WsClient polite(server.port(), "/ws");
  ASSERT_TRUE(rude.connected() && polite.connected());
  ASSERT_FALSE(testing::NextEvent(polite, "hello").is_null());  // joined the hub, so it gets the frame below
  (void)rude.SendText(std::string(100'000, 'x'));  // the server may close while this is still being sent
  bool closed = false;
  for (int i = 0; i < 10 && !closed; ++i) closed = !rude.Read().ok;
  EXPECT_TRUE(closed);
  const uint64_t id = Post(cam, obama_, "cam");
  while (true) {
    auto m = polite.Read();
    ASSERT_TRUE(m.ok);
    if (m.binary) {
      EXPECT_EQ(testing::ParseWsFrame(m.data).frame_id, id);
      break;
    }
  }
}

TEST_F(LiveTest, StalledViewerSkipsFramesWithoutHurtingOthers) {
  auto server = Start();
  HttpClient cam(server.port());
  ASSERT_NE(Post(cam, obama_, "cam"), 0u);
  WsClient stalled(server.port(), "/ws/devices/cam", 4096);  // never reads after the handshake
  ASSERT_TRUE(stalled.connected());
  WsClient healthy(server.port(), "/ws/devices/cam");
  ASSERT_TRUE(healthy.connected());
  ASSERT_TRUE(healthy.Read().ok);  // the current picture, sent on join

  // The frames of all viewers' skips: the sum over /api/v1/live/viewers and that page's total.
  auto skips = [&] {
    json viewers = json::parse(cam.Get("/api/v1/live/viewers").body);
    uint64_t sum = 0;
    for (const auto& v : viewers["viewers"]) sum += v["frames_skipped"].get<uint64_t>();
    return std::pair{sum, viewers["frames_skipped"].get<uint64_t>()};
  };
  // Each upload waits until the healthy viewer has it, so a viewer that keeps up is never skipped however slow the
  // machine, while the stalled one's frames pile up behind its full socket until the server skips them (how many
  // frames that takes depends on the kernel's socket buffers, hence uploads until it happens).
  constexpr int kMaxFrames = 3000;
  int uploads_ok = 0;
  int received = 0;
  uint64_t skipped = 0;
  for (int i = 0; i < kMaxFrames && skipped == 0; ++i) {
    uploads_ok += Post(cam, obama_, "cam") != 0 ? 1 : 0;
    auto m = healthy.Read();
    if (!m.ok) {
      ADD_FAILURE() << "frame " << i << " never reached the healthy viewer";
      break;
    }
    EXPECT_TRUE(m.data == obama_);  // /ws/devices/{id}: bare JPEG bytes
    ++received;
    if (i % 10 == 9) skipped = skips().first;
  }
  EXPECT_EQ(uploads_ok, received);
  EXPECT_GT(skipped, 0u);
  // The page's total, its viewers' sum and the metric agree once the last frame's fan-out is done.
  EXPECT_TRUE(testing::WaitFor([&] {
    const auto [sum, total] = skips();
    return sum == total && cam.Get("/metrics").body.find("live_frames_skipped_total " + std::to_string(sum)) !=
                               std::string::npos;
  }));
}

TEST_F(LiveTest, SnapshotIsTheNewestFrameWithEtag) {
  auto server = Start();
  HttpClient c(server.port());
  Post(c, obama_, "cam");
  const uint64_t second = Post(c, biden_, "cam");
  auto snap = c.Get("/api/v1/devices/cam/snapshot.jpg");
  ASSERT_EQ(snap.status, 200);
  EXPECT_EQ(snap.headers["content-type"], "image/jpeg");
  EXPECT_TRUE(snap.body == biden_);
  EXPECT_EQ(snap.headers["etag"], "\"" + std::to_string(second) + "\"");
  auto same = c.Request("GET", "/api/v1/devices/cam/snapshot.jpg", "", {{"If-None-Match", snap.headers["etag"]}});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  auto unknown = c.Get("/api/v1/devices/nope/snapshot.jpg");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("\"error\""), std::string::npos);
  EXPECT_EQ(c.Get("/ws").status, 426);
}

TEST_F(LiveTest, DeviceOnlineAndOfflineEvents) {
  auto server = Start({"--device-offline-s", "1"});
  HttpClient cam(server.port());
  WsClient ws(server.port(), "/ws");
  ASSERT_TRUE(ws.connected());
  // "hello" comes once the hub has the viewer: the handshake alone may complete before that.
  ASSERT_FALSE(testing::NextEvent(ws, "hello").is_null());
  Post(cam, obama_, "door");
  json online = testing::NextEvent(ws, "device_online");
  ASSERT_FALSE(online.is_null());
  EXPECT_EQ(online["device_id"], "door");
  json offline = testing::NextEvent(ws, "device_offline");  // no more frames: offline after ~1-2 s
  ASSERT_FALSE(offline.is_null());
  EXPECT_EQ(offline["device_id"], "door");
}

TEST_F(LiveTest, MjpegIsAMultipartStreamFfprobeCanRead) {
  auto server = Start();
  HttpClient cam(server.port());
  Post(cam, obama_, "cam");
  EXPECT_EQ(cam.Get("/api/v1/devices/nope/mjpeg").status, 404);
  const fs::path out = dir_.path() / "probe.txt";
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/api/v1/devices/cam/mjpeg";
  // ffprobe reads the stream while the camera keeps posting.
  std::atomic<bool> stop{false};
  std::thread camera([&] {
    HttpClient c(server.port());
    while (!stop) {
      Post(c, obama_, "cam");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const std::string cmd = "timeout 20 ffprobe -v error -f mpjpeg -i '" + url +
                          "' -count_frames -read_intervals '%+#3' -select_streams v:0 "
                          "-show_entries stream=codec_name,width,height,nb_read_frames -of json > '" +
                          out.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  stop = true;
  camera.join();
  const std::string probe = testing::ReadFile(out);
  ASSERT_EQ(WEXITSTATUS(rc), 0) << probe;
  json j = json::parse(probe, nullptr, false);
  ASSERT_TRUE(j.is_object()) << probe;
  const auto& s = j["streams"][0];
  EXPECT_EQ(s["codec_name"], "mjpeg");
  EXPECT_EQ(s["width"], 853);
  EXPECT_EQ(s["height"], 480);
  EXPECT_GE(std::stoi(s["nb_read_frames"].get<std::string>()), 3);
}

}  // namespace
}  // namespace iotstream
