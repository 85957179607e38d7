#include "store/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "support/test_support.h"

namespace iotstream::store {
namespace {

namespace fs = std::filesystem;
using iotstream::testing::TempDir;

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kHour = 3600 * 1000;

// The pieces StoreImpl puts together, with a segment per frame so that each eviction shows on disk.
class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto index = FrameIndex::Open((dir_.path() / "iotstream.db").string());
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = std::move(index).value();
  }
  void Add(uint64_t id, const std::string& device, uint64_t bytes, int64_t received_ms) {
    Frame::Meta m;
    m.id = id;
    m.device_id = device;
    m.capture_ts_ms = m.received_ts_ms = received_ms;
    auto span = segments_.Append(device, received_ms, id, std::string(bytes, 'x'));
    ASSERT_TRUE(span.ok()) << span.status().ToString();
    ASSERT_TRUE(index_->Begin().ok());
    ASSERT_TRUE(index_->InsertFrame(m, bytes, span.value().rel, span.value().offset).ok());
    ASSERT_TRUE(index_->Commit().ok());
    segments_.AddFrame(span.value().rel);
    usage_.AddFrame(device, bytes);
  }
  std::vector<uint64_t> Left() {
    auto rows = index_->RecoveryRows();
    EXPECT_TRUE(rows.ok());
    std::vector<uint64_t> ids;
    for (const auto& r : rows.value()) ids.push_back(r.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  size_t FilesOnDisk() const {
    size_t n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir_.path() / "frames")) n += e.is_regular_file() ? 1 : 0;
    return n;
  }
  static StoreOptions Budgets(uint64_t max_bytes, uint64_t device_max_bytes, int64_t max_age_ms) {
    StoreOptions o;
    o.retention_max_bytes = max_bytes;
    o.retention_device_max_bytes = device_max_bytes;
    o.retention_max_age_ms = max_age_ms;
    return o;
  }

  TempDir dir_;
  std::unique_ptr<FrameIndex> index_;
  Segments segments_{dir_.path(), 1};
  Usage usage_;
  Metrics metrics_;
  Counter& evicted_ = metrics_.counter("store_frames_evicted_total", "frames removed by retention");
};

TEST_F(RetentionTest, AgeLimitTakesFramesReceivedBeforeTheCutOff) {
  Add(1, "a", 10, kNow - 3 * kHour);
  Add(2, "b", 10, kNow - 2 * kHour);
  Add(3, "a", 10, kNow - kHour / 2);
  Retention r(Budgets(1 << 20, 0, kHour), *index_, segments_, usage_, evicted_);
  r.Enforce(kNow);
  EXPECT_EQ(Left(), (std::vector<uint64_t>{3}));
  EXPECT_EQ(FilesOnDisk(), 2u);  // frame 1's segment went; frame 2's is b's open one, which goes when closed
  Add(4, "b", 10, kNow);
  EXPECT_EQ(FilesOnDisk(), 2u);  // frames 3 and 4
  EXPECT_EQ(usage_.total_bytes(), 20u);
  EXPECT_EQ(usage_.frames(), 2u);
  EXPECT_EQ(evicted_.value(), 2u);
}

TEST_F(RetentionTest, DeviceBudgetTakesOnlyThatDevicesOldestFrames) {
  for (uint64_t id = 1; id <= 5; ++id) Add(id, id % 2 ? "busy" : "quiet", 100, kNow);
  // busy: 1, 3, 5 (300 bytes, over 150); quiet: 2, 4 (200 bytes, over too).
  Retention r(Budgets(1 << 20, 150, 0), *index_, segments_, usage_, evicted_);
  r.Enforce(kNow);
  EXPECT_EQ(Left(), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(usage_.device_bytes("busy"), 100u);
  EXPECT_EQ(usage_.device_bytes("quiet"), 100u);
  EXPECT_EQ(FilesOnDisk(), 2u);
}

TEST_F(RetentionTest, TotalBudgetTakesTheOldestOfAnyDevice) {
  for (uint64_t id = 1; id <= 4; ++id) Add(id, id % 2 ? "a" : "b", 100, kNow);
  Retention r(Budgets(250, 0, 0), *index_, segments_, usage_, evicted_);
  r.Enforce(kNow);
  EXPECT_EQ(Left(), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(usage_.total_bytes(), 200u);
  EXPECT_EQ(evicted_.value(), 2u);
}

TEST_F(RetentionTest, AnIndexErrorEndsThePassWithoutTakingAnything) {
  Add(1, "a", 100, kNow - 2 * kHour);
  Add(2, "a", 100, kNow);
  Db db;
  ASSERT_TRUE(db.Open((dir_.path() / "iotstream.db").string()).ok());
  ASSERT_TRUE(db.Exec("ALTER TABLE frames RENAME TO gone").ok());
  Retention r(Budgets(50, 50, kHour), *index_, segments_, usage_, evicted_);
  r.Enforce(kNow);
  EXPECT_EQ(usage_.total_bytes(), 200u);
  EXPECT_EQ(usage_.frames(), 2u);
  EXPECT_EQ(evicted_.value(), 0u);
  EXPECT_EQ(FilesOnDisk(), 2u);
}

}  // namespace
}  // namespace iotstream::store
