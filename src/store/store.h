// Store: the only code that touches the disk. SQLite (WAL) holds devices and the frame index; frame
// JPEGs are appended to segment files, one open segment per device, under
// <data_dir>/frames/<device>/<YYYYMMDDHH>/<first_frame_id>.seg (a new one each hour or past segment_max_bytes).
// Why segments: creating and deleting one file per frame cost ext4 ~100-200 us of kernel time per frame, in
// stretches the HTTP threads could not preempt; an append costs a copy into the page cache.
//
// Writes go through one storage thread fed by a bounded queue and are batched in transactions: a frame's bytes
// are appended before its index row commits, so a crash can leave only bytes no row points to, at the end of a
// segment or in a segment no row names; Open() cuts or removes those (and drops rows whose bytes vanished).
// Retention removes index rows, and a segment file once no row points into it: the disk may hold up to a
// segment per device beyond the byte budgets. Durability: a committed frame survives a process crash
// (kill -9); SQLite runs with synchronous=NORMAL, so the last commits may be lost on power failure.
//
// A frame the disk refuses (full, read-only, its folder removed) is counted in write_errors and its `done` gets
// IOError; nothing stored before is touched, and writing resumes by itself with the first frame that fits again.
//
// Thread-safety: every public method may be called from any thread. Enqueue/SaveDevices/DeleteDevice
// never block on the disk. ListFrames/ReadFrame/LoadDevices do disk I/O: call them off I/O threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu_priority.h"
#include "core/device.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "core/status.h"

namespace iotstream::store {

struct StoreOptions {
  std::string data_dir = "./data";                        // created if missing
  // Behaviour
  uint64_t retention_max_bytes = 512ull << 20;            // all devices together; oldest frames go first
  uint64_t retention_device_max_bytes = 0;                // per device; 0 = only the total applies
  int64_t retention_max_age_ms = 24LL * 3600 * 1000;      // frames older than this go; 0 = no age limit
  // Performance
  size_t queue_max_frames = 4096;                         // frames waiting for the storage thread
  size_t queue_max_bytes = 256ull << 20;                  // JPEG bytes waiting for the storage thread
  size_t batch_max_frames = 256;                          // frames per transaction
  uint64_t segment_max_bytes = 8ull << 20;                // a segment takes no frames once it holds this much
  int thread_nice = cpu_priority::kStorage;               // the storage thread's CPU priority
};

struct StoredFrame {
  uint64_t id = 0;
  std::string device_id;
  int64_t capture_ts_ms = 0;
  int64_t received_ts_ms = 0;
  uint64_t size = 0;
  int width = 0;
  int height = 0;
};

struct StoreStats {
  size_t queue_frames = 0;   // frames waiting to be written
  size_t queue_bytes = 0;
  uint64_t frames = 0;       // frames in the index
  uint64_t bytes = 0;        // their JPEG bytes
  uint64_t budget_bytes = 0; // StoreOptions::retention_max_bytes: retention keeps `bytes` under it
  // Since start:
  uint64_t stored = 0;        // frames written and indexed
  uint64_t dropped = 0;       // frames refused because the queue was full
  uint64_t write_errors = 0;  // frames that failed to write
  uint64_t evicted = 0;       // frames removed by retention
};

// The order ListFrames returns frames in: by capture time, then id.
enum class FrameOrder { kNewestFirst, kOldestFirst };

// How many frames were captured in one time bucket (see Store::FrameDensity).
struct DensityBucket {
  int64_t start_ms = 0;  // a multiple of the bucket length
  uint64_t frames = 0;
};

// Called once from the storage thread (or at once from the caller's thread when refused).
using StoreCallback = std::function<void(Status)>;

class Store {
 public:
  // Opens or creates the store, cleans up after an interrupted run and starts the storage thread.
  // IOError when the folder or database cannot be used.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, Metrics& metrics);
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The id after the highest one ever stored (ids are never reused across restarts).
  virtual uint64_t next_frame_id() const = 0;
  virtual Result<std::vector<DeviceRecord>> LoadDevices() = 0;

  // Queues the frame for writing. Never blocks. When the queue is over a bound, or the store is closed,
  // the frame is dropped and counted, `done` (if set) gets Unavailable at once, and false is returned.
  // Otherwise `done` runs on the storage thread after the frame's transaction commits (or IOError).
  virtual bool Enqueue(const FramePtr& frame, StoreCallback done) = 0;
  // Queues an upsert of these records (never dropped; devices are few).
  virtual void SaveDevices(std::vector<DeviceRecord> records) = 0;
  // Queues removal of the device, its index rows and its files; `done` runs after (OK even if unknown).
  virtual void DeleteDevice(const std::string& id, StoreCallback done) = 0;

  // Frames of `device_id` with capture time in [from_ms, to_ms], in `order`, at most `limit`.
  virtual Result<std::vector<StoredFrame>> ListFrames(const std::string& device_id, int64_t from_ms, int64_t to_ms,
                                                      size_t limit, FrameOrder order) = 0;
  // How many frames of `device_id` were captured in [from_ms, to_ms], per bucket of `bucket_ms` (buckets start at
  // multiples of it), oldest first; buckets without frames are left out. REQUIRES: bucket_ms > 0, from_ms >= 0.
  virtual Result<std::vector<DensityBucket>> FrameDensity(const std::string& device_id, int64_t from_ms,
                                                          int64_t to_ms, int64_t bucket_ms) = 0;
  // The frame's JPEG bytes; NotFound if not stored (or already evicted).
  virtual Result<std::string> ReadFrame(uint64_t frame_id, StoredFrame* meta) = 0;

  virtual StoreStats stats() const = 0;
  // Stops taking frames, writes everything already queued, stops the thread and closes SQLite. Idempotent.
  virtual void Close() = 0;

 protected:
  Store() = default;
};

}  // namespace iotstream::store
