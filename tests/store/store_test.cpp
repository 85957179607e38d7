#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "core/clock.h"
#include "store/sqlite.h"
#include "support/test_support.h"

namespace iotstream::store {
namespace {

namespace fs = std::filesystem;
using iotstream::testing::TempDir;

FramePtr MakeFrame(uint64_t id, const std::string& device, size_t bytes, int64_t ts_ms) {
  Frame::Meta m;
  m.id = id;
  m.device_id = device;
  m.capture_ts_ms = ts_ms;
  m.received_ts_ms = ts_ms;
  m.width = 640;
  m.height = 480;
  std::string body(bytes, static_cast<char>('a' + id % 26));
  return std::make_shared<const Frame>(std::move(m), std::move(body), 0, bytes);
}

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open(StoreOptions o = {}) {
    o.data_dir = dir_.path().string();
    auto s = Store::Open(o, metrics_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  // Enqueues and waits for the commit.
  static Status Put(Store& s, const FramePtr& f) {
    std::promise<Status> p;
    auto fut = p.get_future();
    s.Enqueue(f, [&p](Status st) { p.set_value(st); });
    return fut.get();
  }
  size_t FilesOnDisk() const {
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir_.path() / "frames")) n += e.is_regular_file() ? 1 : 0;
    return n;
  }
  TempDir dir_;
  Metrics metrics_;
};

TEST_F(StoreTest, StoresListsAndReadsFrames) {
  auto s = Open();
  const int64_t now = NowMs();
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "cam", 100 + id, now + id)).ok());
  auto list = s->ListFrames("cam", 0, now + 10, 10, FrameOrder::kNewestFirst);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 3u);
  EXPECT_EQ(list.value()[0].id, 3u);  // newest first
  EXPECT_EQ(list.value()[0].size, 103u);
  EXPECT_EQ(s->ListFrames("cam", now + 2, now + 2, 10, FrameOrder::kNewestFirst).value().size(), 1u);
  EXPECT_EQ(s->ListFrames("cam", 0, now + 10, 2, FrameOrder::kNewestFirst).value().size(), 2u);
  auto oldest = s->ListFrames("cam", 0, now + 10, 2, FrameOrder::kOldestFirst);
  ASSERT_TRUE(oldest.ok());
  ASSERT_EQ(oldest.value().size(), 2u);
  EXPECT_EQ(oldest.value()[0].id, 1u);  // oldest first
  EXPECT_EQ(oldest.value()[1].id, 2u);
  StoredFrame meta;
  auto bytes = s->ReadFrame(2, &meta);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes.value(), std::string(102, 'c'));
  EXPECT_EQ(meta.device_id, "cam");
  EXPECT_TRUE(s->ReadFrame(99, nullptr).status().IsNotFound());
  EXPECT_EQ(s->stats().frames, 3u);
  EXPECT_EQ(FilesOnDisk(), 1u);  // one segment holds the device's frames
  EXPECT_EQ(metrics_.CounterValue("store_frames_stored_total").value(), 3u);
}

TEST_F(StoreTest, FullQueueDropsAndSaysUnavailable) {
  StoreOptions o;
  o.queue_max_bytes = 50;  // smaller than any frame below
  auto s = Open(o);
  Status got;
  EXPECT_FALSE(s->Enqueue(MakeFrame(1, "cam", 100, NowMs()), [&](Status st) { got = st; }));
  EXPECT_TRUE(got.IsUnavailable());
  EXPECT_EQ(metrics_.CounterValue("store_frames_dropped_total").value(), 1u);
  EXPECT_EQ(FilesOnDisk(), 0u);
}

TEST_F(StoreTest, TotalBudgetEvictsOldestFirst) {
  StoreOptions o;
  o.retention_max_bytes = 3000;
  o.segment_max_bytes = 1;  // a segment per frame: an evicted frame's file goes with it
  auto s = Open(o);
  const int64_t now = NowMs();
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, id % 2 ? "a" : "b", 1000, now)).ok());
  ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->stats().frames == 3; }));
  EXPECT_TRUE(s->ReadFrame(1, nullptr).status().IsNotFound());
  EXPECT_TRUE(s->ReadFrame(2, nullptr).status().IsNotFound());
  EXPECT_TRUE(s->ReadFrame(3, nullptr).ok());
  EXPECT_LE(s->stats().bytes, 3000u);
  EXPECT_EQ(FilesOnDisk(), 3u);
  EXPECT_EQ(metrics_.CounterValue("store_frames_evicted_total").value(), 2u);
}

TEST_F(StoreTest, DeviceBudgetOnlyTouchesThatDevice) {
  StoreOptions o;
  o.retention_device_max_bytes = 2000;
  auto s = Open(o);
  const int64_t now = NowMs();
  ASSERT_TRUE(Put(*s, MakeFrame(1, "quiet", 1500, now)).ok());
  for (uint64_t id = 2; id <= 6; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "busy", 1000, now)).ok());
  ASSERT_TRUE(iotstream::testing::WaitFor(
      [&] { return s->ListFrames("busy", 0, now, 100, FrameOrder::kNewestFirst).value().size() == 2; }));
  EXPECT_EQ(s->ListFrames("quiet", 0, now, 100, FrameOrder::kNewestFirst).value().size(), 1u);
  EXPECT_TRUE(s->ReadFrame(5, nullptr).ok());
  EXPECT_TRUE(s->ReadFrame(4, nullptr).status().IsNotFound());
}

TEST_F(StoreTest, AgeLimitRemovesOldFrames) {
  StoreOptions o;
  o.retention_max_age_ms = 3600 * 1000;
  auto s = Open(o);
  const int64_t now = NowMs();
  ASSERT_TRUE(Put(*s, MakeFrame(1, "cam", 10, now - 2 * 3600 * 1000)).ok());
  ASSERT_TRUE(Put(*s, MakeFrame(2, "cam", 10, now)).ok());
  ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->stats().frames == 1; }, std::chrono::seconds(5)));
  EXPECT_TRUE(s->ReadFrame(1, nullptr).status().IsNotFound());
  EXPECT_TRUE(s->ReadFrame(2, nullptr).ok());
}

fs::path OnlyFileUnder(const fs::path& dir) {
  fs::path found;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) found = e.path();
  }
  return found;
}

TEST_F(StoreTest, RestartCleansOrphansAndMissingFilesAndKeepsIds) {
  const int64_t now = NowMs();
  {
    auto s = Open();
    for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "cam", 10, now)).ok());
    for (uint64_t id = 4; id <= 5; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "cut", 10, now)).ok());
    DeviceRecord r;
    r.id = "cam";
    r.name = "Front";
    r.frames_received = 3;
    s->SaveDevices({r});
    s->Close();
  }
  // An interrupted batch leaves bytes after a segment's last row and segments no row names; a lost tail of a
  // segment leaves rows whose bytes are gone.
  const fs::path cam = OnlyFileUnder(dir_.path() / "frames" / "cam");
  const fs::path cut = OnlyFileUnder(dir_.path() / "frames" / "cut");
  ASSERT_EQ(fs::file_size(cam), 30u);
  { std::ofstream(cam, std::ios::app) << "partial"; }
  fs::resize_file(cut, 15);  // frame 5 (bytes 10-19) half gone
  const fs::path orphan = cam.parent_path() / "77.seg";
  { std::ofstream(orphan) << "never indexed"; }
  const fs::path junk = cam.parent_path() / "3.jpg.tmp";
  { std::ofstream(junk) << "junk"; }

  auto s = Open();
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_FALSE(fs::exists(junk));
  EXPECT_EQ(fs::file_size(cam), 30u);
  EXPECT_EQ(s->stats().frames, 4u);
  EXPECT_EQ(s->stats().bytes, 40u);
  EXPECT_EQ(FilesOnDisk(), 2u);
  EXPECT_TRUE(s->ReadFrame(5, nullptr).status().IsNotFound());
  EXPECT_EQ(s->ReadFrame(3, nullptr).value(), std::string(10, 'd'));
  EXPECT_EQ(s->ReadFrame(4, nullptr).value(), std::string(10, 'e'));
  EXPECT_EQ(s->next_frame_id(), 6u);
  auto devices = s->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices.value().size(), 2u);  // "cut" had no row: it is made from the frame it kept
  EXPECT_EQ(devices.value()[0].name, "Front");
  EXPECT_EQ(devices.value()[0].frames_received, 3u);
  EXPECT_EQ(devices.value()[1].id, "cut");
  EXPECT_EQ(devices.value()[1].frames_received, 1u);
}

TEST_F(StoreTest, ACameraWhoseRowWasNotSavedYetIsMadeAgainFromItsFrames) {
  const int64_t now = NowMs();
  {
    auto s = Open();
    DeviceRecord saved;
    saved.id = "saved";
    saved.name = "Saved";
    saved.first_seen_ms = saved.last_seen_ms = now;
    s->SaveDevices({saved});
    ASSERT_TRUE(Put(*s, MakeFrame(1, "saved", 10, now)).ok());
    for (uint64_t id = 2; id <= 4; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "unsaved", 10, now + id)).ok());
    s->Close();
  }
  auto s = Open();
  auto devices = s->LoadDevices();
  ASSERT_TRUE(devices.ok()) << devices.status().ToString();
  ASSERT_EQ(devices.value().size(), 2u);
  const auto& made = devices.value()[0].id == "unsaved" ? devices.value()[0] : devices.value()[1];
  EXPECT_EQ(made.id, "unsaved");
  EXPECT_EQ(made.frames_received, 3u);
  EXPECT_EQ(made.bytes_received, 30u);
  EXPECT_EQ(made.last_seen_ms - made.first_seen_ms, 2);
  EXPECT_EQ(devices.value()[0].id == "saved" ? devices.value()[0].name : devices.value()[1].name, "Saved");
}

TEST_F(StoreTest, SegmentsRotateBySizeAndHourAndGoWithTheirLastFrame) {
  StoreOptions o;
  o.segment_max_bytes = 25;    // three 10-byte frames, then a new segment
  o.retention_max_bytes = 30;  // three frames in all
  auto s = Open(o);
  const int64_t now = NowMs();
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "cam", 10, now)).ok());
  ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->stats().frames == 3; }));
  EXPECT_EQ(FilesOnDisk(), 2u);  // {1,2,3} with 3 still indexed, and {4,5}
  ASSERT_TRUE(Put(*s, MakeFrame(6, "cam", 10, now)).ok());
  // The first segment goes with frame 3: its file is removed just after the frame's row.
  ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->ReadFrame(3, nullptr).status().IsNotFound(); }));
  EXPECT_TRUE(iotstream::testing::WaitFor([&] { return FilesOnDisk() == 1u; })) << FilesOnDisk();
  for (uint64_t id = 4; id <= 6; ++id) {
    EXPECT_EQ(s->ReadFrame(id, nullptr).value(), std::string(10, static_cast<char>('a' + id))) << id;
  }
  // The next hour starts a new segment in its own folder, though the open one has room.
  StoreOptions roomy;
  roomy.segment_max_bytes = 1 << 20;
  s.reset();
  s = Open(roomy);
  ASSERT_TRUE(Put(*s, MakeFrame(7, "cam", 10, now)).ok());
  ASSERT_TRUE(Put(*s, MakeFrame(8, "cam", 10, now + 3600 * 1000)).ok());
  EXPECT_EQ(FilesOnDisk(), 3u);
  EXPECT_EQ(s->ReadFrame(8, nullptr).value(), std::string(10, 'i'));
}

TEST_F(StoreTest, IndexFromBeforeSegmentsStillReadsItsFrames) {
  // The layout before segments: one file per frame, and a frames table without file_offset.
  const std::string rel = "frames/cam/2026120108/5.jpg";
  fs::create_directories((dir_.path() / rel).parent_path());
  { std::ofstream(dir_.path() / rel) << "old jpeg bytes"; }
  {
    Db db;
    ASSERT_TRUE(db.Open((dir_.path() / "iotstream.db").string()).ok());
    ASSERT_TRUE(db.Exec("CREATE TABLE frames (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, capture_ts_ms INTEGER "
                        "NOT NULL, received_ts_ms INTEGER NOT NULL, size INTEGER NOT NULL, width INTEGER NOT NULL, "
                        "height INTEGER NOT NULL, path TEXT NOT NULL);")
                    .ok());
    Stmt insert(db.get(), "INSERT INTO frames VALUES (5, 'cam', 1, 1, 14, 640, 480, ?)");
    ASSERT_TRUE(insert.Bind(1, rel).Run().ok());
  }
  auto s = Open();
  EXPECT_EQ(s->stats().frames, 1u);
  EXPECT_EQ(s->ReadFrame(5, nullptr).value(), "old jpeg bytes");
  ASSERT_TRUE(Put(*s, MakeFrame(6, "cam", 10, NowMs())).ok());
  EXPECT_EQ(s->ReadFrame(6, nullptr).value(), std::string(10, 'g'));
  EXPECT_EQ(s->next_frame_id(), 6u);
}

TEST_F(StoreTest, IdsAreNotReusedAfterEvictingEverything) {
  StoreOptions o;
  o.retention_max_bytes = 5;
  {
    auto s = Open(o);
    ASSERT_TRUE(Put(*s, MakeFrame(41, "cam", 10, NowMs())).ok());
    ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->stats().frames == 0; }));
  }
  EXPECT_EQ(Open(o)->next_frame_id(), 42u);
}

TEST_F(StoreTest, DeleteDeviceRemovesItsFramesAndRecord) {
  auto s = Open();
  const int64_t now = NowMs();
  ASSERT_TRUE(Put(*s, MakeFrame(1, "gone", 10, now)).ok());
  ASSERT_TRUE(Put(*s, MakeFrame(2, "kept", 10, now)).ok());
  DeviceRecord r;
  r.id = "gone";
  s->SaveDevices({r});
  std::promise<Status> p;
  s->DeleteDevice("gone", [&](Status st) { p.set_value(st); });
  ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_TRUE(s->ListFrames("gone", 0, now, 10, FrameOrder::kNewestFirst).value().empty());
  EXPECT_FALSE(fs::exists(dir_.path() / "frames" / "gone"));
  EXPECT_EQ(s->stats().frames, 1u);
  const auto devices = s->LoadDevices().value();  // "kept" was never saved: made from its frame
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].id, "kept");
}

TEST_F(StoreTest, CountsFramesPerMinuteOfCaptureTime) {
  StoreOptions o;
  o.retention_max_age_ms = 0;  // the frames are dated 1970
  auto s = Open(o);
  const int64_t minute = 60'000;
  const int64_t t0 = 1'000 * minute;  // a minute boundary
  // Three frames in the first minute (one on its boundary), none in the second, two in the third; another camera's
  // frame and one outside the range are not counted.
  const std::vector<std::pair<uint64_t, int64_t>> frames{
      {1, t0}, {2, t0 + 10}, {3, t0 + minute - 1}, {4, t0 + 2 * minute}, {5, t0 + 2 * minute + 59'999},
      {6, t0 + 3 * minute}};
  for (const auto& [id, ts] : frames) ASSERT_TRUE(Put(*s, MakeFrame(id, "cam", 10, ts)).ok());
  ASSERT_TRUE(Put(*s, MakeFrame(7, "other", 10, t0 + 5)).ok());
  auto density = s->FrameDensity("cam", t0, t0 + 3 * minute - 1, minute);
  ASSERT_TRUE(density.ok()) << density.status().ToString();
  ASSERT_EQ(density.value().size(), 2u);
  EXPECT_EQ(density.value()[0].start_ms, t0);
  EXPECT_EQ(density.value()[0].frames, 3u);
  EXPECT_EQ(density.value()[1].start_ms, t0 + 2 * minute);
  EXPECT_EQ(density.value()[1].frames, 2u);
  // A range that starts inside a bucket counts only the frames in the range.
  auto partial = s->FrameDensity("cam", t0 + 5, t0 + minute, minute);
  ASSERT_TRUE(partial.ok());
  ASSERT_EQ(partial.value().size(), 1u);
  EXPECT_EQ(partial.value()[0].frames, 2u);
  EXPECT_TRUE(s->FrameDensity("nobody", 0, t0 * 2, minute).value().empty());
}

}  // namespace
}  // namespace iotstream::store
