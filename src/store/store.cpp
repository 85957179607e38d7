#include "store/store.h"

#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include "core/clock.h"
#include "core/cpu_priority.h"
#include "core/log.h"
#include "store/files.h"
#include "store/frame_index.h"
#include "store/retention.h"
#include "store/segments.h"
#include "store/usage.h"

namespace iotstream::store {
namespace fs = std::filesystem;
namespace {

struct FrameItem {
  FramePtr frame;
  StoreCallback done;
};
struct DevicesItem {
  std::vector<DeviceRecord> records;
};
struct DeleteItem {
  std::string device_id;
  StoreCallback done;
};
using Item = std::variant<FrameItem, DevicesItem, DeleteItem>;

class StoreImpl final : public Store {
 public:
  StoreImpl(const StoreOptions& options, Metrics& metrics)
      : options_(options),
        root_(options.data_dir),
        stored_(metrics.counter("store_frames_stored_total", "frames written to disk and indexed")),
        dropped_(metrics.counter("store_frames_dropped_total", "frames dropped because the storage queue was full")),
        errors_(metrics.counter("store_write_errors_total", "frames that failed to write")),
        evicted_(metrics.counter("store_frames_evicted_total", "frames removed by retention")),
        queue_gauge_(metrics.gauge("store_queue_frames", "frames waiting for the storage thread")),
        bytes_gauge_(metrics.gauge("store_bytes", "JPEG bytes held on disk")),
        batch_latency_(metrics.histogram("store_batch_duration_seconds", "time to write and commit one batch")),
        segments_(root_, options.segment_max_bytes) {}

  ~StoreImpl() override { Close(); }

  Status Init() {
    std::error_code ec;
    const fs::path frames_root = root_ / "frames";
    fs::create_directories(frames_root, ec);
    if (ec) return Status::IOError("cannot create " + frames_root.string() + ": " + ec.message());
    // Said plainly at start, rather than as SQLite's "unable to open database file" or a first failed frame.
    if (::access(frames_root.c_str(), W_OK) != 0 || ::access(root_.c_str(), W_OK) != 0) {
      return Status::IOError("the data folder " + root_.string() + " is not writable: " + std::strerror(errno));
    }
    auto index = FrameIndex::Open((root_ / "iotstream.db").string());
    if (!index.ok()) return index.status();
    index_ = std::move(index).value();
    retention_ = std::make_unique<Retention>(options_, *index_, segments_, usage_, evicted_);
    if (Status s = Recover(); !s.ok()) return s;
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  uint64_t next_frame_id() const override { return next_id_; }

  Result<std::vector<DeviceRecord>> LoadDevices() override { return index_->LoadDevices(); }

  bool Enqueue(const FramePtr& frame, StoreCallback done) override {
    const size_t bytes = frame->jpeg().size();
    {
      std::lock_guard lock(mu_);
      if (!closing_ && queued_frames_ < options_.queue_max_frames && queued_bytes_ + bytes <= options_.queue_max_bytes) {
        queue_.emplace_back(FrameItem{frame, std::move(done)});
        ++queued_frames_;
        queued_bytes_ += bytes;
        queue_gauge_.Set(static_cast<int64_t>(queued_frames_));
        cv_.notify_one();
        return true;
      }
    }
    dropped_.Add();
    if (done) done(Status::Unavailable("storage queue is full"));
    return false;
  }

  void SaveDevices(std::vector<DeviceRecord> records) override {
    if (records.empty()) return;
    Push(DevicesItem{std::move(records)});
  }

  void DeleteDevice(const std::string& id, StoreCallback done) override {
    if (!Push(DeleteItem{id, done}) && done) done(Status::Unavailable("store is closed"));
  }

  Result<std::vector<StoredFrame>> ListFrames(const std::string& device_id, int64_t from_ms, int64_t to_ms,
                                              size_t limit, FrameOrder order) override {
    return index_->ListFrames(device_id, from_ms, to_ms, limit, order);
  }

  Result<std::vector<DensityBucket>> FrameDensity(const std::string& device_id, int64_t from_ms, int64_t to_ms,
                                                  int64_t bucket_ms) override {
    return index_->FrameDensity(device_id, from_ms, to_ms, bucket_ms);
  }

  Result<std::string> ReadFrame(uint64_t frame_id, StoredFrame* meta) override {
    Result<FrameLocation> found = index_->FindFrame(frame_id);
    if (!found.ok()) return found.status();
    const FrameLocation& at = found.value();
    if (meta) *meta = at.frame;
    // Evicted between the query and the read: the frame is gone, as if the query had come later.
    return ReadFileRange(root_ / at.path, at.offset, at.frame.size, "stored frame " + std::to_string(frame_id));
  }

  StoreStats stats() const override {
    StoreStats s;
    {
      std::lock_guard lock(mu_);
      s.queue_frames = queued_frames_;
      s.queue_bytes = queued_bytes_;
    }
    s.frames = usage_.frames();
    s.bytes = usage_.total_bytes();
    s.budget_bytes = options_.retention_max_bytes;
    s.stored = stored_.value();
    s.dropped = dropped_.value();
    s.write_errors = errors_.value();
    s.evicted = evicted_.value();
    return s;
  }

  void Close() override {
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool Push(Item item) {
    std::lock_guard lock(mu_);
    if (closing_) return false;
    queue_.push_back(std::move(item));
    cv_.notify_one();
    return true;
  }

  // Makes the index and the folder agree after whatever ended the last run, and loads the totals: a segment
  // longer than its indexed frames (an interrupted batch appended to it) is cut back, a file the index does not
  // name is removed, and rows whose bytes are not all on disk are dropped.
  Status Recover() {
    Result<std::vector<IndexedFrame>> rows = index_->RecoveryRows();
    if (!rows.ok()) return rows.status();
    std::unordered_map<std::string, uint64_t> indexed_end;  // segment -> end of its last indexed frame
    for (const auto& row : rows.value()) {
      uint64_t& end = indexed_end[row.path];
      end = std::max(end, row.end);
    }
    Result<uint64_t> last_id = index_->LastFrameId();
    if (!last_id.ok()) return last_id.status();
    Result<SegmentRepair> repair = segments_.Repair(indexed_end);
    if (!repair.ok()) return repair.status();
    const auto& on_disk = repair.value().sizes;
    uint64_t max_id = last_id.value();
    std::vector<uint64_t> missing;
    for (const auto& row : rows.value()) {
      max_id = std::max(max_id, row.id);
      const auto file = on_disk.find(row.path);
      if (file == on_disk.end() || row.end > file->second) missing.push_back(row.id);
    }
    if (Status s = index_->DeleteFrames(missing); !s.ok()) return s;
    if (Status s = RecountTotals(); !s.ok()) return s;
    next_id_ = max_id + 1;
    bytes_gauge_.Set(static_cast<int64_t>(usage_.total_bytes()));
    const SegmentRepair& r = repair.value();
    if (r.orphans > 0 || r.trimmed > 0 || !missing.empty()) {
      IOT_LOG(kWarn) << "store: recovered after an interrupted run: removed " << r.orphans
                     << " unindexed file(s), cut " << r.trimmed
                     << " segment(s) back to their indexed frames, dropped " << missing.size()
                     << " index row(s) whose bytes were missing";
    }
    IOT_LOG(kInfo) << "store: " << usage_.frames() << " frames (" << usage_.total_bytes() << " bytes) in "
                   << root_.string();
    return Status::Ok();
  }

  void Run() {
    // Background work: under a flood the HTTP threads win, and the queue bound turns the shortfall into counted
    // drops instead of slower answers to cameras; with spare CPU it runs at once.
    cpu_priority::SetCurrentThread(options_.thread_nice);
    std::vector<Item> batch;
    while (true) {
      batch.clear();
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(1), [this] { return !queue_.empty() || closing_; });
        if (queue_.empty() && closing_) break;
        size_t frames = 0;
        while (!queue_.empty() && frames < options_.batch_max_frames) {
          if (auto* f = std::get_if<FrameItem>(&queue_.front())) {
            ++frames;
            queued_bytes_ -= f->frame->jpeg().size();
          }
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        queued_frames_ -= frames;
        queue_gauge_.Set(static_cast<int64_t>(queued_frames_));
      }
      if (!batch.empty()) WriteBatch(batch);
      retention_->Enforce(NowMs());
      bytes_gauge_.Set(static_cast<int64_t>(usage_.total_bytes()));
    }
    segments_.CloseAll();
  }

  void WriteBatch(std::vector<Item>& batch) {
    const int64_t started = MonotonicUs();
    std::vector<std::pair<StoreCallback, Status>> callbacks;
    std::vector<std::string> remove_after_commit;             // devices whose folder goes
    std::unordered_map<std::string, uint64_t> sizes_before;  // segments this batch appended to
    uint64_t max_id = 0;
    size_t stored = 0;
    Status tx = index_->Begin();
    for (auto& item : batch) {
      if (auto* f = std::get_if<FrameItem>(&item)) {
        Status st = tx.ok() ? WriteFrame(*f->frame, &sizes_before) : tx;
        if (st.ok()) {
          max_id = std::max(max_id, f->frame->id());
          ++stored;
        } else {
          NoteFailed(st, 1);
        }
        if (f->done) callbacks.emplace_back(std::move(f->done), st);
      } else if (auto* d = std::get_if<DevicesItem>(&item)) {
        for (const auto& r : d->records) {
          if (Status st = index_->UpsertDevice(r); !st.ok()) {
            IOT_LOG(kWarn) << "store: device " << r.id << ": " << st.ToString();
          }
        }
      } else if (auto* del = std::get_if<DeleteItem>(&item)) {
        Status st = DeleteDeviceRows(del->device_id);
        if (st.ok()) remove_after_commit.push_back(del->device_id);
        if (del->done) callbacks.emplace_back(std::move(del->done), st);
      }
    }
    if (max_id > 0 && tx.ok()) tx = index_->RaiseLastFrameId(max_id);
    if (tx.ok()) tx = index_->Commit();
    if (!tx.ok()) {
      // The frames written before the failed commit are lost with it: counted as failed, not as stored.
      if (stored > 0) {
        NoteFailed(tx, stored);
      } else {
        IOT_LOG(kError) << "store: batch of " << batch.size() << " failed: " << tx.ToString();
      }
      index_->Rollback();
      // Undo the appends and recount the in-memory totals: rare path.
      for (const auto& [rel, size] : sizes_before) segments_.Truncate(rel, size);
      if (Status st = RecountTotals(); !st.ok()) IOT_LOG(kError) << "store: cannot recount totals: " << st.ToString();
      for (auto& [cb, st] : callbacks) st = tx;
    } else {
      stored_.Add(stored);
      if (stored > 0 && failed_since_stored_ > 0) {
        IOT_LOG(kInfo) << "store: writing frames again after " << failed_since_stored_ << " failed";
        failed_since_stored_ = 0;
      }
      for (const auto& device : remove_after_commit) segments_.RemoveDevice(device);
    }
    batch_latency_.Record(MonotonicUs() - started);
    for (auto& [cb, st] : callbacks) cb(st);
  }

  // A full, read-only or vanished disk fails every frame: only the first failure is logged, then the recovery.
  void NoteFailed(const Status& st, uint64_t frames) {
    errors_.Add(frames);
    if (failed_since_stored_ == 0) {
      IOT_LOG(kError) << "store: cannot write frames: " << st.ToString()
                      << "; they are dropped (store_write_errors_total) until writing works again";
    }
    failed_since_stored_ += frames;
  }

  // Appends the frame to its device's segment and adds its row; `sizes_before` keeps each segment's size before
  // this batch's first append to it, for a rollback.
  Status WriteFrame(const Frame& frame, std::unordered_map<std::string, uint64_t>* sizes_before) {
    const auto& m = frame.meta();
    const std::string_view jpeg = frame.jpeg();
    Result<SegmentSpan> span = segments_.Append(m.device_id, m.received_ts_ms, m.id, jpeg);
    if (!span.ok()) return span.status();
    const SegmentSpan& at = span.value();
    sizes_before->try_emplace(at.rel, at.offset);
    if (Status st = index_->InsertFrame(m, jpeg.size(), at.rel, at.offset); !st.ok()) {
      segments_.Truncate(at.rel, at.offset);
      return st;
    }
    segments_.AddFrame(at.rel);
    usage_.AddFrame(m.device_id, jpeg.size());
    return Status::Ok();
  }

  Status DeleteDeviceRows(const std::string& id) {
    Result<FrameIndex::DeviceRows> rows = index_->DeleteDeviceRows(id);
    if (!rows.ok()) return rows.status();
    usage_.RemoveDevice(id, rows.value().frames, rows.value().bytes);
    return Status::Ok();
  }

  // Reloads the totals from the index; on an error they stay as they were.
  Status RecountTotals() {
    Result<IndexTotals> totals = index_->RecountTotals();
    if (!totals.ok()) return totals.status();
    IndexTotals& t = totals.value();
    segments_.SetFrameCounts(std::move(t.segment_frames));
    usage_.Reset(std::move(t.device_bytes), t.total_bytes, t.frames);
    return Status::Ok();
  }

  const StoreOptions options_;
  const fs::path root_;
  Counter& stored_;
  Counter& dropped_;
  Counter& errors_;
  Counter& evicted_;
  Gauge& queue_gauge_;
  Gauge& bytes_gauge_;
  Histogram& batch_latency_;
  Usage usage_;

  // Storage thread only (after Init).
  std::unique_ptr<FrameIndex> index_;  // its reader methods: any thread
  Segments segments_;
  std::unique_ptr<Retention> retention_;
  std::thread thread_;
  uint64_t next_id_ = 1;  // set in Init, then read-only
  uint64_t failed_since_stored_ = 0;  // frames that failed to write since the last one stored

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;   // guarded by mu_
  size_t queued_frames_ = 0;  // guarded by mu_
  size_t queued_bytes_ = 0;   // guarded by mu_
  bool closing_ = false;      // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, Metrics& metrics) {
  auto store = std::make_unique<StoreImpl>(options, metrics);
  if (Status s = store->Init(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace iotstream::store
