#include "ingest/ingest.h"

#include <gtest/gtest.h>

#include <tuple>

#include "support/test_support.h"

namespace iotstream::ingest {
namespace {

using iotstream::testing::FaceJpeg;
using iotstream::testing::MultipartBody;

TEST(ResolveDeviceId, HeaderThenQueryThenFormThenPeer) {
  Upload u;
  u.remote_address = "10.0.0.7";
  EXPECT_EQ(ResolveDeviceId(u, "").value(), "10.0.0.7");
  EXPECT_EQ(ResolveDeviceId(u, "form-cam").value(), "form-cam");
  u.query_device_id = "query-cam";
  EXPECT_EQ(ResolveDeviceId(u, "form-cam").value(), "query-cam");
  u.header_device_id = "header-cam";
  EXPECT_EQ(ResolveDeviceId(u, "form-cam").value(), "header-cam");
  u.header_device_id = "../etc";
  EXPECT_TRUE(ResolveDeviceId(u, "").status().IsInvalidArgument());
}

TEST(IsValidDeviceId, Charset) {
  EXPECT_TRUE(IsValidDeviceId("esp32-cam_01.front:1"));
  EXPECT_FALSE(IsValidDeviceId(""));
  EXPECT_FALSE(IsValidDeviceId(".."));
  EXPECT_FALSE(IsValidDeviceId("a/b"));
  EXPECT_FALSE(IsValidDeviceId("a b"));
  EXPECT_FALSE(IsValidDeviceId(std::string(65, 'a')));
}

TEST(DeviceRegistry, CountsOnlineFpsAndSuccessRate) {
  DeviceRegistry reg({.offline_after_ms = 10'000, .fps_window_ms = 5'000});
  reg.RecordRejected("cam");  // unknown: not registered by a bad frame
  EXPECT_EQ(reg.size(), 0u);
  const int64_t t0 = 1'000'000;
  for (int i = 0; i < 50; ++i) reg.RecordAccepted("cam", 1000, 640, 480, t0 + i * 100);  // 10 fps for 5 s
  reg.RecordRejected("cam");
  auto v = reg.Get("cam", t0 + 4900);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->online);
  EXPECT_NEAR(v->fps, 10.0, 0.5);
  EXPECT_EQ(v->record.frames_received, 50u);
  EXPECT_EQ(v->record.frames_rejected, 1u);
  EXPECT_EQ(v->record.bytes_received, 50'000u);
  EXPECT_NEAR(v->success_rate, 50.0 / 51.0, 1e-9);
  auto later = reg.Get("cam", t0 + 4900 + 10'001);
  EXPECT_FALSE(later->online);
  EXPECT_EQ(later->fps, 0);
  EXPECT_EQ(reg.online(t0 + 4900), 1u);
}

// What the listener hears: online with the first frame (and again after an outage), offline once, when noticed.
struct Transitions {
  using Change = DeviceRegistry::Change;
  std::vector<std::tuple<std::string, Change, int64_t>> seen;
  DeviceRegistry::StateListener Listener() {
    return [this](const std::string& id, Change change, int64_t ts) { seen.emplace_back(id, change, ts); };
  }
};

TEST(DeviceRegistry, ReportsEachCameraComingOnlineAndGoingOfflineOnce) {
  Transitions t;
  DeviceRegistry reg({.offline_after_ms = 10'000});
  reg.SetStateListener(t.Listener());
  reg.RecordAccepted("cam", 1, 1, 1, 1'000);
  reg.RecordAccepted("cam", 1, 1, 1, 1'100);
  reg.CheckOffline(11'000);  // 9.9 s of silence: still online
  reg.CheckOffline(11'101);
  reg.CheckOffline(12'000);
  reg.RecordAccepted("cam", 1, 1, 1, 20'000);
  using T = std::tuple<std::string, Transitions::Change, int64_t>;
  using C = Transitions::Change;
  EXPECT_EQ(t.seen, (std::vector<T>{{"cam", C::kAdded, 1'000},
                                    {"cam", C::kOnline, 1'000},
                                    {"cam", C::kOffline, 11'101},
                                    {"cam", C::kOnline, 20'000}}));
}

TEST(DeviceRegistry, AMarkedSparseCameraIsOfflineOnlyAfterMissingItsInterval) {
  Transitions t;
  DeviceRegistry reg({.offline_after_ms = 10'000, .fps_window_ms = 5'000});
  reg.SetStateListener(t.Listener());
  for (int i = 0; i < 5; ++i) reg.RecordAccepted("pir", 1, 1, 1, 1'000 + i * 200);  // a 5 fps burst
  ASSERT_TRUE(reg.Update("pir", {.sparse = true, .expected_interval_ms = 300'000}).ok());
  reg.CheckOffline(1'800 + 300'000);  // asleep for its interval: still online
  auto asleep = reg.Get("pir", 1'800 + 300'000);
  EXPECT_TRUE(asleep->online);
  EXPECT_TRUE(asleep->sparse);
  EXPECT_EQ(asleep->interval_ms, 300'000);
  EXPECT_FALSE(asleep->interval_learned);
  EXPECT_NEAR(asleep->fps, 5.0, 1e-9);  // over the burst, not over the silence
  reg.CheckOffline(1'800 + 310'001);  // missed it by more than the offline time
  EXPECT_FALSE(reg.Get("pir", 1'800 + 310'001)->online);
  ASSERT_EQ(t.seen.size(), 3u);  // added, online, offline
  EXPECT_EQ(t.seen[2], std::make_tuple(std::string("pir"), Transitions::Change::kOffline, int64_t{1'800 + 310'001}));
}

TEST(DeviceRegistry, RegularPausesAreLearnedAsASparseCamerasInterval) {
  Transitions t;
  DeviceRegistry reg({.offline_after_ms = 10'000, .fps_window_ms = 5'000});
  reg.SetStateListener(t.Listener());
  // Bursts of 3 frames every 60 s.
  for (int burst = 0; burst < 3; ++burst) {
    for (int i = 0; i < 3; ++i) reg.RecordAccepted("cam", 1, 1, 1, burst * 60'000 + 1 + i * 100);
  }
  const auto v = reg.Get("cam", 2 * 60'000 + 201 + 30'000);  // half-way through its next sleep
  EXPECT_TRUE(v->sparse);
  EXPECT_FALSE(v->record.sparse);  // not marked: learned
  EXPECT_TRUE(v->interval_learned);
  EXPECT_EQ(v->interval_ms, 60'000 - 200);
  EXPECT_TRUE(v->online);
  EXPECT_NEAR(v->fps, 10.0, 1e-9);
  // Pauses of 20 s and 60 s are no pattern: the camera is offline after the plain offline time.
  DeviceRegistry irregular({.offline_after_ms = 10'000});
  for (int64_t start : {int64_t{0}, int64_t{20'000}, int64_t{80'000}}) irregular.RecordAccepted("cam", 1, 1, 1, start);
  EXPECT_FALSE(irregular.Get("cam", 80'000 + 10'001)->online);
  EXPECT_FALSE(irregular.Get("cam", 80'000)->sparse);
}

TEST(DeviceRegistry, HighFrameRateUsesTheRingSpan) {
  DeviceRegistry reg({});
  for (int i = 0; i < 200; ++i) reg.RecordAccepted("fast", 10, 1, 1, 1000 + i * 10);  // 100 fps
  EXPECT_NEAR(reg.Get("fast", 1000 + 1990)->fps, 100.0, 3.0);
}

TEST(DeviceRegistry, UpdateRemoveAndDirtyTracking) {
  DeviceRegistry reg({});
  reg.RecordAccepted("a", 1, 1, 1, 1);
  reg.RecordAccepted("b", 1, 1, 1, 1);
  EXPECT_EQ(reg.TakeDirty().size(), 2u);
  EXPECT_TRUE(reg.TakeDirty().empty());
  EXPECT_TRUE(reg.Update("a", {.name = "Front door"}).ok());
  EXPECT_TRUE(reg.Update("zz", {.name = "x"}).IsNotFound());
  EXPECT_TRUE(reg.Update("a", {.expected_interval_ms = -1}).IsInvalidArgument());
  auto dirty = reg.TakeDirty();
  ASSERT_EQ(dirty.size(), 1u);
  EXPECT_EQ(dirty[0].name, "Front door");
  EXPECT_TRUE(reg.Remove("b").ok());
  EXPECT_TRUE(reg.Remove("b").IsNotFound());
  EXPECT_EQ(reg.List(1).size(), 1u);
}

class IngestorTest : public ::testing::Test {
 protected:
  IngestorTest() : registry_({}), ingestor_({}, registry_, metrics_, 100) {}
  Upload Raw(std::string body, std::string type = "image/jpeg") {
    Upload u;
    u.body = std::move(body);
    u.content_type = std::move(type);
    u.header_device_id = "cam";
    return u;
  }
  Metrics metrics_;
  DeviceRegistry registry_;
  Ingestor ingestor_;
};

TEST_F(IngestorTest, RawJpegBecomesAFrameWithoutCopy) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-240p.jpg");
  if (jpeg.empty()) GTEST_SKIP();
  Upload u = Raw(jpeg);
  u.header_timestamp = "1700000000123";
  auto f = ingestor_.Accept(std::move(u), 1700000000500);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f.value()->id(), 100u);
  EXPECT_EQ(f.value()->device_id(), "cam");
  EXPECT_EQ(f.value()->meta().capture_ts_ms, 1700000000123);
  EXPECT_EQ(f.value()->jpeg(), jpeg);
  EXPECT_EQ(registry_.Get("cam", 1700000000500)->record.frames_received, 1u);
  EXPECT_EQ(ingestor_.stats().accepted, 1u);
  EXPECT_EQ(ingestor_.stats().accepted_bytes, jpeg.size());
}

TEST_F(IngestorTest, MultipartImageFileOrFrameFieldAndFormDeviceId) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-240p.jpg");
  if (jpeg.empty()) GTEST_SKIP();
  for (const char* field : {"image", "file", "frame"}) {
    Upload u;
    u.content_type = "multipart/form-data; boundary=BND";
    u.body = MultipartBody("BND", {{"device_id", "yard", "", ""}, {field, jpeg, "x.jpg", "image/jpeg"}});
    auto f = ingestor_.Accept(std::move(u), 1);
    ASSERT_TRUE(f.ok()) << field << ": " << f.status().ToString();
    EXPECT_EQ(f.value()->device_id(), "yard");
    EXPECT_EQ(f.value()->jpeg(), jpeg);
  }
}

TEST_F(IngestorTest, BadInputIsRejectedAndCounted) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-240p.jpg");
  if (jpeg.empty()) GTEST_SKIP();
  ASSERT_TRUE(ingestor_.Accept(Raw(jpeg), 1).ok());  // registers "cam"
  EXPECT_TRUE(ingestor_.Accept(Raw("plain text", "text/plain"), 1).status().IsUnsupported());
  EXPECT_TRUE(ingestor_.Accept(Raw(""), 1).status().IsInvalidArgument());
  EXPECT_TRUE(ingestor_.Accept(Raw(jpeg.substr(0, 500)), 1).status().IsInvalidArgument());
  Upload no_image;
  no_image.content_type = "multipart/form-data; boundary=B";
  no_image.header_device_id = "cam";
  no_image.body = MultipartBody("B", {{"photo", "not a picture", "x.jpg", "image/jpeg"}});
  EXPECT_NE(ingestor_.Accept(std::move(no_image), 1).status().message().find("'photo' (13 bytes"), std::string::npos);
  EXPECT_EQ(registry_.Get("cam", 1)->record.frames_rejected, 4u);
  EXPECT_EQ(metrics_.CounterValue("ingest_frames_rejected_total").value(), 4u);
  EXPECT_EQ(ingestor_.stats().rejected, 4u);
  EXPECT_EQ(ingestor_.stats().accepted, 1u);
}

TEST_F(IngestorTest, AJpegIsAcceptedUnderAnyContentType) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-240p.jpg");
  if (jpeg.empty()) GTEST_SKIP();
  for (const char* type : {"application/x-www-form-urlencoded", "text/plain", ""}) {
    auto f = ingestor_.Accept(Raw(jpeg, type), 1);
    ASSERT_TRUE(f.ok()) << type << ": " << f.status().ToString();
    EXPECT_EQ(f.value()->jpeg(), jpeg);
  }
}

TEST(IngestorLimits, AMultipartUploadOverTheLimitIsTooLargeAndCounted) {
  Metrics metrics;
  DeviceRegistry registry({});
  Ingestor::Options options;
  options.multipart.max_parts = 2;
  Ingestor ingestor(options, registry, metrics, 1);
  Upload u;
  u.content_type = "multipart/form-data; boundary=B";
  u.header_device_id = "cam";
  u.body = MultipartBody("B", {{"a", "1", "", ""}, {"b", "2", "", ""}, {"image", "3", "x.jpg", "image/jpeg"}});
  EXPECT_TRUE(ingestor.Accept(std::move(u), 1).status().IsTooLarge());
  EXPECT_EQ(metrics.CounterValue("ingest_multipart_over_limit_total").value(), 1u);
  EXPECT_EQ(ingestor.stats().rejected, 1u);
}

// Issue #16: ids that would leave the data folder or cut a path short never become a device.
TEST(IsValidDeviceId, TraversalAndNulBytes) {
  for (const std::string& id : {std::string("../x"), std::string("..\\x"), std::string("a/../b"), std::string("/abs"),
                               std::string("cam\0x", 5), std::string(1, '\0'), std::string("cam\n"),
                               std::string("%2e%2e"), std::string("cam\xFF")}) {
    EXPECT_FALSE(IsValidDeviceId(id)) << id;
  }
  EXPECT_TRUE(IsValidDeviceId("..."));  // a plain folder name
}

TEST_F(IngestorTest, TimestampsAtTheEndsOfInt64AreIgnored) {
  const std::string jpeg = FaceJpeg("ageitgey_face_recognition/examples/obama-240p.jpg");
  if (jpeg.empty()) GTEST_SKIP();
  for (const char* ts : {"-9223372036854775808", "9223372036854775807"}) {
    Upload u = Raw(jpeg);
    u.header_timestamp = ts;
    auto f = ingestor_.Accept(std::move(u), 1700000000500);
    ASSERT_TRUE(f.ok()) << ts;
    EXPECT_EQ(f.value()->meta().capture_ts_ms, 1700000000500) << ts;
  }
}

}  // namespace
}  // namespace iotstream::ingest
