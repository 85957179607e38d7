#include "api/recognition_api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/respond.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/parse.h"
#include "events/schema.h"
#include "events/strangers.h"
#include "ingest/multipart.h"
#include "vision/thumbnail.h"

namespace iotstream::api {
namespace {

using http::Method;
using http::Request;
using http::Responder;
using http::Response;
using nlohmann::json;

double Round2(double v) { return std::round(v * 100) / 100; }

// An uploaded image: the request body, or one multipart field of it. The body is moved into a shared string
// that keeps the bytes alive for the pool; `image` views into it.
struct Upload {
  std::shared_ptr<const std::string> body;
  std::string_view image;
  std::string name;  // multipart "name" / "person_name", or ?name=
  std::string box;   // multipart "box" or ?box=: "x,y,w,h", which face of several to enrol
};

// "x,y,w,h" with w and h positive.
std::optional<vision::Box> BoxOf(std::string_view text) {
  int v[4];
  for (int i = 0; i < 4; ++i) {
    const size_t comma = i < 3 ? text.find(',') : text.size();
    if (comma == std::string_view::npos) return std::nullopt;
    auto n = ParseInt(text.substr(0, comma));
    if (!n || *n < (i < 2 ? -100'000 : 1) || *n > 100'000) return std::nullopt;
    v[i] = static_cast<int>(*n);
    text.remove_prefix(std::min(text.size(), comma + 1));
  }
  return vision::Box{v[0], v[1], v[2], v[3]};
}

double Overlap(const vision::Box& a, const vision::Box& b) {  // intersection over union
  const double w = std::max(0, std::min(a.x + a.w, b.x + b.w) - std::max(a.x, b.x));
  const double h = std::max(0, std::min(a.y + a.h, b.y + b.h) - std::max(a.y, b.y));
  const double inter = w * h;
  return inter / (double{1} * a.w * a.h + double{1} * b.w * b.h - inter);
}

json BoxJson(const vision::Box& b) { return json{{"x", b.x}, {"y", b.y}, {"w", b.w}, {"h", b.h}}; }

// {"name": "..."}: a person's name, 1-128 bytes of printable UTF-8.
Result<std::string> NameOf(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) {
    return Status::InvalidArgument("body must be a JSON object like {\"name\": \"Alice\"}");
  }
  std::string name = j["name"].get<std::string>();
  if (name.empty() || name.size() > 128 || !IsPrintableUtf8(name)) {
    return Status::InvalidArgument("'name' must be 1-128 bytes of UTF-8 without control characters");
  }
  return name;
}

Result<Upload> UploadOf(Request& req, const RecognitionContext& ctx) {
  Upload u;
  auto body = std::make_shared<std::string>(std::move(req.body));
  auto found = ingest::FindImage(*body, req.header("Content-Type"), ingest::ImageKind::kJpegOrPng, ctx.multipart);
  if (!found.ok()) {
    if (found.status().IsTooLarge() && ctx.multipart_over_limit != nullptr) ctx.multipart_over_limit->Add();
    return found.status();
  }
  const ingest::UploadedImage& image = found.value();
  u.image = image.image;
  u.name = req.query_param("name").value_or(req.query_param("person_name").value_or(""));
  for (const char* field : {"name", "person_name"}) {
    if (u.name.empty()) u.name = std::string(image.Field(field));
  }
  u.box = req.query_param("box").value_or(std::string(image.Field("box")));
  if (u.image.empty()) return Status::InvalidArgument("empty image");
  u.body = std::move(body);
  return u;
}

json FaceJson(const vision::RecognizedFace& f) {
  const auto& m = f.match;
  return json{{"box", BoxJson(f.face.box)},
              {"name", m.person_id ? json(m.name) : json(nullptr)},
              {"person_id", m.person_id ? json(*m.person_id) : json(nullptr)},
              {"distance", std::isfinite(m.distance) ? json(std::round(static_cast<double>(m.distance) * 1e4) / 1e4) : json(nullptr)},
              {"permitted", m.person_id.has_value()},
              {"detection_score", Round2(f.face.detection_score)}};
}

}  // namespace

std::string RecognitionJson(const vision::Recognition& r) {
  json faces = json::array();
  for (const auto& f : r.faces) faces.push_back(FaceJson(f));
  const auto& t = r.timing;
  return json{{"faces", std::move(faces)},
              {"width", r.width},
              {"height", r.height},
              {"timing_ms",
               {{"decode", Round2(t.decode_ms)},
                {"detect", Round2(t.detect_ms)},
                {"align", Round2(t.align_ms)},
                {"describe", Round2(t.describe_ms)},
                {"match", Round2(t.match_ms)}}}}
      .dump();
}

void AddRecognitionRoutes(http::Router& router, RecognitionContext& ctx, bool with_health) {
  RecognitionContext* c = &ctx;
  auto unavailable = [c]() { return Response::Error(503, "recognition is not available: " + c->unavailable_reason); };

  router.Add(Method::kPost, "/api/v1/recognize", [c, unavailable](Request&& req, Responder s) {
    if (c->pool == nullptr) return s.Send(unavailable());
    auto up = UploadOf(req, *c);
    if (!up.ok()) return s.Send(ErrorOf(up.status()));
    c->pool->Submit(up.value().body, up.value().image, [s](vision::PoolResult r) {
      if (!r.recognition.ok()) return s.Send(ErrorOf(r.recognition.status()));
      s.Send(Response::Json(200, RecognitionJson(r.recognition.value())));
    });
  });

  router.Add(Method::kPost, "/api/v1/recognition/add-permitted-face", [c, unavailable](Request&& req, Responder s) {
    if (c->pool == nullptr) return s.Send(unavailable());
    AuditTrail::Who who = AuditTrail::Of(req);
    auto up = UploadOf(req, *c);
    if (!up.ok()) return s.Send(ErrorOf(up.status()));
    std::string name = up.value().name;
    if (name.empty() || name.size() > 128 || !IsPrintableUtf8(name)) {
      return s.Send(Response::Error(
          400, "give the person's name (field 'name' or 'person_name', 1-128 bytes of UTF-8 without control characters)"));
    }
    std::optional<vision::Box> pick;
    if (!up.value().box.empty()) {
      pick = BoxOf(up.value().box);
      if (!pick) return s.Send(Response::Error(400, "'box' must be x,y,w,h in pixels (w and h positive)"));
    }
    c->pool->Submit(up.value().body, up.value().image, [c, s, name, who, pick](vision::PoolResult r) {
      if (!r.recognition.ok()) return s.Send(ErrorOf(r.recognition.status()));
      auto rec = std::make_shared<vision::Recognition>(std::move(r.recognition).value());
      if (rec->faces.empty()) return s.Send(Response::Error(422, "no face found"));
      size_t chosen = 0;
      if (pick) {  // the face the box overlaps most, if it overlaps one well
        for (size_t i = 1; i < rec->faces.size(); ++i) {
          if (Overlap(rec->faces[i].face.box, *pick) > Overlap(rec->faces[chosen].face.box, *pick)) chosen = i;
        }
        if (Overlap(rec->faces[chosen].face.box, *pick) < 0.3) {
          return s.Send(Response::Error(422, "no face at the given box"));
        }
      } else if (rec->faces.size() > 1) {  // the caller picks one: the boxes say where each is
        json faces = json::array();
        for (const auto& f : rec->faces) faces.push_back({{"box", BoxJson(f.face.box)}});
        return s.Send(Response::Json(
            422, json{{"error", std::to_string(rec->faces.size()) + " faces found"},
                      {"hint", "pick one: send its box as box=x,y,w,h"},
                      {"faces", std::move(faces)},
                      {"width", rec->width},
                      {"height", rec->height}}
                     .dump()));
      }
      OnDiskPool(c->disk_pool, s, [c, s, name, rec, who, chosen] {
        const vision::Face& face = rec->faces[chosen].face;
        auto thumb = vision::FaceThumbnail(face);
        std::vector<float> d(face.descriptor.begin(), face.descriptor.end());
        auto added = c->records.AddFace(name, d, thumb.ok() ? std::string_view(thumb.value()) : std::string_view());
        if (!added.ok()) return s.Send(ErrorOf(added.status()));
        const auto& e = added.value();
        // Conflict: a cluster's gallery reload took the face in already.
        const Status st = c->gallery.AddFace(e.person_id, e.name, e.face_id, face.descriptor);
        if (!st.ok() && !st.IsConflict()) return s.Send(ErrorOf(st));
        // Answered once person_added is logged too: a node killed after the answer leaves both behind.
        if (e.new_person && !c->events.LogPersonAdded(e.person_id, e.name, NowMs(), std::chrono::seconds(5))) {
          IOT_LOG(kWarn) << "enrol: person_added of '" << e.name << "' is not in the log yet; the enrolment stands";
        }
        c->audit->Record(who, "enrol", e.name + " (person " + std::to_string(e.person_id) + ", face " +
                                           std::to_string(e.face_id) + ")");
        s.Send(Response::Json(200, json{{"success", true},
                                        {"person_id", e.person_id},
                                        {"face_id", e.face_id},
                                        {"name", e.name},
                                        {"box", BoxJson(face.box)}}
                                       .dump()));
      });
    });
  });

  router.Add(Method::kGet, "/api/v1/recognition/permitted-faces", [c](Request&&, Responder s) {
    OnDiskPool(c->disk_pool, s, [c, s] {
      auto people = c->records.ListPeople();
      if (!people.ok()) return s.Send(ErrorOf(people.status()));
      json list = json::array();
      for (const auto& p : people.value()) {
        list.push_back({{"person_id", p.person_id},
                        {"name", p.name},
                        {"faces", p.face_ids.size()},
                        {"face_ids", p.face_ids},
                        {"created_at", p.created_ms},
                        {"thumbnail_url", p.face_ids.empty() ? json(nullptr)
                                                             : json("/api/v1/recognition/faces/" +
                                                                    std::to_string(p.face_ids.front()) +
                                                                    "/thumbnail.jpg")}});
      }
      const size_t total = list.size();
      s.Send(Response::Json(200, json{{"people", std::move(list)}, {"total", total}}.dump()));
    });
  });

  router.Add(Method::kDelete, "/api/v1/recognition/permitted-faces/{person_id}", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("person_id"));
    if (!id) return s.Send(Response::Error(400, "person id must be a positive integer"));
    OnDiskPool(c->disk_pool, s, [c, s, who = AuditTrail::Of(req), pid = *id] {
      Result<std::string> name = c->records.DeletePerson(pid);
      if (!name.ok()) return s.Send(ErrorOf(name.status()));
      c->audit->Record(who, "person_delete", name.value() + " (person " + std::to_string(pid) + ")");
      (void)c->gallery.RemovePerson(pid);  // NotFound only if it had no face in memory either
      c->events.OnPersonRemoved(pid, name.value(), NowMs());
      s.Send(Response::Json(200, json{{"success", true}, {"person_id", pid}}.dump()));
    });
  });

  router.Add(Method::kPatch, "/api/v1/recognition/permitted-faces/{person_id}", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("person_id"));
    if (!id) return s.Send(Response::Error(400, "person id must be a positive integer"));
    auto name = NameOf(req.body);
    if (!name.ok()) return s.Send(ErrorOf(name.status()));
    OnDiskPool(c->disk_pool, s, [c, s, who = AuditTrail::Of(req), pid = *id, name = name.value()] {
      Result<std::string> previous = c->records.RenamePerson(pid, name);
      if (!previous.ok()) return s.Send(ErrorOf(previous.status()));
      if (previous.value() != name) {
        c->audit->Record(who, "person_rename", previous.value() + " -> " + name + " (person " + std::to_string(pid) + ")");
        (void)c->gallery.RenamePerson(pid, name);  // NotFound when the person has no face yet
        c->events.OnPersonRenamed(pid, previous.value(), name, NowMs());
      }
      s.Send(Response::Json(200, json{{"success", true}, {"person_id", pid}, {"name", name}}.dump()));
    });
  });

  router.Add(Method::kDelete, "/api/v1/recognition/permitted-faces/{person_id}/faces/{face_id}",
             [c](Request&& req, Responder s) {
               auto pid = ParseId(req.param("person_id"));
               auto fid = ParseId(req.param("face_id"));
               if (!pid || !fid) return s.Send(Response::Error(400, "ids must be positive integers"));
               OnDiskPool(c->disk_pool, s, [c, s, who = AuditTrail::Of(req), fid = *fid] {
                 if (Status st = c->records.DeleteFace(fid); !st.ok()) return s.Send(ErrorOf(st));
                 c->audit->Record(who, "face_delete", std::to_string(fid));
                 (void)c->gallery.RemoveFace(fid);
                 s.Send(Response::Json(200, json{{"success", true}, {"face_id", fid}}.dump()));
               });
             });

  router.Add(Method::kGet, "/api/v1/recognition/faces/{face_id}/thumbnail.jpg", [c](Request&& req, Responder s) {
    auto fid = ParseId(req.param("face_id"));
    if (!fid) return s.Send(Response::Error(400, "face id must be a positive integer"));
    OnDiskPool(c->disk_pool, s, [c, s, fid = *fid] {
      s.Send(JpegOf(c->records.ReadFaceThumbnail(fid)));
    });
  });

  if (!with_health) return;
  router.Add(Method::kGet, "/health", [c](Request&&, Responder s) {
    json pool = nullptr;
    if (c->pool != nullptr) {
      const auto st = c->pool->stats();
      pool = {{"workers", st.workers},
              {"busy", st.busy},
              {"pending_cameras", st.pending_cameras},
              {"pending_requests", st.pending_requests},
              {"moving_cameras", st.moving_cameras},
              {"idle_class", st.idle_class}};
    }
    s.Send(Response::Json(200, json{{"status", c->pool ? "ok" : "degraded"},
                                    {"models_loaded", c->pool != nullptr},
                                    {"error", c->pool ? json(nullptr) : json(c->unavailable_reason)},
                                    {"gallery",
                                     {{"people", c->gallery.person_count()},
                                      {"faces", c->gallery.face_count()},
                                      {"negatives", c->gallery.negative_count()}}},
                                    {"pool", pool},
                                    {"blas", vision::BlasDescription()},
                                    {"uptime_s", (NowMs() - c->started_ms) / 1000},
                                    {"version", c->version}}
                                   .dump()));
  });
}

void AddEventRoutes(http::Router& router, RecognitionContext& ctx) {
  RecognitionContext* c = &ctx;
  router.Add(Method::kGet, "/api/v1/events", [c](Request&& req, Responder s) {
    store::EventQuery q;
    for (auto [key, out] : {std::pair{"from", &q.from_ms}, std::pair{"to", &q.to_ms}}) {
      if (auto v = req.query_param(key)) {
        auto n = ParseInt(*v);
        if (!n || *n < 0) {
          return s.Send(Response::Error(400, std::string("'") + key + "' must be a non-negative integer (ms)"));
        }
        *out = *n;
      }
    }
    if (auto v = req.query_param("limit")) {
      auto n = ParseId(*v);
      if (!n) return s.Send(Response::Error(400, "'limit' must be a positive integer"));
      q.limit = static_cast<size_t>(std::min<int64_t>(*n, 1000));
    }
    if (auto v = req.query_param("since_id")) {
      auto n = ParseInt(*v);
      if (!n || *n < 0) return s.Send(Response::Error(400, "'since_id' must be a non-negative integer"));
      q.since_id = *n;
    }
    q.device_id = req.query_param("device_id").value_or("");
    if (auto v = req.query_param("type"); v && !v->empty()) {
      for (std::string_view rest = *v; !rest.empty();) {
        const size_t comma = rest.find(',');
        std::string t(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (!events::IsLoggedType(t)) {
          return s.Send(Response::Error(400, "'type' must be a comma-separated list of event types (" +
                                                 events::LoggedTypeList() + ")"));
        }
        q.types.push_back(std::move(t));
      }
    }
    if (auto v = req.query_param("person_id")) {
      auto n = ParseId(*v);
      if (!n) return s.Send(Response::Error(400, "'person_id' must be a positive integer"));
      q.person_id = *n;
    }
    if (auto v = req.query_param("feedback")) {
      if (*v != "correct" && *v != "wrong") return s.Send(Response::Error(400, "'feedback' must be correct or wrong"));
      q.feedback_correct = *v == "correct";
    }
    OnDiskPool(c->disk_pool, s, [c, s, q] {
      auto list = c->records.ListEvents(q);
      if (!list.ok()) return s.Send(ErrorOf(list.status()));
      json events = json::array();
      for (const auto& e : list.value()) events.push_back(events::EventJson(e));
      const size_t count = events.size();
      s.Send(Response::Json(200, json{{"events", std::move(events)}, {"count", count}}.dump()));
    });
  });
  router.Add(Method::kGet, "/api/v1/events/{id}", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("id"));
    if (!id) return s.Send(Response::Error(400, "event id must be a positive integer"));
    OnDiskPool(c->disk_pool, s, [c, s, id = *id] {
      auto e = c->records.GetEvent(id);
      if (!e.ok()) return s.Send(ErrorOf(e.status()));
      s.Send(Response::Json(200, events::EventJson(e.value()).dump()));
    });
  });
  router.Add(Method::kGet, "/api/v1/events/{id}/thumbnail.jpg", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("id"));
    if (!id) return s.Send(Response::Error(400, "event id must be a positive integer"));
    OnDiskPool(c->disk_pool, s, [c, s, id = *id] {
      s.Send(JpegOf(c->records.ReadEventThumbnail(id)));
    });
  });
  router.Add(Method::kPost, "/api/v1/events/{id}/feedback", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("id"));
    if (!id) return s.Send(Response::Error(400, "event id must be a positive integer"));
    auto feedback = FeedbackOf(req.body);
    if (!feedback.ok()) return s.Send(ErrorOf(feedback.status()));
    const bool correct = feedback.value();
    OnDiskPool(c->disk_pool, s, [c, s, who = AuditTrail::Of(req), id = *id, correct] {
      if (Status st = c->events.Feedback(id, correct); !st.ok()) return s.Send(ErrorOf(st));
      c->audit->Record(who, "feedback", "event " + std::to_string(id) + (correct ? " correct" : " not correct"));
      s.Send(Response::Json(200, json{{"success", true}, {"event_id", id}, {"correct", correct}}.dump()));
    });
  });
  router.Add(Method::kPost, "/api/v1/events/{id}/enrol", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("id"));
    if (!id) return s.Send(Response::Error(400, "event id must be a positive integer"));
    auto name = NameOf(req.body);
    if (!name.ok()) return s.Send(ErrorOf(name.status()));
    OnDiskPool(c->disk_pool, s, [c, s, who = AuditTrail::Of(req), id = *id, name = name.value()] {
      auto added = c->events.EnrolFromEvent(id, name);
      if (!added.ok()) return s.Send(ErrorOf(added.status()));
      const auto& e = added.value();
      c->audit->Record(who, "enrol", e.name + " (person " + std::to_string(e.person_id) + ", face " +
                                         std::to_string(e.face_id) + ") from event " + std::to_string(id));
      s.Send(Response::Json(200, json{{"success", true},
                                      {"event_id", id},
                                      {"person_id", e.person_id},
                                      {"face_id", e.face_id},
                                      {"name", e.name},
                                      {"new_person", e.new_person}}
                                     .dump()));
    });
  });
  router.Add(Method::kGet, "/api/v1/recognition/strangers", [c](Request&& req, Responder s) {
    events::StrangerOptions options = c->strangers;
    if (auto v = req.query_param("hours")) {
      auto n = ParseId(*v);
      if (!n || *n > 24 * 31) return s.Send(Response::Error(400, "'hours' must be 1 to 744"));
      options.window_ms = *n * 3600 * 1000;
    }
    OnDiskPool(c->disk_pool, s, [c, s, options] {
      auto found = events::FindStrangers(c->records, c->gallery, options, NowMs());
      if (!found.ok()) return s.Send(ErrorOf(found.status()));
      json list = json::array();
      for (const auto& st : found.value()) {
        json cameras = json::array();
        for (const auto& [device, n] : st.cameras) cameras.push_back({{"device_id", device}, {"sightings", n}});
        json thumbnails = json::array();
        for (int64_t e : st.best_event_ids) {
          thumbnails.push_back("/api/v1/events/" + std::to_string(e) + "/thumbnail.jpg");
        }
        const size_t shown = std::min<size_t>(st.event_ids.size(), 50);
        list.push_back({{"id", st.id},
                        {"sightings", st.event_ids.size()},
                        {"first_seen", st.first_seen_ms},
                        {"last_seen", st.last_seen_ms},
                        {"cameras", std::move(cameras)},
                        {"best_event_ids", st.best_event_ids},
                        {"thumbnail_urls", std::move(thumbnails)},
                        {"event_ids", std::vector<int64_t>(st.event_ids.begin(), st.event_ids.begin() + shown)}});
      }
      const size_t total = list.size();
      s.Send(Response::Json(200, json{{"strangers", std::move(list)},
                                      {"total", total},
                                      {"window_hours", options.window_ms / 3'600'000}}
                                     .dump()));
    });
  });
  router.Add(Method::kPost, "/api/v1/recognition/strangers/{id}/enrol", [c](Request&& req, Responder s) {
    auto id = ParseId(req.param("id"));
    if (!id) return s.Send(Response::Error(400, "stranger id must be a positive integer"));
    auto name = NameOf(req.body);
    if (!name.ok()) return s.Send(ErrorOf(name.status()));
    OnDiskPool(c->disk_pool, s, [c, s, who = AuditTrail::Of(req), id = *id, name = name.value()] {
      auto found = events::FindStrangers(c->records, c->gallery, c->strangers, NowMs());
      if (!found.ok()) return s.Send(ErrorOf(found.status()));
      // The id names the group's oldest face; one that has since joined another group still finds it.
      const events::Stranger* stranger = nullptr;
      for (const auto& st : found.value()) {
        if (st.id == id || std::find(st.event_ids.begin(), st.event_ids.end(), id) != st.event_ids.end()) {
          stranger = &st;
          break;
        }
      }
      if (stranger == nullptr) {
        return s.Send(Response::Error(404, "no stranger " + std::to_string(id) + " (named already, or no longer seen)"));
      }
      json face_ids = json::array();
      int64_t person_id = 0;
      bool new_person = false;
      for (int64_t event_id : stranger->best_event_ids) {
        auto added = c->events.EnrolFromEvent(event_id, name);
        if (!added.ok()) return s.Send(ErrorOf(added.status()));
        person_id = added.value().person_id;
        new_person = new_person || added.value().new_person;
        face_ids.push_back(added.value().face_id);
      }
      c->audit->Record(who, "enrol", name + " (person " + std::to_string(person_id) + ", " +
                                         std::to_string(face_ids.size()) + " faces) from stranger " +
                                         std::to_string(id));
      s.Send(Response::Json(200, json{{"success", true},
                                      {"stranger_id", id},
                                      {"person_id", person_id},
                                      {"name", name},
                                      {"new_person", new_person},
                                      {"face_ids", std::move(face_ids)}}
                                     .dump()));
    });
  });
}

}  // namespace iotstream::api
