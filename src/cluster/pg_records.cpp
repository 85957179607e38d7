#include <charconv>
#include <cstring>

#include "cluster/database.h"
#include "cluster/shared_state.h"
#include "core/clock.h"

namespace iotstream::cluster {
namespace {

constexpr size_t kDescriptorSize = 128;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The bytes of encode(..., 'hex'); malformed digits read as zero (PostgreSQL never sends them).
std::string Unhex(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return 0;
  };
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]));
  return out;
}

std::string DescriptorHex(const std::vector<float>& d) {
  return Hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size() * sizeof(float)));
}

std::vector<float> DescriptorOf(const std::string& hex) {
  const std::string bytes = Unhex(hex);
  std::vector<float> d(bytes.size() / sizeof(float));
  if (!d.empty()) std::memcpy(d.data(), bytes.data(), d.size() * sizeof(float));
  return d;
}

constexpr const char* kEventColumns =
    "SELECT id, type, ts_ms, device_id, frame_id, person_id, name, distance, box_x, box_y, box_w, box_h, "
    "thumbnail IS NOT NULL, feedback, encode(descriptor, 'hex'), message FROM events";

store::EventRecord EventOf(const pg::Rows& rows, int r) {
  store::EventRecord e;
  e.id = pg::Int(rows.Text(r, 0));
  e.type = rows.Text(r, 1);
  e.ts_ms = pg::Int(rows.Text(r, 2));
  e.device_id = rows.Text(r, 3);
  e.frame_id = static_cast<uint64_t>(pg::Int(rows.Text(r, 4)));
  if (auto p = rows.Get(r, 5)) e.person_id = pg::Int(*p);
  e.name = rows.Text(r, 6);
  e.distance = std::strtod(rows.Text(r, 7).c_str(), nullptr);
  e.box_x = static_cast<int>(pg::Int(rows.Text(r, 8)));
  e.box_y = static_cast<int>(pg::Int(rows.Text(r, 9)));
  e.box_w = static_cast<int>(pg::Int(rows.Text(r, 10)));
  e.box_h = static_cast<int>(pg::Int(rows.Text(r, 11)));
  e.has_thumbnail = rows.Text(r, 12) == "t";
  if (auto f = rows.Get(r, 13)) e.feedback_correct = *f == "t";
  e.descriptor = DescriptorOf(rows.Text(r, 14));
  e.message = rows.Text(r, 15);
  return e;
}

class PgRecords final : public store::Records {
 public:
  PgRecords(std::string url, std::string node_id, int64_t deadline_ms)
      : node_id_(std::move(node_id)), db_(std::move(url), deadline_ms) {}

  Result<store::GalleryEntry> AddFace(const std::string& name, const std::vector<float>& descriptor,
                                      std::string_view thumbnail_jpeg) override {
    if (name.empty() || name.size() > 128) return Status::InvalidArgument("name must be 1-128 characters");
    if (descriptor.size() != kDescriptorSize) return Status::InvalidArgument("descriptor must have 128 values");
    store::GalleryEntry e;
    e.name = name;
    e.descriptor = descriptor;
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      // The row lock of an existing name (or the insert's) keeps two nodes enrolling one new person from clashing.
      auto added = c.Exec(
          "INSERT INTO people (name, created_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
          {name, std::to_string(NowMs())});
      if (!added.ok()) return added.status();
      if (added.value().size() == 1) {
        e.person_id = pg::Int(added.value().Text(0, 0));
        e.new_person = true;
      } else {
        auto found = c.Exec("SELECT id FROM people WHERE name = $1 FOR UPDATE", {name});
        if (!found.ok()) return found.status();
        if (found.value().size() != 1) return Status::Conflict("'" + name + "' was removed meanwhile");
        e.person_id = pg::Int(found.value().Text(0, 0));
      }
      auto face = c.Exec(
          "INSERT INTO faces (person_id, negative, descriptor, thumbnail, created_ms) "
          "VALUES ($1, false, decode($2, 'hex'), CASE WHEN $3 = '' THEN NULL ELSE decode($3, 'hex') END, $4) "
          "RETURNING id",
          {std::to_string(e.person_id), DescriptorHex(descriptor), Hex(thumbnail_jpeg), std::to_string(NowMs())});
      if (!face.ok()) return face.status();
      e.face_id = pg::Int(face.value().Text(0, 0));
      return NotifyGallery(c);
    });
    if (!st.ok()) return st;
    return e;
  }

  Result<store::GalleryEntry> AddNegative(int64_t person_id, const std::vector<float>& descriptor) override {
    if (descriptor.size() != kDescriptorSize) return Status::InvalidArgument("descriptor must have 128 values");
    store::GalleryEntry e;
    e.person_id = person_id;
    e.negative = true;
    e.descriptor = descriptor;
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      auto name = c.Exec("SELECT name FROM people WHERE id = $1 FOR SHARE", {std::to_string(person_id)});
      if (!name.ok()) return name.status();
      if (name.value().size() != 1) return Status::NotFound("no person " + std::to_string(person_id));
      e.name = name.value().Text(0, 0);
      auto face = c.Exec(
          "INSERT INTO faces (person_id, negative, descriptor, created_ms) VALUES ($1, true, decode($2, 'hex'), $3) "
          "RETURNING id",
          {std::to_string(person_id), DescriptorHex(descriptor), std::to_string(NowMs())});
      if (!face.ok()) return face.status();
      e.face_id = pg::Int(face.value().Text(0, 0));
      return NotifyGallery(c);
    });
    if (!st.ok()) return st;
    return e;
  }

  Result<std::vector<store::GalleryEntry>> LoadGallery() override {
    auto rows = db_.Query(
        "SELECT f.person_id, p.name, f.id, f.negative, encode(f.descriptor, 'hex') FROM faces f "
        "JOIN people p ON p.id = f.person_id ORDER BY f.id");
    if (!rows.ok()) return rows.status();
    std::vector<store::GalleryEntry> out;
    for (int r = 0; r < rows.value().size(); ++r) {
      store::GalleryEntry e;
      e.person_id = pg::Int(rows.value().Text(r, 0));
      e.name = rows.value().Text(r, 1);
      e.face_id = pg::Int(rows.value().Text(r, 2));
      e.negative = rows.value().Text(r, 3) == "t";
      e.descriptor = DescriptorOf(rows.value().Text(r, 4));
      out.push_back(std::move(e));
    }
    return out;
  }

  Result<std::vector<store::PersonSummary>> ListPeople() override {
    auto rows = db_.Query(
        "SELECT p.id, p.name, p.created_ms, f.id FROM people p LEFT JOIN faces f ON f.person_id = p.id AND "
        "NOT f.negative ORDER BY p.name, f.id");
    if (!rows.ok()) return rows.status();
    std::vector<store::PersonSummary> out;
    for (int r = 0; r < rows.value().size(); ++r) {
      const int64_t id = pg::Int(rows.value().Text(r, 0));
      if (out.empty() || out.back().person_id != id) {
        out.push_back({id, rows.value().Text(r, 1), pg::Int(rows.value().Text(r, 2)), {}});
      }
      if (auto face = rows.value().Get(r, 3)) out.back().face_ids.push_back(pg::Int(*face));
    }
    return out;
  }

  Result<std::string> RenamePerson(int64_t person_id, const std::string& name) override {
    if (name.empty() || name.size() > 128) return Status::InvalidArgument("name must be 1-128 characters");
    std::string old;
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      auto found = c.Exec("SELECT name FROM people WHERE id = $1 FOR UPDATE", {std::to_string(person_id)});
      if (!found.ok()) return found.status();
      if (found.value().size() != 1) return Status::NotFound("no person " + std::to_string(person_id));
      old = found.value().Text(0, 0);
      if (old == name) return Status::Ok();
      auto taken = c.Exec("SELECT 1 FROM people WHERE name = $1", {name});
      if (!taken.ok()) return taken.status();
      if (taken.value().size() > 0) return Status::Conflict("another person is called '" + name + "'");
      if (Status s = c.Run("UPDATE people SET name = $1 WHERE id = $2", {name, std::to_string(person_id)}); !s.ok()) {
        return s;
      }
      return NotifyGallery(c);
    });
    if (!st.ok()) return st;
    return old;
  }

  Result<std::string> DeletePerson(int64_t person_id) override {
    std::string name;
    const Status st = db_.InTransaction([&](pg::Connection& c) -> Status {
      auto gone = c.Exec("DELETE FROM people WHERE id = $1 RETURNING name", {std::to_string(person_id)});
      if (!gone.ok()) return gone.status();
      if (gone.value().size() != 1) return Status::NotFound("no person " + std::to_string(person_id));
      name = gone.value().Text(0, 0);
      return NotifyGallery(c);
    });
    if (!st.ok()) return st;
    return name;
  }

  Status DeleteFace(int64_t face_id) override {
    return db_.InTransaction([&](pg::Connection& c) -> Status {
      auto gone = c.Exec("DELETE FROM faces WHERE id = $1 RETURNING id", {std::to_string(face_id)});
      if (!gone.ok()) return gone.status();
      if (gone.value().size() != 1) return Status::NotFound("no face " + std::to_string(face_id));
      return NotifyGallery(c);
    });
  }

  Result<std::string> ReadFaceThumbnail(int64_t face_id) override {
    return Thumbnail("SELECT encode(thumbnail, 'hex') FROM faces WHERE id = $1 AND thumbnail IS NOT NULL", face_id,
                     "face");
  }

  Status AppendEvent(store::EventRecord* e, std::string_view thumbnail_jpeg) override {
    return db_.InTransaction([&](pg::Connection& c) -> Status {
      auto added = c.Exec(
          "INSERT INTO events (type, ts_ms, device_id, frame_id, person_id, name, distance, box_x, box_y, box_w, "
          "box_h, thumbnail, descriptor, message, node_id) VALUES ($1, $2, $3, $4, NULLIF($5, '')::bigint, $6, $7, "
          "$8, $9, $10, $11, CASE WHEN $12 = '' THEN NULL ELSE decode($12, 'hex') END, decode($13, 'hex'), $14, $15) "
          "RETURNING id",
          {e->type, std::to_string(e->ts_ms), e->device_id, std::to_string(static_cast<int64_t>(e->frame_id)),
           e->person_id ? std::to_string(*e->person_id) : std::string(), e->name, Real(e->distance),
           std::to_string(e->box_x), std::to_string(e->box_y), std::to_string(e->box_w), std::to_string(e->box_h),
           Hex(thumbnail_jpeg), DescriptorHex(e->descriptor), e->message, node_id_});
      if (!added.ok()) return added.status();
      const std::string id = added.value().Text(0, 0);
      if (Status st = c.Run("SELECT pg_notify($1, $2)", {kEventsChannel, node_id_ + " " + id}); !st.ok()) return st;
      e->id = pg::Int(id);
      e->has_thumbnail = !thumbnail_jpeg.empty();
      return Status::Ok();
    });
  }

  Result<std::vector<store::EventRecord>> ListEvents(const store::EventQuery& q) override {
    std::vector<std::string> params = {std::to_string(q.from_ms), std::to_string(q.to_ms), q.device_id,
                                       std::to_string(q.since_id.value_or(0))};
    std::string sql = std::string(kEventColumns) +
                      " WHERE ts_ms BETWEEN $1 AND $2 AND ($3 = '' OR device_id = $3) AND id > $4";
    auto param = [&](std::string value) {
      params.push_back(std::move(value));
      return "$" + std::to_string(params.size());
    };
    if (!q.types.empty()) {
      sql += " AND type IN (";
      for (size_t i = 0; i < q.types.size(); ++i) sql += (i > 0 ? ", " : "") + param(q.types[i]);
      sql += ")";
    }
    if (q.person_id) sql += " AND person_id = " + param(std::to_string(*q.person_id)) + " AND type <> 'unknown_face'";
    if (q.feedback_correct) sql += " AND feedback = " + param(*q.feedback_correct ? "true" : "false");
    sql += std::string(" ORDER BY id ") + (q.since_id ? "ASC" : "DESC") + " LIMIT " + param(std::to_string(q.limit));
    auto rows = db_.Query(sql, params);
    if (!rows.ok()) return rows.status();
    std::vector<store::EventRecord> out;
    for (int r = 0; r < rows.value().size(); ++r) out.push_back(EventOf(rows.value(), r));
    return out;
  }

  Result<store::EventRecord> GetEvent(int64_t id) override {
    auto rows = db_.Query(std::string(kEventColumns) + " WHERE id = $1", {std::to_string(id)});
    if (!rows.ok()) return rows.status();
    if (rows.value().size() != 1) return Status::NotFound("no event " + std::to_string(id));
    return EventOf(rows.value(), 0);
  }

  Status SetFeedback(int64_t event_id, bool correct) override {
    auto rows = db_.Query("UPDATE events SET feedback = $1 WHERE id = $2 RETURNING id",
                      {correct ? "true" : "false", std::to_string(event_id)});
    if (!rows.ok()) return rows.status();
    if (rows.value().size() != 1) return Status::NotFound("no event " + std::to_string(event_id));
    return Status::Ok();
  }

  Result<std::string> ReadEventThumbnail(int64_t event_id) override {
    return Thumbnail("SELECT encode(thumbnail, 'hex') FROM events WHERE id = $1 AND thumbnail IS NOT NULL", event_id,
                     "event");
  }

  Status ReplaceEventFace(int64_t event_id, const std::vector<float>& descriptor,
                          std::string_view thumbnail_jpeg) override {
    auto rows = db_.Query(
        "UPDATE events SET descriptor = decode($1, 'hex'), "
        "thumbnail = CASE WHEN $2 = '' THEN thumbnail ELSE decode($2, 'hex') END "
        "WHERE id = $3 AND type IN ('person_recognised', 'unknown_face') RETURNING id",
        {DescriptorHex(descriptor), Hex(thumbnail_jpeg), std::to_string(event_id)});
    if (!rows.ok()) return rows.status();
    if (rows.value().size() != 1) return Status::NotFound("no recognition event " + std::to_string(event_id));
    return Status::Ok();
  }

  Result<int64_t> ForgetStrangerFaces(int64_t before_ms) override {
    auto rows = db_.Query(
        "WITH forgotten AS (UPDATE events SET descriptor = '' WHERE ts_ms < $1 AND length(descriptor) > 0 AND "
        "(type = 'unknown_face' OR (type = 'person_recognised' AND feedback = false)) RETURNING 1) "
        "SELECT count(*) FROM forgotten",
        {std::to_string(before_ms)});
    if (!rows.ok()) return rows.status();
    return pg::Int(rows.value().Text(0, 0));
  }

 private:
  static std::string Real(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::string("0");
  }

  // In the caller's transaction: the other nodes hear of it once it commits.
  Status NotifyGallery(pg::Connection& c) { return c.Run("SELECT pg_notify($1, $2)", {kGalleryChannel, node_id_}); }

  Result<std::string> Thumbnail(const char* sql, int64_t id, const char* what) {
    auto rows = db_.Query(sql, {std::to_string(id)});
    if (!rows.ok()) return rows.status();
    if (rows.value().size() != 1) return Status::NotFound(std::string("no thumbnail for ") + what + " " + std::to_string(id));
    return Unhex(rows.value().Text(0, 0));
  }

  const std::string node_id_;
  Database db_;
};

}  // namespace

std::unique_ptr<store::Records> OpenPgRecords(const std::string& database_url, const std::string& node_id,
                                              int64_t statement_deadline_ms) {
  return std::make_unique<PgRecords>(database_url, node_id, statement_deadline_ms);
}

}  // namespace iotstream::cluster
