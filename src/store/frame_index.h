// FrameIndex: the store's SQLite tables (frames, devices, meta) and every query on them, private to store/.
// A frames row names a JPEG by segment path (relative to the data folder), byte offset and size; meta keeps the
// highest frame id ever stored, so that ids are not reused after everything was evicted.
//
// Thread-safety: two connections. The writer methods (everything but LoadDevices, ListFrames, FrameDensity and
// FindFrame) are
// for the storage thread only, and Begin/Commit/Rollback bracket its batches. The reader methods may be called
// from any thread; a mutex serialises their connection.
// Ownership: owns both connections and their prepared statements, finalised before the connections close.
// Errors: IOError with SQLite's message; a query never reports an error as "no rows". NotFound only from
// FindFrame.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/device.h"
#include "core/frame.h"
#include "core/status.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace iotstream::store {

// A frames row as recovery needs it.
struct IndexedFrame {
  uint64_t id = 0;
  std::string path;
  uint64_t end = 0;  // file_offset + size: the segment must hold this many bytes
};

// A frames row as eviction needs it.
struct EvictionCandidate {
  uint64_t id = 0;
  std::string device;
  uint64_t size = 0;
  std::string path;
};

// The index's totals, recounted from the frames table.
struct IndexTotals {
  std::unordered_map<std::string, uint64_t> device_bytes;
  std::unordered_map<std::string, uint64_t> segment_frames;  // rows per segment path
  uint64_t total_bytes = 0;
  uint64_t frames = 0;
};

// Where a stored frame's bytes are.
struct FrameLocation {
  StoredFrame frame;
  std::string path;  // its segment, relative to the data folder
  uint64_t offset = 0;
};

class FrameIndex {
 public:
  // Opens (creating the tables, or adding file_offset to an index from before segments) and prepares the
  // statements. IOError if the database cannot be used.
  static Result<std::unique_ptr<FrameIndex>> Open(const std::string& db_path);
  FrameIndex(const FrameIndex&) = delete;
  FrameIndex& operator=(const FrameIndex&) = delete;

  // ---- storage thread ----
  Result<std::vector<IndexedFrame>> RecoveryRows();
  // The highest frame id recorded in meta; 0 if none.
  Result<uint64_t> LastFrameId();
  Result<IndexTotals> RecountTotals();

  Status Begin();
  Status Commit();
  void Rollback();
  // In the open transaction.
  Status InsertFrame(const Frame::Meta& meta, uint64_t size, const std::string& path, uint64_t offset);
  Status UpsertDevice(const DeviceRecord& record);
  // Raises meta's last frame id to `id` (never lowers it).
  Status RaiseLastFrameId(uint64_t id);
  struct DeviceRows {
    uint64_t frames = 0;
    uint64_t bytes = 0;
  };
  // Deletes the device's frames rows and its devices row; what the frames held.
  Result<DeviceRows> DeleteDeviceRows(const std::string& device);

  // Deletes these frames rows in a transaction of their own (rolled back on failure).
  Status DeleteFrames(const std::vector<uint64_t>& ids);

  // Eviction candidates, oldest (lowest id) first, at most `limit`: each retention budget has its own query.
  Result<std::vector<EvictionCandidate>> OldestReceivedBefore(int64_t cutoff_ms, size_t limit);
  Result<std::vector<EvictionCandidate>> OldestOfDevice(const std::string& device, size_t limit);
  Result<std::vector<EvictionCandidate>> OldestOverall(size_t limit);

  // ---- any thread ----
  // The devices' rows, and a record made from its frames for each device that has frames but no row (its row was
  // not saved yet when the process died).
  Result<std::vector<DeviceRecord>> LoadDevices();
  // Frames of `device` captured in [from_ms, to_ms], in `order`, at most `limit`.
  Result<std::vector<StoredFrame>> ListFrames(const std::string& device, int64_t from_ms, int64_t to_ms,
                                              size_t limit, FrameOrder order);
  // Frames of `device` captured in [from_ms, to_ms] counted per bucket of `bucket_ms`, oldest first.
  Result<std::vector<DensityBucket>> FrameDensity(const std::string& device, int64_t from_ms, int64_t to_ms,
                                                  int64_t bucket_ms);
  // NotFound if no row has this id.
  Result<FrameLocation> FindFrame(uint64_t frame_id);

 private:
  FrameIndex() = default;
  Status Init(const std::string& db_path);
  Result<std::vector<EvictionCandidate>> Candidates(Stmt& query);

  // The connections come first so that the statements are finalised before they close.
  Db writer_;
  std::mutex reader_mu_;
  Db reader_;  // guarded by reader_mu_

  // Storage thread only.
  Stmt insert_frame_;
  Stmt upsert_device_;
  Stmt raise_last_id_;
  Stmt delete_frame_;
  Stmt oldest_before_;
  Stmt oldest_of_device_;
  Stmt oldest_overall_;
};

}  // namespace iotstream::store
