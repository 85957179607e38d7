#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "core/clock.h"
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
  auto list = s->ListFrames("cam", 0, now + 10, 10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 3u);
  EXPECT_EQ(list.value()[0].id, 3u);  // newest first
  EXPECT_EQ(list.value()[0].size, 103u);
  EXPECT_EQ(s->ListFrames("cam", now + 2, now + 2, 10).value().size(), 1u);
  EXPECT_EQ(s->ListFrames("cam", 0, now + 10, 2).value().size(), 2u);
  StoredFrame meta;
  auto bytes = s->ReadFrame(2, &meta);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes.value(), std::string(102, 'c'));
  EXPECT_EQ(meta.device_id, "cam");
  EXPECT_TRUE(s->ReadFrame(99, nullptr).status().IsNotFound());
  EXPECT_EQ(s->stats().frames, 3u);
  EXPECT_EQ(FilesOnDisk(), 3u);
  EXPECT_EQ(metrics_.counter("store_frames_stored_total", "").value(), 3u);
}

TEST_F(StoreTest, FullQueueDropsAndSaysUnavailable) {
  StoreOptions o;
  o.queue_max_bytes = 50;  // smaller than any frame below
  auto s = Open(o);
  Status got;
  EXPECT_FALSE(s->Enqueue(MakeFrame(1, "cam", 100, NowMs()), [&](Status st) { got = st; }));
  EXPECT_TRUE(got.IsUnavailable());
  EXPECT_EQ(metrics_.counter("store_frames_dropped_total", "").value(), 1u);
  EXPECT_EQ(FilesOnDisk(), 0u);
}

TEST_F(StoreTest, TotalBudgetEvictsOldestFirst) {
  StoreOptions o;
  o.retention_max_bytes = 3000;
  auto s = Open(o);
  const int64_t now = NowMs();
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, id % 2 ? "a" : "b", 1000, now)).ok());
  ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->stats().frames == 3; }));
  EXPECT_TRUE(s->ReadFrame(1, nullptr).status().IsNotFound());
  EXPECT_TRUE(s->ReadFrame(2, nullptr).status().IsNotFound());
  EXPECT_TRUE(s->ReadFrame(3, nullptr).ok());
  EXPECT_LE(s->stats().bytes, 3000u);
  EXPECT_EQ(FilesOnDisk(), 3u);
  EXPECT_EQ(metrics_.counter("store_frames_evicted_total", "").value(), 2u);
}

TEST_F(StoreTest, DeviceBudgetOnlyTouchesThatDevice) {
  StoreOptions o;
  o.retention_device_max_bytes = 2000;
  auto s = Open(o);
  const int64_t now = NowMs();
  ASSERT_TRUE(Put(*s, MakeFrame(1, "quiet", 1500, now)).ok());
  for (uint64_t id = 2; id <= 6; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "busy", 1000, now)).ok());
  ASSERT_TRUE(iotstream::testing::WaitFor([&] { return s->ListFrames("busy", 0, now, 100).value().size() == 2; }));
  EXPECT_EQ(s->ListFrames("quiet", 0, now, 100).value().size(), 1u);
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

TEST_F(StoreTest, RestartCleansOrphansAndMissingFilesAndKeepsIds) {
  const int64_t now = NowMs();
  {
    auto s = Open();
    for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(Put(*s, MakeFrame(id, "cam", 10, now)).ok());
    DeviceRecord r;
    r.id = "cam";
    r.name = "Front";
    r.frames_received = 3;
    s->SaveDevices({r});
    s->Close();
  }
  // An interrupted batch leaves a file with no row; a lost file leaves a row with no file.
  fs::path some_file;
  for (auto& e : fs::recursive_directory_iterator(dir_.path() / "frames")) {
    if (e.is_regular_file() && e.path().filename() == "2.jpg") some_file = e.path();
  }
  ASSERT_FALSE(some_file.empty());
  fs::remove(some_file);
  const fs::path orphan = some_file.parent_path() / "77.jpg";
  { std::ofstream(orphan) << "partial"; }
  const fs::path junk = some_file.parent_path() / "3.jpg.tmp";
  { std::ofstream(junk) << "junk"; }

  auto s = Open();
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_FALSE(fs::exists(junk));
  EXPECT_EQ(s->stats().frames, 2u);
  EXPECT_EQ(s->stats().bytes, 20u);
  EXPECT_EQ(FilesOnDisk(), 2u);
  EXPECT_TRUE(s->ReadFrame(2, nullptr).status().IsNotFound());
  EXPECT_EQ(s->next_frame_id(), 4u);
  auto devices = s->LoadDevices();
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices.value().size(), 1u);
  EXPECT_EQ(devices.value()[0].name, "Front");
  EXPECT_EQ(devices.value()[0].frames_received, 3u);
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
  EXPECT_TRUE(s->ListFrames("gone", 0, now, 10).value().empty());
  EXPECT_FALSE(fs::exists(dir_.path() / "frames" / "gone"));
  EXPECT_EQ(s->stats().frames, 1u);
  EXPECT_TRUE(s->LoadDevices().value().empty());
}

}  // namespace
}  // namespace iotstream::store
