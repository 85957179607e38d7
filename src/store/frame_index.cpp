#include "store/frame_index.h"

namespace iotstream::store {
namespace {

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', location TEXT NOT NULL DEFAULT '',
  first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,
  frames_received INTEGER NOT NULL, bytes_received INTEGER NOT NULL, frames_rejected INTEGER NOT NULL,
  last_frame_bytes INTEGER NOT NULL, last_width INTEGER NOT NULL, last_height INTEGER NOT NULL,
  sparse INTEGER NOT NULL DEFAULT 0, expected_interval_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS frames (
  id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, capture_ts_ms INTEGER NOT NULL, received_ts_ms INTEGER NOT NULL,
  size INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, path TEXT NOT NULL,
  file_offset INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS frames_by_device ON frames(device_id, capture_ts_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

// The frame index's schema. The later steps add what earlier versions of the first lacked: indexes written before
// segment files named one file per frame (each such file is a segment of one frame), devices saved before cameras
// could be marked sparse.
const SqliteMigration kMigrations[] = {
    {1, "frames", kSchema},
    {2, "frame_file_offset", "",
     [](Db& db) { return AddColumnIfMissing(db, "frames", "file_offset", "INTEGER NOT NULL DEFAULT 0"); }},
    {3, "device_sparse", "",
     [](Db& db) {
       if (Status s = AddColumnIfMissing(db, "devices", "sparse", "INTEGER NOT NULL DEFAULT 0"); !s.ok()) return s;
       return AddColumnIfMissing(db, "devices", "expected_interval_ms", "INTEGER NOT NULL DEFAULT 0");
     }},
};

StoredFrame RowToFrame(const Stmt& q) {
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

}  // namespace

Result<std::unique_ptr<FrameIndex>> FrameIndex::Open(const std::string& db_path) {
  std::unique_ptr<FrameIndex> index(new FrameIndex());
  if (Status st = index->Init(db_path); !st.ok()) return st;
  return index;
}

Status FrameIndex::Init(const std::string& db_path) {
  if (Status s = writer_.Open(db_path); !s.ok()) return s;
  if (Status s = writer_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s.ok()) return s;
  if (Status s = ApplyMigrations(writer_, "frame_index", kMigrations); !s.ok()) return s;
  if (Status s = reader_.Open(db_path); !s.ok()) return s;

  insert_frame_ = Stmt(writer_.get(),
                       "INSERT INTO frames (id, device_id, capture_ts_ms, received_ts_ms, size, width, height, path, "
                       "file_offset) VALUES (?,?,?,?,?,?,?,?,?)");
  upsert_device_ = Stmt(writer_.get(),
                        "INSERT INTO devices (id, name, location, first_seen_ms, last_seen_ms, frames_received, "
                        "bytes_received, frames_rejected, last_frame_bytes, last_width, last_height, sparse, "
                        "expected_interval_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                        "name=excluded.name, location=excluded.location, last_seen_ms=excluded.last_seen_ms, "
                        "frames_received=excluded.frames_received, bytes_received=excluded.bytes_received, "
                        "frames_rejected=excluded.frames_rejected, last_frame_bytes=excluded.last_frame_bytes, "
                        "last_width=excluded.last_width, last_height=excluded.last_height, sparse=excluded.sparse, "
                        "expected_interval_ms=excluded.expected_interval_ms");
  raise_last_id_ = Stmt(writer_.get(),
                        "INSERT INTO meta VALUES ('last_frame_id', ?) ON CONFLICT(key) DO UPDATE SET "
                        "value = max(value, excluded.value)");
  delete_frame_ = Stmt(writer_.get(), "DELETE FROM frames WHERE id = ?");
  oldest_before_ = Stmt(writer_.get(),
                        "SELECT id, device_id, size, path FROM frames WHERE received_ts_ms < ? ORDER BY id LIMIT ?");
  oldest_of_device_ = Stmt(writer_.get(),
                           "SELECT id, device_id, size, path FROM frames WHERE device_id = ? ORDER BY id LIMIT ?");
  oldest_overall_ = Stmt(writer_.get(), "SELECT id, device_id, size, path FROM frames ORDER BY id LIMIT ?");
  for (const Stmt* s : {&insert_frame_, &upsert_device_, &raise_last_id_, &delete_frame_, &oldest_before_,
                        &oldest_of_device_, &oldest_overall_}) {
    if (!s->valid()) return Status::IOError("cannot prepare statements: " + s->error());
  }
  return Status::Ok();
}

Result<std::vector<IndexedFrame>> FrameIndex::RecoveryRows() {
  Stmt q(writer_.get(), "SELECT id, path, file_offset + size FROM frames");
  return CollectRows<IndexedFrame>(q, [](const Stmt& row) {
    return IndexedFrame{static_cast<uint64_t>(row.Int(0)), row.Text(1), static_cast<uint64_t>(row.Int(2))};
  });
}

Result<uint64_t> FrameIndex::LastFrameId() {
  Stmt q(writer_.get(), "SELECT value FROM meta WHERE key = 'last_frame_id'");
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  return row.value() ? static_cast<uint64_t>(q.Int(0)) : uint64_t{0};
}

Result<IndexTotals> FrameIndex::RecountTotals() {
  IndexTotals t;
  Stmt q(writer_.get(), "SELECT device_id, size, path FROM frames");
  Status st = ForEachRow(q, [&](const Stmt& row) {
    t.device_bytes[row.Text(0)] += static_cast<uint64_t>(row.Int(1));
    t.total_bytes += static_cast<uint64_t>(row.Int(1));
    ++t.segment_frames[row.Text(2)];
    ++t.frames;
  });
  if (!st.ok()) return st;
  return t;
}

// IMMEDIATE: the write lock is taken (or waited for, up to the busy timeout) at the start. A deferred transaction
// that reads first cannot take it later if another connection to iotstream.db (records, the webhook outbox) committed
// meanwhile: SQLite answers "database is locked" at once, and the whole batch would be lost.
Status FrameIndex::Begin() { return writer_.Exec("BEGIN IMMEDIATE"); }

Status FrameIndex::Commit() { return writer_.Exec("COMMIT"); }

void FrameIndex::Rollback() { (void)writer_.Exec("ROLLBACK"); }

Status FrameIndex::InsertFrame(const Frame::Meta& m, uint64_t size, const std::string& path, uint64_t offset) {
  return insert_frame_.Bind(1, static_cast<int64_t>(m.id)).Bind(2, m.device_id).Bind(3, m.capture_ts_ms)
      .Bind(4, m.received_ts_ms).Bind(5, static_cast<int64_t>(size)).Bind(6, int64_t{m.width})
      .Bind(7, int64_t{m.height}).Bind(8, path).Bind(9, static_cast<int64_t>(offset)).Run();
}

Status FrameIndex::UpsertDevice(const DeviceRecord& r) {
  return upsert_device_.Bind(1, r.id).Bind(2, r.name).Bind(3, r.location).Bind(4, r.first_seen_ms)
      .Bind(5, r.last_seen_ms).Bind(6, static_cast<int64_t>(r.frames_received))
      .Bind(7, static_cast<int64_t>(r.bytes_received)).Bind(8, static_cast<int64_t>(r.frames_rejected))
      .Bind(9, static_cast<int64_t>(r.last_frame_bytes)).Bind(10, int64_t{r.last_width})
      .Bind(11, int64_t{r.last_height}).Bind(12, int64_t{r.sparse ? 1 : 0}).Bind(13, r.expected_interval_ms).Run();
}

Status FrameIndex::RaiseLastFrameId(uint64_t id) { return raise_last_id_.Bind(1, static_cast<int64_t>(id)).Run(); }

Result<FrameIndex::DeviceRows> FrameIndex::DeleteDeviceRows(const std::string& device) {
  DeviceRows rows;
  {
    Stmt count(writer_.get(), "SELECT count(*), coalesce(sum(size), 0) FROM frames WHERE device_id = ?");
    count.Bind(1, device);
    Result<bool> row = count.Step();
    if (!row.ok()) return row.status();
    if (row.value()) {
      rows.frames = static_cast<uint64_t>(count.Int(0));
      rows.bytes = static_cast<uint64_t>(count.Int(1));
    }
  }
  Stmt del_frames(writer_.get(), "DELETE FROM frames WHERE device_id = ?");
  if (Status st = del_frames.Bind(1, device).Run(); !st.ok()) return st;
  Stmt del_device(writer_.get(), "DELETE FROM devices WHERE id = ?");
  if (Status st = del_device.Bind(1, device).Run(); !st.ok()) return st;
  return rows;
}

Status FrameIndex::DeleteFrames(const std::vector<uint64_t>& ids) {
  Status st = Begin();
  for (uint64_t id : ids) {
    if (!st.ok()) break;
    st = delete_frame_.Bind(1, static_cast<int64_t>(id)).Run();
  }
  if (st.ok()) st = Commit();
  if (!st.ok()) Rollback();
  return st;
}

Result<std::vector<EvictionCandidate>> FrameIndex::OldestReceivedBefore(int64_t cutoff_ms, size_t limit) {
  oldest_before_.Bind(1, cutoff_ms).Bind(2, static_cast<int64_t>(limit));
  return Candidates(oldest_before_);
}

Result<std::vector<EvictionCandidate>> FrameIndex::OldestOfDevice(const std::string& device, size_t limit) {
  oldest_of_device_.Bind(1, device).Bind(2, static_cast<int64_t>(limit));
  return Candidates(oldest_of_device_);
}

Result<std::vector<EvictionCandidate>> FrameIndex::OldestOverall(size_t limit) {
  oldest_overall_.Bind(1, static_cast<int64_t>(limit));
  return Candidates(oldest_overall_);
}

Result<std::vector<EvictionCandidate>> FrameIndex::Candidates(Stmt& query) {
  ScopedReset reset(query);
  return CollectRows<EvictionCandidate>(query, [](const Stmt& row) {
    return EvictionCandidate{static_cast<uint64_t>(row.Int(0)), row.Text(1), static_cast<uint64_t>(row.Int(2)),
                             row.Text(3)};
  });
}

Result<std::vector<DeviceRecord>> FrameIndex::LoadDevices() {
  std::lock_guard lock(reader_mu_);
  Stmt q(reader_.get(),
         "SELECT id, name, location, first_seen_ms, last_seen_ms, frames_received, bytes_received, "
         "frames_rejected, last_frame_bytes, last_width, last_height, sparse, expected_interval_ms FROM devices");
  auto devices = CollectRows<DeviceRecord>(q, [](const Stmt& row) {
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
    r.sparse = row.Int(11) != 0;
    r.expected_interval_ms = row.Int(12);
    return r;
  });
  if (!devices.ok()) return devices;
  // Devices are saved once a second, frames as they come: a camera whose first frames were stored (and acknowledged)
  // just before a crash has frames but no row. It is made again from its frames, so that they stay listed. The
  // distinct ids are read by skipping through the frames_by_device index: one lookup per device, not per frame.
  Stmt orphans(reader_.get(),
               "WITH RECURSIVE ids(id) AS (SELECT min(device_id) FROM frames UNION ALL "
               "SELECT (SELECT min(device_id) FROM frames WHERE device_id > ids.id) FROM ids WHERE ids.id IS NOT NULL) "
               "SELECT i.id, (SELECT min(received_ts_ms) FROM frames WHERE device_id = i.id), "
               "(SELECT max(received_ts_ms) FROM frames WHERE device_id = i.id), "
               "(SELECT count(*) FROM frames WHERE device_id = i.id), "
               "(SELECT sum(size) FROM frames WHERE device_id = i.id) "
               "FROM ids i WHERE i.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = i.id)");
  const Status found = ForEachRow(orphans, [&](const Stmt& row) {
    DeviceRecord r;
    r.id = row.Text(0);
    r.first_seen_ms = row.Int(1);
    r.last_seen_ms = row.Int(2);
    r.frames_received = static_cast<uint64_t>(row.Int(3));
    r.bytes_received = static_cast<uint64_t>(row.Int(4));
    devices.value().push_back(std::move(r));
  });
  if (!found.ok()) return found;
  return devices;
}

Result<std::vector<StoredFrame>> FrameIndex::ListFrames(const std::string& device, int64_t from_ms, int64_t to_ms,
                                                        size_t limit, FrameOrder order) {
  std::lock_guard lock(reader_mu_);
  Stmt q(reader_.get(), order == FrameOrder::kNewestFirst
                            ? "SELECT id, device_id, capture_ts_ms, received_ts_ms, size, width, height FROM frames "
                              "WHERE device_id = ? AND capture_ts_ms BETWEEN ? AND ? "
                              "ORDER BY capture_ts_ms DESC, id DESC LIMIT ?"
                            : "SELECT id, device_id, capture_ts_ms, received_ts_ms, size, width, height FROM frames "
                              "WHERE device_id = ? AND capture_ts_ms BETWEEN ? AND ? "
                              "ORDER BY capture_ts_ms ASC, id ASC LIMIT ?");
  q.Bind(1, device).Bind(2, from_ms).Bind(3, to_ms).Bind(4, static_cast<int64_t>(limit));
  return CollectRows<StoredFrame>(q, RowToFrame);
}

Result<std::vector<DensityBucket>> FrameIndex::FrameDensity(const std::string& device, int64_t from_ms, int64_t to_ms,
                                                            int64_t bucket_ms) {
  std::lock_guard lock(reader_mu_);
  // The range walks frames_by_device in capture order, so the buckets come out grouped without a sort of their own.
  Stmt q(reader_.get(),
         "SELECT (capture_ts_ms / ?1) * ?1 AS bucket, COUNT(*) FROM frames "
         "WHERE device_id = ?2 AND capture_ts_ms BETWEEN ?3 AND ?4 GROUP BY bucket ORDER BY bucket");
  q.Bind(1, bucket_ms).Bind(2, device).Bind(3, from_ms).Bind(4, to_ms);
  return CollectRows<DensityBucket>(q, [](const Stmt& row) {
    return DensityBucket{row.Int(0), static_cast<uint64_t>(row.Int(1))};
  });
}

Result<FrameLocation> FrameIndex::FindFrame(uint64_t frame_id) {
  std::lock_guard lock(reader_mu_);
  Stmt q(reader_.get(),
         "SELECT id, device_id, capture_ts_ms, received_ts_ms, size, width, height, path, file_offset FROM frames "
         "WHERE id = ?");
  q.Bind(1, static_cast<int64_t>(frame_id));
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!row.value()) return Status::NotFound("no stored frame " + std::to_string(frame_id));
  return FrameLocation{RowToFrame(q), q.Text(7), static_cast<uint64_t>(q.Int(8))};
}

}  // namespace iotstream::store
