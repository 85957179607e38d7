#include "store/records.h"

#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <unordered_set>

#include "core/clock.h"
#include "core/log.h"
#include "store/files.h"
#include "store/sqlite.h"

namespace iotstream::store {
namespace fs = std::filesystem;
namespace {

constexpr size_t kDescriptorSize = 128;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS people (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS faces (
  id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people(id), negative INTEGER NOT NULL,
  descriptor BLOB NOT NULL, has_thumbnail INTEGER NOT NULL, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS faces_by_person ON faces(person_id);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, type TEXT NOT NULL, ts_ms INTEGER NOT NULL, device_id TEXT NOT NULL,
  frame_id INTEGER NOT NULL, person_id INTEGER, name TEXT NOT NULL, distance REAL NOT NULL,
  box_x INTEGER NOT NULL, box_y INTEGER NOT NULL, box_w INTEGER NOT NULL, box_h INTEGER NOT NULL,
  has_thumbnail INTEGER NOT NULL, feedback INTEGER, descriptor BLOB NOT NULL, message TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS events_by_time ON events(ts_ms);
)sql";

// The gallery's and the event log's schema; event logs written before every event kind was kept lack `message`.
const SqliteMigration kMigrations[] = {
    {1, "records", kSchema},
    {2, "event_message", "",
     [](Db& db) { return AddColumnIfMissing(db, "events", "message", "TEXT NOT NULL DEFAULT ''"); }},
};

std::string DescriptorBlob(const std::vector<float>& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size() * sizeof(float));
}

std::vector<float> DescriptorOf(const std::string& blob) {
  std::vector<float> d(blob.size() / sizeof(float));
  // An event without a face has no descriptor: d.data() is then null, which memcpy must not get even for 0 bytes.
  if (!d.empty()) std::memcpy(d.data(), blob.data(), d.size() * sizeof(float));
  return d;
}

class RecordsImpl final : public Records {
 public:
  explicit RecordsImpl(const std::string& data_dir) : root_(data_dir) {}

  Status Init() {
    std::error_code ec;
    fs::create_directories(root_ / "faces", ec);
    fs::create_directories(root_ / "events", ec);
    if (ec) return Status::IOError("cannot create folders in " + root_.string() + ": " + ec.message());
    if (Status s = db_.Open((root_ / "iotstream.db").string()); !s.ok()) return s;
    if (Status s = db_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s.ok()) return s;
    if (Status s = ApplyMigrations(db_, "records", kMigrations); !s.ok()) return s;
    if (Status s = RemoveOrphans(root_ / "faces", "SELECT id FROM faces WHERE has_thumbnail = 1"); !s.ok()) return s;
    return RemoveOrphans(root_ / "events", "SELECT id FROM events WHERE has_thumbnail = 1");
  }

  Result<GalleryEntry> AddFace(const std::string& name, const std::vector<float>& descriptor,
                               std::string_view thumbnail_jpeg) override {
    if (name.empty() || name.size() > 128) return Status::InvalidArgument("name must be 1-128 characters");
    if (descriptor.size() != kDescriptorSize) return Status::InvalidArgument("descriptor must have 128 values");
    std::lock_guard lock(mu_);
    GalleryEntry e;
    e.name = name;
    e.descriptor = descriptor;
    const Status st = InTransaction(db_, [&] {
      {
        Stmt find(db_.get(), "SELECT id FROM people WHERE name = ?");
        find.Bind(1, name);
        Result<bool> found = find.Step();
        if (!found.ok()) return found.status();
        if (found.value()) {
          e.person_id = find.Int(0);
        } else {
          Stmt add(db_.get(), "INSERT INTO people (name, created_ms) VALUES (?, ?)");
          if (Status added = add.Bind(1, name).Bind(2, NowMs()).Run(); !added.ok()) return added;
          e.person_id = db_.last_insert_id();
          e.new_person = true;
        }
      }
      if (Status inserted = InsertFace(&e, !thumbnail_jpeg.empty()); !inserted.ok()) return inserted;
      // The file goes first: a crash before COMMIT leaves a file no row names, removed at the next Open.
      return thumbnail_jpeg.empty() ? Status::Ok() : WriteThumbnail(FacePath(e.face_id), thumbnail_jpeg, /*sync=*/true);
    });
    if (!st.ok()) return st;
    return e;
  }

  Result<GalleryEntry> AddNegative(int64_t person_id, const std::vector<float>& descriptor) override {
    if (descriptor.size() != kDescriptorSize) return Status::InvalidArgument("descriptor must have 128 values");
    std::lock_guard lock(mu_);
    GalleryEntry e;
    Result<std::string> name = NameOf(person_id);
    if (!name.ok()) return name.status();
    e.name = std::move(name).value();
    e.person_id = person_id;
    e.negative = true;
    e.descriptor = descriptor;
    if (Status st = InsertFace(&e, false); !st.ok()) return st;
    return e;
  }

  Result<std::vector<GalleryEntry>> LoadGallery() override {
    std::lock_guard lock(mu_);
    Stmt q(db_.get(),
           "SELECT f.person_id, p.name, f.id, f.negative, f.descriptor FROM faces f JOIN people p ON p.id = f.person_id "
           "ORDER BY f.id");
    return CollectRows<GalleryEntry>(q, [](const Stmt& row) {
      GalleryEntry e;
      e.person_id = row.Int(0);
      e.name = row.Text(1);
      e.face_id = row.Int(2);
      e.negative = row.Int(3) != 0;
      e.descriptor = DescriptorOf(row.Blob(4));
      return e;
    });
  }

  Result<std::vector<PersonSummary>> ListPeople() override {
    std::lock_guard lock(mu_);
    Stmt q(db_.get(),
           "SELECT p.id, p.name, p.created_ms, f.id FROM people p LEFT JOIN faces f ON f.person_id = p.id AND "
           "f.negative = 0 ORDER BY p.name, f.id");
    std::vector<PersonSummary> out;
    Status st = ForEachRow(q, [&](const Stmt& row) {
      if (out.empty() || out.back().person_id != row.Int(0)) {
        out.push_back({row.Int(0), row.Text(1), row.Int(2), {}});
      }
      if (!row.IsNull(3)) out.back().face_ids.push_back(row.Int(3));
    });
    if (!st.ok()) return st;
    return out;
  }

  Result<std::string> RenamePerson(int64_t person_id, const std::string& name) override {
    if (name.empty() || name.size() > 128) return Status::InvalidArgument("name must be 1-128 characters");
    std::lock_guard lock(mu_);
    Result<std::string> old = NameOf(person_id);
    if (!old.ok() || old.value() == name) return old;
    {
      Stmt taken(db_.get(), "SELECT id FROM people WHERE name = ?");
      taken.Bind(1, name);
      Result<bool> found = taken.Step();
      if (!found.ok()) return found.status();
      if (found.value()) return Status::Conflict("another person is called '" + name + "'");
    }
    Stmt rename(db_.get(), "UPDATE people SET name = ? WHERE id = ?");
    if (Status st = rename.Bind(1, name).Bind(2, person_id).Run(); !st.ok()) return st;
    return old;
  }

  Result<std::string> DeletePerson(int64_t person_id) override {
    std::lock_guard lock(mu_);
    Result<std::string> name = NameOf(person_id);
    if (!name.ok()) return name;
    std::vector<int64_t> faces;
    {
      Stmt q(db_.get(), "SELECT id FROM faces WHERE person_id = ?");
      q.Bind(1, person_id);
      if (Status st = ForEachRow(q, [&](const Stmt& row) { faces.push_back(row.Int(0)); }); !st.ok()) return st;
    }
    bool existed = false;
    const Status st = InTransaction(db_, [&] {
      Stmt del_faces(db_.get(), "DELETE FROM faces WHERE person_id = ?");
      if (Status faces_gone = del_faces.Bind(1, person_id).Run(); !faces_gone.ok()) return faces_gone;
      Stmt del_person(db_.get(), "DELETE FROM people WHERE id = ?");
      if (Status gone = del_person.Bind(1, person_id).Run(); !gone.ok()) return gone;
      existed = sqlite3_changes(db_.get()) > 0;
      return Status::Ok();
    });
    if (!st.ok()) return st;
    if (!existed) return Status::NotFound("no person " + std::to_string(person_id));
    std::error_code ec;
    for (int64_t id : faces) fs::remove(FacePath(id), ec);
    return name;
  }

  Status DeleteFace(int64_t face_id) override {
    std::lock_guard lock(mu_);
    Stmt del(db_.get(), "DELETE FROM faces WHERE id = ?");
    if (Status st = del.Bind(1, face_id).Run(); !st.ok()) return st;
    if (sqlite3_changes(db_.get()) == 0) return Status::NotFound("no face " + std::to_string(face_id));
    std::error_code ec;
    fs::remove(FacePath(face_id), ec);
    return Status::Ok();
  }

  Result<std::string> ReadFaceThumbnail(int64_t face_id) override {
    return ReadWholeFile(FacePath(face_id), "thumbnail for face " + std::to_string(face_id));
  }

  Status AppendEvent(EventRecord* e, std::string_view thumbnail_jpeg) override {
    std::lock_guard lock(mu_);
    return InTransaction(db_, [&] {
      Stmt ins(db_.get(),
               "INSERT INTO events (type, ts_ms, device_id, frame_id, person_id, name, distance, box_x, box_y, box_w, "
               "box_h, has_thumbnail, feedback, descriptor, message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,NULL,?,?)");
      ins.Bind(1, e->type).Bind(2, e->ts_ms).Bind(3, e->device_id).Bind(4, static_cast<int64_t>(e->frame_id));
      if (e->person_id) {
        ins.Bind(5, *e->person_id);
      } else {
        ins.BindNull(5);
      }
      ins.Bind(6, e->name);
      ins.Bind(8, int64_t{e->box_x}).Bind(9, int64_t{e->box_y}).Bind(10, int64_t{e->box_w}).Bind(11, int64_t{e->box_h});
      ins.Bind(12, int64_t{thumbnail_jpeg.empty() ? 0 : 1});
      const std::string blob = DescriptorBlob(e->descriptor);
      ins.BindBlob(13, blob.data(), blob.size());
      ins.Bind(14, e->message);
      ins.BindReal(7, e->distance);
      if (Status st = ins.Run(); !st.ok()) return st;
      e->id = db_.last_insert_id();
      e->has_thumbnail = !thumbnail_jpeg.empty();
      // An event's thumbnail is not acknowledged to anyone: no fsync on the way to the viewers.
      return e->has_thumbnail ? WriteThumbnail(EventPath(e->id), thumbnail_jpeg, /*sync=*/false) : Status::Ok();
    });
  }

  Result<std::vector<EventRecord>> ListEvents(const EventQuery& q) override {
    std::lock_guard lock(mu_);
    std::string sql = std::string(kEventColumns) + " WHERE ts_ms BETWEEN ? AND ? AND (? = '' OR device_id = ?) AND id > ?";
    if (!q.types.empty()) {
      sql += " AND type IN (?";
      for (size_t i = 1; i < q.types.size(); ++i) sql += ", ?";
      sql += ")";
    }
    if (q.person_id) sql += " AND person_id = ? AND type <> 'unknown_face'";
    if (q.feedback_correct) sql += " AND feedback = ?";
    sql += std::string(" ORDER BY id ") + (q.since_id ? "ASC" : "DESC") + " LIMIT ?";
    Stmt s(db_.get(), sql);
    s.Bind(1, q.from_ms).Bind(2, q.to_ms).Bind(3, q.device_id).Bind(4, q.device_id).Bind(5, q.since_id.value_or(0));
    int next = 6;
    for (const auto& t : q.types) s.Bind(next++, t);
    if (q.person_id) s.Bind(next++, *q.person_id);
    if (q.feedback_correct) s.Bind(next++, int64_t{*q.feedback_correct ? 1 : 0});
    s.Bind(next, static_cast<int64_t>(q.limit));
    return CollectRows<EventRecord>(s, EventOf);
  }

  Result<EventRecord> GetEvent(int64_t id) override {
    std::lock_guard lock(mu_);
    Stmt s(db_.get(), std::string(kEventColumns) + " WHERE id = ?");
    s.Bind(1, id);
    Result<bool> found = s.Step();
    if (!found.ok()) return found.status();
    if (!found.value()) return Status::NotFound("no event " + std::to_string(id));
    return EventOf(s);
  }

  Result<int64_t> ForgetStrangerFaces(int64_t before_ms) override {
    std::lock_guard lock(mu_);
    Stmt s(db_.get(),
           "UPDATE events SET descriptor = X'' WHERE ts_ms < ? AND length(descriptor) > 0 AND "
           "(type = 'unknown_face' OR (type = 'person_recognised' AND feedback = 0))");
    if (Status st = s.Bind(1, before_ms).Run(); !st.ok()) return st;
    return static_cast<int64_t>(sqlite3_changes(db_.get()));
  }

  Status SetFeedback(int64_t event_id, bool correct) override {
    std::lock_guard lock(mu_);
    Stmt s(db_.get(), "UPDATE events SET feedback = ? WHERE id = ?");
    if (Status st = s.Bind(1, int64_t{correct ? 1 : 0}).Bind(2, event_id).Run(); !st.ok()) return st;
    if (sqlite3_changes(db_.get()) == 0) return Status::NotFound("no event " + std::to_string(event_id));
    return Status::Ok();
  }

  Result<std::string> ReadEventThumbnail(int64_t event_id) override {
    return ReadWholeFile(EventPath(event_id), "thumbnail for event " + std::to_string(event_id));
  }

  Status ReplaceEventFace(int64_t event_id, const std::vector<float>& descriptor,
                          std::string_view thumbnail_jpeg) override {
    std::lock_guard lock(mu_);
    return InTransaction(db_, [&] {
      Stmt s(db_.get(),
             "UPDATE events SET descriptor = ?, has_thumbnail = (has_thumbnail OR ?) WHERE id = ? AND "
             "type IN ('person_recognised', 'unknown_face')");
      const std::string blob = DescriptorBlob(descriptor);
      s.BindBlob(1, blob.data(), blob.size()).Bind(2, int64_t{thumbnail_jpeg.empty() ? 0 : 1}).Bind(3, event_id);
      if (Status st = s.Run(); !st.ok()) return st;
      if (sqlite3_changes(db_.get()) == 0) return Status::NotFound("no recognition event " + std::to_string(event_id));
      if (thumbnail_jpeg.empty()) return Status::Ok();
      // Written beside and renamed over the old one: a reader gets one thumbnail or the other, never half of each.
      const fs::path path = EventPath(event_id);
      const fs::path next = path.string() + ".next";
      if (Status st = WriteThumbnail(next, thumbnail_jpeg, /*sync=*/false); !st.ok()) return st;
      std::error_code ec;
      fs::rename(next, path, ec);
      return ec ? Status::IOError("rename " + next.string() + ": " + ec.message()) : Status::Ok();
    });
  }

 private:
  static constexpr std::string_view kEventColumns =
      "SELECT id, type, ts_ms, device_id, frame_id, person_id, name, distance, box_x, box_y, box_w, box_h, "
      "has_thumbnail, feedback, descriptor, message FROM events";

  static EventRecord EventOf(const Stmt& s) {
    EventRecord e;
    e.id = s.Int(0);
    e.type = s.Text(1);
    e.ts_ms = s.Int(2);
    e.device_id = s.Text(3);
    e.frame_id = static_cast<uint64_t>(s.Int(4));
    if (!s.IsNull(5)) e.person_id = s.Int(5);
    e.name = s.Text(6);
    e.distance = s.Real(7);
    e.box_x = static_cast<int>(s.Int(8));
    e.box_y = static_cast<int>(s.Int(9));
    e.box_w = static_cast<int>(s.Int(10));
    e.box_h = static_cast<int>(s.Int(11));
    e.has_thumbnail = s.Int(12) != 0;
    if (!s.IsNull(13)) e.feedback_correct = s.Int(13) != 0;
    e.descriptor = DescriptorOf(s.Blob(14));
    e.message = s.Text(15);
    return e;
  }

  // REQUIRES: mu_ held.
  Result<std::string> NameOf(int64_t person_id) {
    Stmt find(db_.get(), "SELECT name FROM people WHERE id = ?");
    find.Bind(1, person_id);
    Result<bool> found = find.Step();
    if (!found.ok()) return found.status();
    if (!found.value()) return Status::NotFound("no person " + std::to_string(person_id));
    return find.Text(0);
  }

  Status InsertFace(GalleryEntry* e, bool has_thumbnail) {
    Stmt ins(db_.get(),
             "INSERT INTO faces (person_id, negative, descriptor, has_thumbnail, created_ms) VALUES (?,?,?,?,?)");
    const std::string blob = DescriptorBlob(e->descriptor);
    Status st = ins.Bind(1, e->person_id).Bind(2, int64_t{e->negative ? 1 : 0}).BindBlob(3, blob.data(), blob.size())
                    .Bind(4, int64_t{has_thumbnail ? 1 : 0}).Bind(5, NowMs()).Run();
    if (st.ok()) e->face_id = db_.last_insert_id();
    return st;
  }

  static Status WriteThumbnail(const fs::path& path, std::string_view jpeg, bool sync) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    return WriteWholeFile(path, jpeg, sync);
  }

  fs::path FacePath(int64_t id) const { return root_ / "faces" / (std::to_string(id) + ".jpg"); }
  fs::path EventPath(int64_t id) const {
    return root_ / "events" / (std::to_string(id / 1000)) / (std::to_string(id) + ".jpg");
  }

  // Removes files under `dir` named <id>.jpg whose id `select` does not return. An error reading the ids removes
  // nothing: a partial list would take thumbnails that rows still name.
  Status RemoveOrphans(const fs::path& dir, const char* select) {
    std::unordered_set<int64_t> known;
    Stmt q(db_.get(), select);
    if (Status st = ForEachRow(q, [&](const Stmt& row) { known.insert(row.Int(0)); }); !st.ok()) return st;
    size_t removed = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string stem = it->path().stem().string();
      int64_t id = 0;
      auto [p, perr] = std::from_chars(stem.data(), stem.data() + stem.size(), id);
      if (perr == std::errc() && p == stem.data() + stem.size() && known.count(id) != 0) continue;
      fs::remove(it->path(), ec);
      ++removed;
    }
    if (removed > 0) IOT_LOG(kWarn) << "store: removed " << removed << " unindexed file(s) in " << dir.string();
    return Status::Ok();
  }

  const fs::path root_;
  std::mutex mu_;
  Db db_;  // guarded by mu_
};

}  // namespace

Result<std::unique_ptr<Records>> Records::Open(const std::string& data_dir) {
  auto r = std::make_unique<RecordsImpl>(data_dir);
  if (Status s = r->Init(); !s.ok()) return s;
  return std::unique_ptr<Records>(std::move(r));
}

}  // namespace iotstream::store
