#include "store/frame_index.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace iotstream::store {
namespace {

using iotstream::testing::TempDir;

std::vector<uint64_t> Ids(const Result<std::vector<EvictionCandidate>>& r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<uint64_t> ids;
  if (r.ok()) {
    for (const auto& c : r.value()) ids.push_back(c.id);
  }
  return ids;
}

class FrameIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto index = FrameIndex::Open((dir_.path() / "iotstream.db").string());
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = std::move(index).value();
  }
  // Frames 1-4: devices a, b, a, b, received at 100, 200, 300, 400, 10 bytes each in one segment per device.
  void AddFourFrames() {
    ASSERT_TRUE(index_->Begin().ok());
    for (uint64_t id = 1; id <= 4; ++id) {
      Frame::Meta m;
      m.id = id;
      m.device_id = id % 2 ? "a" : "b";
      m.capture_ts_ms = m.received_ts_ms = static_cast<int64_t>(id) * 100;
      ASSERT_TRUE(index_->InsertFrame(m, 10, "frames/" + m.device_id + "/1.seg", (id - 1) / 2 * 10).ok());
    }
    ASSERT_TRUE(index_->Commit().ok());
  }
  TempDir dir_;
  std::unique_ptr<FrameIndex> index_;
};

TEST_F(FrameIndexTest, EachEvictionQueryPicksItsOldestRows) {
  AddFourFrames();
  EXPECT_EQ(Ids(index_->OldestReceivedBefore(250, 10)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Ids(index_->OldestReceivedBefore(250, 1)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Ids(index_->OldestReceivedBefore(100, 10)), (std::vector<uint64_t>{}));
  EXPECT_EQ(Ids(index_->OldestOfDevice("b", 10)), (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(Ids(index_->OldestOfDevice("none", 10)), (std::vector<uint64_t>{}));
  EXPECT_EQ(Ids(index_->OldestOverall(3)), (std::vector<uint64_t>{1, 2, 3}));
  // A kept statement runs again with new parameters after a round that stopped at its limit.
  EXPECT_EQ(Ids(index_->OldestOfDevice("a", 1)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(Ids(index_->OldestOfDevice("a", 10)), (std::vector<uint64_t>{1, 3}));
  const auto c = index_->OldestOverall(1);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value()[0].device, "a");
  EXPECT_EQ(c.value()[0].size, 10u);
  EXPECT_EQ(c.value()[0].path, "frames/a/1.seg");
}

TEST_F(FrameIndexTest, DeletesRecountsAndKeepsTheHighestId) {
  AddFourFrames();
  ASSERT_TRUE(index_->Begin().ok());
  ASSERT_TRUE(index_->RaiseLastFrameId(9).ok());
  ASSERT_TRUE(index_->RaiseLastFrameId(4).ok());
  ASSERT_TRUE(index_->Commit().ok());
  EXPECT_EQ(index_->LastFrameId().value(), 9u);
  ASSERT_TRUE(index_->DeleteFrames({1, 4}).ok());
  auto totals = index_->RecountTotals();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals.value().frames, 2u);
  EXPECT_EQ(totals.value().total_bytes, 20u);
  EXPECT_EQ(totals.value().device_bytes.at("a"), 10u);
  EXPECT_EQ(totals.value().segment_frames.at("frames/b/1.seg"), 1u);
  auto rows = index_->DeleteDeviceRows("a");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows.value().frames, 1u);
  EXPECT_EQ(rows.value().bytes, 10u);
  auto recovery = index_->RecoveryRows();
  ASSERT_TRUE(recovery.ok());
  ASSERT_EQ(recovery.value().size(), 1u);
  EXPECT_EQ(recovery.value()[0].id, 2u);
  EXPECT_EQ(recovery.value()[0].end, 10u);
  auto found = index_->FindFrame(2);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value().path, "frames/b/1.seg");
  EXPECT_TRUE(index_->FindFrame(1).status().IsNotFound());
}

TEST_F(FrameIndexTest, AQueryOnAMissingTableIsAnErrorNotAnEmptyAnswer) {
  AddFourFrames();
  Db db;
  ASSERT_TRUE(db.Open((dir_.path() / "iotstream.db").string()).ok());
  ASSERT_TRUE(db.Exec("DROP TABLE frames").ok());
  EXPECT_TRUE(index_->OldestOverall(10).status().IsIOError());
  EXPECT_TRUE(index_->OldestOfDevice("a", 10).status().IsIOError());
  EXPECT_TRUE(index_->OldestReceivedBefore(1000, 10).status().IsIOError());
  EXPECT_TRUE(index_->RecountTotals().status().IsIOError());
  EXPECT_TRUE(index_->RecoveryRows().status().IsIOError());
  EXPECT_TRUE(index_->DeleteDeviceRows("a").status().IsIOError());
  EXPECT_TRUE(index_->FindFrame(1).status().IsIOError());
  EXPECT_TRUE(index_->ListFrames("a", 0, 1000, 10, FrameOrder::kNewestFirst).status().IsIOError());
}

}  // namespace
}  // namespace iotstream::store
