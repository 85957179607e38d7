#include "store/store.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "core/clock.h"
#include "core/log.h"
#include "store/files.h"
#include "store/sqlite.h"

namespace iotstream::store {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', location TEXT NOT NULL DEFAULT '',
  first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
  frames_received INTEGER NOT NULL, bytes_received INTEGER NOT NULL, frames_rejected INTEGER NOT NULL,
  last_frame_bytes INTEGER NOT NULL, last_width INTEGER NOT NULL, last_height INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
  id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, capture_ts_ms INTEGER NOT NULL, received_ts_ms INTEGER NOT NULL,
  size INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, path TEXT NOT NULL,
  file_offset INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS frames_by_device ON frames(device_id, capture_ts_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

std::string HourFolder(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H", &tm);
  return buf;
}

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
        frames_root_(root_ / "frames"),
        stored_(metrics.counter("store_frames_stored_total", "frames written to disk and indexed")),
        dropped_(metrics.counter("store_frames_dropped_total", "frames dropped because the storage queue was full")),
        errors_(metrics.counter("store_write_errors_total", "frames that failed to write")),
        evicted_(metrics.counter("store_frames_evicted_total", "frames removed by retention")),
        queue_gauge_(metrics.gauge("store_queue_frames", "frames waiting for the storage thread")),
        bytes_gauge_(metrics.gauge("store_bytes", "JPEG bytes held on disk")),
        batch_latency_(metrics.histogram("store_batch_duration_seconds", "time to write and commit one batch")) {}

  ~StoreImpl() override { Close(); }

  Status Init() {
    std::error_code ec;
    fs::create_directories(frames_root_, ec);
    if (ec) return Status::IOError("cannot create " + frames_root_.string() + ": " + ec.message());
    const std::string db_path = (root_ / "iotstream.db").string();
    if (Status s = writer_.Open(db_path); !s.ok()) return s;
    if (Status s = writer_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s.ok()) return s;
    if (Status s = writer_.Exec(kSchema); !s.ok()) return s;
    {
      // Indexes written before segment files named one file per frame: each such file is a segment of one frame.
      Stmt has_offset(writer_.get(), "SELECT count(*) FROM pragma_table_info('frames') WHERE name = 'file_offset'");
      Result<bool> row = has_offset.Step();
      if (!row.ok()) return row.status();
      if (row.value() && has_offset.Int(0) == 0) {
        if (Status s = writer_.Exec("ALTER TABLE frames ADD COLUMN file_offset INTEGER NOT NULL DEFAULT 0"); !s.ok()) {
          return s;
        }
      }
    }
    if (Status s = reader_.Open(db_path); !s.ok()) return s;
    if (Status s = Recover(); !s.ok()) return s;

    insert_frame_ = Stmt(writer_.get(),
                         "INSERT INTO frames (id, device_id, capture_ts_ms, received_ts_ms, size, width, height, path, "
                         "file_offset) VALUES (?,?,?,?,?,?,?,?,?)");
    upsert_device_ = Stmt(writer_.get(),
                          "INSERT INTO devices VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                          "name=excluded.name, location=excluded.location, last_seen_ms=excluded.last_seen_ms, "
                          "frames_received=excluded.frames_received, bytes_received=excluded.bytes_received, "
                          "frames_rejected=excluded.frames_rejected, last_frame_bytes=excluded.last_frame_bytes, "
                          "last_width=excluded.last_width, last_height=excluded.last_height");
    if (!insert_frame_.valid() || !upsert_device_.valid()) {
      return Status::IOError(std::string("cannot prepare statements: ") + sqlite3_errmsg(writer_.get()));
    }
    thread_ = std::thread([this] { Run(); });
    return Status::Ok();
  }

  uint64_t next_frame_id() const override { return next_id_; }

  Result<std::vector<DeviceRecord>> LoadDevices() override {
    std::lock_guard lock(reader_mu_);
    Stmt q(reader_.get(),
           "SELECT id, name, location, first_seen_ms, last_seen_ms, frames_received, bytes_received, "
           "frames_rejected, last_frame_bytes, last_width, last_height FROM devices");
    return CollectRows<DeviceRecord>(q, [](const Stmt& row) {
      DeviceRecord r;
      r.id = row.Text(0);
      r.name = row.Text(1);
      r.location = row.Text(2);
      r.first_seen_ms = row.Int(3);
      r.last_seen_ms = row.Int(4);
      r.frames_received = static_cast<uint64_t>(row.Int(5));
      r.bytes_received = static_cast<uint64_t>(row.Int(6));
      r.frames_rejected = static_cast<uint64_t>(row.Int(7));
      r.last_frame_bytes = static_cast<uint64_t>(row.Int(8));
      r.last_width = static_cast<int>(row.Int(9));
      r.last_height = static_cast<int>(row.Int(10));
      return r;
    });
  }

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
                                              size_t limit) override {
    std::lock_guard lock(reader_mu_);
    Stmt q(reader_.get(),
           "SELECT id, device_id, capture_ts_ms, received_ts_ms, size, width, height FROM frames "
           "WHERE device_id = ? AND capture_ts_ms BETWEEN ? AND ? ORDER BY capture_ts_ms DESC, id DESC LIMIT ?");
    q.Bind(1, device_id).Bind(2, from_ms).Bind(3, to_ms).Bind(4, static_cast<int64_t>(limit));
    return CollectRows<StoredFrame>(q, RowToFrame);
  }

  Result<std::string> ReadFrame(uint64_t frame_id, StoredFrame* meta) override {
    std::string path;
    StoredFrame found;
    uint64_t offset = 0;
    {
      std::lock_guard lock(reader_mu_);
      Stmt q(reader_.get(),
             "SELECT id, device_id, capture_ts_ms, received_ts_ms, size, width, height, path, file_offset FROM frames "
             "WHERE id = ?");
      q.Bind(1, static_cast<int64_t>(frame_id));
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!row.value()) return Status::NotFound("no stored frame " + std::to_string(frame_id));
      found = RowToFrame(q);
      path = q.Text(7);
      offset = static_cast<uint64_t>(q.Int(8));
    }
    if (meta) *meta = found;
    // Evicted between the query and the read: the frame is gone, as if the query had come later.
    return ReadFileRange(root_ / path, offset, found.size, "stored frame " + std::to_string(frame_id));
  }

  StoreStats stats() const override {
    StoreStats s;
    std::lock_guard lock(mu_);
    s.queue_frames = queued_frames_;
    s.queue_bytes = queued_bytes_;
    s.frames = index_frames_;
    s.bytes = total_bytes_;
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
    insert_frame_ = Stmt();
    upsert_device_ = Stmt();
  }

 private:
  // A device's segment being appended to.
  struct Segment {
    int fd = -1;
    std::string rel;    // its path under root_, as the index names it
    std::string hour;   // the hour folder it is in
    uint64_t size = 0;  // bytes in the file
  };

  static StoredFrame RowToFrame(const Stmt& q) {
    StoredFrame f;
    f.id = static_cast<uint64_t>(q.Int(0));
    f.device_id = q.Text(1);
    f.capture_ts_ms = q.Int(2);
    f.received_ts_ms = q.Int(3);
    f.size = static_cast<uint64_t>(q.Int(4));
    f.width = static_cast<int>(q.Int(5));
    f.height = static_cast<int>(q.Int(6));
    return f;
  }

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
    struct Row {
      uint64_t id;
      std::string path;
      uint64_t end;
    };
    std::vector<Row> rows;
    std::unordered_map<std::string, uint64_t> indexed_end;  // segment -> end of its last indexed frame
    {
      Stmt q(writer_.get(), "SELECT id, path, file_offset + size FROM frames");
      Status st = ForEachRow(q, [&](const Stmt& row) {
        rows.push_back({static_cast<uint64_t>(row.Int(0)), row.Text(1), static_cast<uint64_t>(row.Int(2))});
        uint64_t& end = indexed_end[rows.back().path];
        end = std::max(end, rows.back().end);
      });
      if (!st.ok()) return st;
    }
    uint64_t max_id = 0;
    {
      Stmt q(writer_.get(), "SELECT value FROM meta WHERE key = 'last_frame_id'");
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (row.value()) max_id = static_cast<uint64_t>(q.Int(0));
    }
    size_t orphans = 0, trimmed = 0;
    std::unordered_map<std::string, uint64_t> on_disk;  // indexed segment -> its size
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(frames_root_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string rel = it->path().lexically_relative(root_).generic_string();
      const auto want = indexed_end.find(rel);
      if (want == indexed_end.end()) {
        fs::remove(it->path(), ec);
        ++orphans;
        continue;
      }
      uint64_t size = it->file_size(ec);
      if (!ec && size > want->second) {
        fs::resize_file(it->path(), want->second, ec);
        size = want->second;
        ++trimmed;
      }
      if (ec) return Status::IOError("cannot repair " + it->path().string() + ": " + ec.message());
      on_disk[rel] = size;
    }
    if (ec) return Status::IOError("cannot scan " + frames_root_.string() + ": " + ec.message());
    size_t missing = 0;
    Stmt del(writer_.get(), "DELETE FROM frames WHERE id = ?");
    if (Status s = writer_.Exec("BEGIN"); !s.ok()) return s;
    for (const auto& row : rows) {
      max_id = std::max(max_id, row.id);
      const auto file = on_disk.find(row.path);
      if (file != on_disk.end() && row.end <= file->second) continue;
      del.Bind(1, static_cast<int64_t>(row.id));
      if (Status s = del.Run(); !s.ok()) return s;
      ++missing;
    }
    if (Status s = writer_.Exec("COMMIT"); !s.ok()) return s;
    if (Status s = RecountTotals(); !s.ok()) return s;
    next_id_ = max_id + 1;
    bytes_gauge_.Set(static_cast<int64_t>(total_bytes_));
    if (orphans > 0 || trimmed > 0 || missing > 0) {
      IOT_LOG(kWarn) << "store: recovered after an interrupted run: removed " << orphans << " unindexed file(s), cut "
                     << trimmed << " segment(s) back to their indexed frames, dropped " << missing
                     << " index row(s) whose bytes were missing";
    }
    IOT_LOG(kInfo) << "store: " << index_frames_ << " frames (" << total_bytes_ << " bytes) in " << root_.string();
    return Status::Ok();
  }

  void Run() {
    // Storage is background work and takes the CPU that is left (nice 19, below recognition's 10): under a
    // flood the HTTP threads win, and the queue bound turns the shortfall into counted drops instead of
    // slower answers to cameras. With spare CPU it runs at once (bench/ingest.sh: 100 cameras x 10 fps, all
    // stored). Measured at nice 5 under a wrk flood: a sixth of both cores, most of it ext4 inode work.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
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
      EnforceRetention();
    }
    for (auto& [device, segment] : open_) ::close(segment.fd);
    open_.clear();
  }

  void WriteBatch(std::vector<Item>& batch) {
    const int64_t started = MonotonicUs();
    std::vector<std::pair<StoreCallback, Status>> callbacks;
    std::vector<std::string> remove_after_commit;             // devices whose folder goes
    std::unordered_map<std::string, uint64_t> sizes_before;  // segments this batch appended to
    uint64_t max_id = 0;
    size_t stored = 0;
    Status tx = writer_.Exec("BEGIN");
    for (auto& item : batch) {
      if (auto* f = std::get_if<FrameItem>(&item)) {
        Status st = tx.ok() ? WriteFrame(*f->frame, &sizes_before) : tx;
        if (st.ok()) {
          max_id = std::max(max_id, f->frame->id());
          ++stored;
        } else {
          errors_.Add();
          IOT_LOG(kWarn) << "store: frame " << f->frame->id() << ": " << st.ToString();
        }
        if (f->done) callbacks.emplace_back(std::move(f->done), st);
      } else if (auto* d = std::get_if<DevicesItem>(&item)) {
        for (const auto& r : d->records) {
          Status st = upsert_device_.Bind(1, r.id).Bind(2, r.name).Bind(3, r.location).Bind(4, r.first_seen_ms)
                          .Bind(5, r.last_seen_ms).Bind(6, static_cast<int64_t>(r.frames_received))
                          .Bind(7, static_cast<int64_t>(r.bytes_received)).Bind(8, static_cast<int64_t>(r.frames_rejected))
                          .Bind(9, static_cast<int64_t>(r.last_frame_bytes)).Bind(10, int64_t{r.last_width})
                          .Bind(11, int64_t{r.last_height}).Run();
          if (!st.ok()) IOT_LOG(kWarn) << "store: device " << r.id << ": " << st.ToString();
        }
      } else if (auto* del = std::get_if<DeleteItem>(&item)) {
        Status st = DeleteDeviceRows(del->device_id);
        if (st.ok()) remove_after_commit.push_back(del->device_id);
        if (del->done) callbacks.emplace_back(std::move(del->done), st);
      }
    }
    if (max_id > 0) {
      Stmt m(writer_.get(), "INSERT INTO meta VALUES ('last_frame_id', ?) ON CONFLICT(key) DO UPDATE SET "
                            "value = max(value, excluded.value)");
      m.Bind(1, static_cast<int64_t>(max_id));
      if (tx.ok()) tx = m.Run();
    }
    if (tx.ok()) tx = writer_.Exec("COMMIT");
    if (!tx.ok()) {
      IOT_LOG(kError) << "store: batch of " << batch.size() << " failed: " << tx.ToString();
      (void)writer_.Exec("ROLLBACK");
      // Undo the appends and recount the in-memory totals: rare path.
      for (const auto& [rel, size] : sizes_before) TruncateSegment(rel, size);
      if (Status st = RecountTotals(); !st.ok()) IOT_LOG(kError) << "store: cannot recount totals: " << st.ToString();
      for (auto& [cb, st] : callbacks) st = tx;
    } else {
      stored_.Add(stored);
      for (const auto& device : remove_after_commit) RemoveDeviceFiles(device);
    }
    batch_latency_.Record(MonotonicUs() - started);
    for (auto& [cb, st] : callbacks) cb(st);
  }

  // Appends the frame to its device's segment and adds its row; `sizes_before` keeps each segment's size before
  // this batch's first append to it, for a rollback.
  Status WriteFrame(const Frame& frame, std::unordered_map<std::string, uint64_t>* sizes_before) {
    const auto& m = frame.meta();
    Segment* seg = nullptr;
    if (Status st = SegmentFor(m.device_id, HourFolder(m.received_ts_ms), m.id, &seg); !st.ok()) return st;
    const uint64_t offset = seg->size;
    sizes_before->try_emplace(seg->rel, offset);
    const std::string_view jpeg = frame.jpeg();
    Status st = WriteAll(seg->fd, seg->rel, jpeg);
    if (st.ok()) {
      st = insert_frame_.Bind(1, static_cast<int64_t>(m.id)).Bind(2, m.device_id).Bind(3, m.capture_ts_ms)
               .Bind(4, m.received_ts_ms).Bind(5, static_cast<int64_t>(jpeg.size())).Bind(6, int64_t{m.width})
               .Bind(7, int64_t{m.height}).Bind(8, seg->rel).Bind(9, static_cast<int64_t>(offset)).Run();
    }
    if (!st.ok()) {
      TruncateSegment(seg->rel, offset);
      return st;
    }
    seg->size += jpeg.size();
    ++segment_frames_[seg->rel];
    std::lock_guard lock(mu_);
    device_bytes_[m.device_id] += jpeg.size();
    total_bytes_ += jpeg.size();
    ++index_frames_;
    return Status::Ok();
  }

  // The device's segment for a frame received in `hour`: the open one while it is of that hour and under
  // segment_max_bytes, else a new one named after `first_id` (ids never repeat, so neither do segment names).
  Status SegmentFor(const std::string& device, const std::string& hour, uint64_t first_id, Segment** out) {
    Segment& seg = open_[device];
    *out = &seg;
    if (seg.fd >= 0 && seg.hour == hour && seg.size < options_.segment_max_bytes) return Status::Ok();
    CloseSegment(&seg);
    const fs::path dir = frames_root_ / device / hour;
    if (known_dirs_.count(dir.string()) == 0) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return Status::IOError("cannot create " + dir.string() + ": " + ec.message());
      if (known_dirs_.size() > 4096) known_dirs_.clear();
      known_dirs_.insert(dir.string());
    }
    const std::string rel = "frames/" + device + "/" + hour + "/" + std::to_string(first_id) + ".seg";
    const fs::path full = root_ / rel;
    const int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat info {};
    if (fd < 0 || ::fstat(fd, &info) != 0) {
      const Status st = Status::IOError("open " + full.string() + ": " + std::strerror(errno));
      if (fd >= 0) ::close(fd);
      return st;
    }
    seg = Segment{fd, rel, hour, static_cast<uint64_t>(info.st_size)};
    return Status::Ok();
  }

  // Stops appending to `seg`; its file goes if retention has already taken all of its frames.
  void CloseSegment(Segment* seg) {
    if (seg->fd < 0) return;
    ::close(seg->fd);
    if (segment_frames_.count(seg->rel) == 0) RemoveSegment(seg->rel);
    *seg = Segment{};
  }

  // Removes a segment no row points into, and its hour folder once that is empty.
  void RemoveSegment(const std::string& rel) {
    std::error_code ec;
    const fs::path full = root_ / rel;
    fs::remove(full, ec);
    if (fs::is_empty(full.parent_path(), ec) && !ec) {
      fs::remove(full.parent_path(), ec);
      known_dirs_.erase(full.parent_path().string());
    }
  }

  void TruncateSegment(const std::string& rel, uint64_t size) {
    std::error_code ec;
    fs::resize_file(root_ / rel, size, ec);
    if (ec) IOT_LOG(kWarn) << "store: cannot cut " << rel << " back to " << size << " bytes: " << ec.message();
    for (auto& [device, seg] : open_) {
      if (seg.rel == rel) seg.size = size;
    }
  }

  void RemoveDeviceFiles(const std::string& device) {
    if (auto it = open_.find(device); it != open_.end()) {
      if (it->second.fd >= 0) ::close(it->second.fd);
      open_.erase(it);
    }
    const std::string prefix = "frames/" + device + "/";
    std::erase_if(segment_frames_, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
    known_dirs_.clear();
    std::error_code ec;
    fs::remove_all(frames_root_ / device, ec);
  }

  Status DeleteDeviceRows(const std::string& id) {
    Stmt count(writer_.get(), "SELECT count(*), coalesce(sum(size), 0) FROM frames WHERE device_id = ?");
    count.Bind(1, id);
    uint64_t n = 0, bytes = 0;
    Result<bool> row = count.Step();
    if (!row.ok()) return row.status();
    if (row.value()) {
      n = static_cast<uint64_t>(count.Int(0));
      bytes = static_cast<uint64_t>(count.Int(1));
    }
    Stmt del_frames(writer_.get(), "DELETE FROM frames WHERE device_id = ?");
    if (Status st = del_frames.Bind(1, id).Run(); !st.ok()) return st;
    Stmt del_device(writer_.get(), "DELETE FROM devices WHERE id = ?");
    if (Status st = del_device.Bind(1, id).Run(); !st.ok()) return st;
    std::lock_guard lock(mu_);
    device_bytes_.erase(id);
    total_bytes_ -= std::min(total_bytes_, bytes);
    index_frames_ -= std::min(index_frames_, n);
    return Status::Ok();
  }

  // Reloads the totals from the index; on an error they stay as they were.
  Status RecountTotals() {
    std::unordered_map<std::string, uint64_t> per_device, per_segment;
    uint64_t total = 0, frames = 0;
    Stmt q(writer_.get(), "SELECT device_id, size, path FROM frames");
    Status st = ForEachRow(q, [&](const Stmt& row) {
      per_device[row.Text(0)] += static_cast<uint64_t>(row.Int(1));
      total += static_cast<uint64_t>(row.Int(1));
      ++per_segment[row.Text(2)];
      ++frames;
    });
    if (!st.ok()) return st;
    segment_frames_ = std::move(per_segment);
    std::lock_guard lock(mu_);
    device_bytes_ = std::move(per_device);
    total_bytes_ = total;
    index_frames_ = frames;
    return Status::Ok();
  }

  // Removes the oldest frames until every budget holds. Runs on the storage thread between batches.
  void EnforceRetention() {
    const int64_t now = NowMs();
    if (options_.retention_max_age_ms > 0 && now - last_age_check_ms_ >= 1000) {
      last_age_check_ms_ = now;
      while (Evict("SELECT id, device_id, size, path FROM frames WHERE received_ts_ms < ? ORDER BY id LIMIT 512",
                   now - options_.retention_max_age_ms, "", UINT64_MAX) == 512) {
      }
    }
    if (options_.retention_device_max_bytes > 0) {
      std::vector<std::string> over;
      {
        std::lock_guard lock(mu_);
        for (const auto& [dev, bytes] : device_bytes_) {
          if (bytes > options_.retention_device_max_bytes) over.push_back(dev);
        }
      }
      for (const auto& dev : over) {
        while (DeviceBytes(dev) > options_.retention_device_max_bytes) {
          if (Evict("SELECT id, device_id, size, path FROM frames WHERE device_id = ? ORDER BY id LIMIT 64", 0, dev,
                    DeviceBytes(dev) - options_.retention_device_max_bytes) == 0) {
            break;
          }
        }
      }
    }
    while (TotalBytes() > options_.retention_max_bytes) {
      if (Evict("SELECT id, device_id, size, path FROM frames ORDER BY id LIMIT 64", 0, "",
                TotalBytes() - options_.retention_max_bytes) == 0) {
        break;
      }
    }
    bytes_gauge_.Set(static_cast<int64_t>(TotalBytes()));
  }

  uint64_t DeviceBytes(const std::string& dev) {
    std::lock_guard lock(mu_);
    auto it = device_bytes_.find(dev);
    return it == device_bytes_.end() ? 0 : it->second;
  }

  uint64_t TotalBytes() {
    std::lock_guard lock(mu_);
    return total_bytes_;
  }

  // Runs `select` (binding `cutoff` or `device` as its parameter) and, in the order it returns, takes rows
  // until they add up to `bytes_to_free`; deletes those rows in one transaction, then each segment left with no
  // frame (but a device's open one, which goes when it is closed). Returns how many frames went.
  size_t Evict(const char* select, int64_t cutoff, const std::string& device, uint64_t bytes_to_free) {
    struct Victim {
      int64_t id;
      std::string device;
      uint64_t size;
      std::string path;
    };
    std::vector<Victim> victims;
    {
      Stmt q(writer_.get(), select);
      if (!device.empty()) {
        q.Bind(1, device);
      } else if (std::string_view(select).find('?') != std::string_view::npos) {
        q.Bind(1, cutoff);
      }
      uint64_t freed = 0;
      while (freed < bytes_to_free) {
        Result<bool> row = q.Step();
        if (!row.ok()) {
          IOT_LOG(kError) << "store: retention failed: " << row.status().ToString();
          return 0;
        }
        if (!row.value()) break;
        victims.push_back({q.Int(0), q.Text(1), static_cast<uint64_t>(q.Int(2)), q.Text(3)});
        freed += victims.back().size;
      }
    }
    if (victims.empty()) return 0;
    Stmt del(writer_.get(), "DELETE FROM frames WHERE id = ?");
    Status st = writer_.Exec("BEGIN");
    for (const auto& v : victims) {
      if (!st.ok()) break;
      st = del.Bind(1, v.id).Run();
    }
    if (st.ok()) st = writer_.Exec("COMMIT");
    if (!st.ok()) {
      (void)writer_.Exec("ROLLBACK");
      IOT_LOG(kError) << "store: retention failed: " << st.ToString();
      return 0;
    }
    for (const auto& v : victims) {
      const auto it = segment_frames_.find(v.path);
      if (it == segment_frames_.end() || --it->second > 0) continue;
      segment_frames_.erase(it);
      const auto open = open_.find(v.device);
      if (open == open_.end() || open->second.rel != v.path) RemoveSegment(v.path);
    }
    {
      std::lock_guard lock(mu_);
      for (const auto& v : victims) {
        auto& b = device_bytes_[v.device];
        b -= std::min(b, v.size);
        total_bytes_ -= std::min(total_bytes_, v.size);
      }
      index_frames_ -= std::min<uint64_t>(index_frames_, victims.size());
    }
    evicted_.Add(victims.size());
    return victims.size();
  }

  const StoreOptions options_;
  const fs::path root_;
  const fs::path frames_root_;
  Counter& stored_;
  Counter& dropped_;
  Counter& errors_;
  Counter& evicted_;
  Gauge& queue_gauge_;
  Gauge& bytes_gauge_;
  Histogram& batch_latency_;

  // Storage thread only (after Init).
  Db writer_;
  Stmt insert_frame_;
  Stmt upsert_device_;
  std::unordered_set<std::string> known_dirs_;
  std::unordered_map<std::string, Segment> open_;              // by device id
  std::unordered_map<std::string, uint64_t> segment_frames_;   // indexed frames per segment path
  int64_t last_age_check_ms_ = 0;
  std::thread thread_;
  uint64_t next_id_ = 1;  // set in Init, then read-only

  std::mutex reader_mu_;
  Db reader_;  // guarded by reader_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;                                  // guarded by mu_
  size_t queued_frames_ = 0;                                // guarded by mu_
  size_t queued_bytes_ = 0;                                 // guarded by mu_
  bool closing_ = false;                                    // guarded by mu_
  std::unordered_map<std::string, uint64_t> device_bytes_;  // guarded by mu_
  uint64_t total_bytes_ = 0;                                // guarded by mu_
  uint64_t index_frames_ = 0;                               // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, Metrics& metrics) {
  auto store = std::make_unique<StoreImpl>(options, metrics);
  if (Status s = store->Init(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace iotstream::store
