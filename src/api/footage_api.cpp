#include "api/footage_api.h"

#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/respond.h"
#include "core/clock.h"
#include "core/parse.h"
#include "events/schema.h"

namespace iotstream::api {
namespace {

using nlohmann::json;
using http::Method;
using http::Request;
using http::Responder;
using http::Response;

constexpr int64_t kMaxBuckets = 100'000;  // a timeline's span over its bucket length

std::string JobUrl(const exports::JobInfo& j) {
  return "/api/v1/footage/" + j.device_id + "/exports/" + std::to_string(j.id);
}

json JobJson(const exports::JobInfo& j) {
  const bool done = j.state == exports::JobState::kDone;
  const double progress =
      done ? 1.0 : j.frames_total == 0 ? 0.0 : static_cast<double>(j.frames_done) / static_cast<double>(j.frames_total);
  return json{{"id", j.id},
              {"device_id", j.device_id},
              {"format", exports::FormatName(j.format)},
              {"from", j.from_ms},
              {"to", j.to_ms},
              {"state", exports::StateName(j.state)},
              {"progress", progress},
              {"frames_total", j.frames_total},
              {"frames_done", j.frames_done},
              {"frames_skipped", j.frames_skipped},
              {"bytes", j.bytes},
              {"error", j.error.empty() ? json(nullptr) : json(j.error)},
              {"url", JobUrl(j)},
              {"file_url", done ? json(JobUrl(j) + "/file") : json(nullptr)}};
}

json FrameRefJson(const store::StoredFrame& f, const std::string& node) {
  return json{{"frame_id", f.id}, {"timestamp", f.capture_ts_ms}, {"url", events::FrameUrl(f.device_id, f.id, node)}};
}

// The job `{id}` of the device in the path: NotFound (answered) when either does not match.
std::optional<exports::JobInfo> JobOf(const FootageContext& c, const Request& req, const Responder& s) {
  auto id = ParseId(req.param("id"));
  if (!id) {
    s.Send(Response::Error(400, "export id must be a positive integer"));
    return std::nullopt;
  }
  auto job = c.exporter.Get(static_cast<uint64_t>(*id));
  if (!job.ok() || job.value().device_id != req.param("device")) {
    s.Send(Response::Error(404, "no export " + std::to_string(*id) + " of this camera"));
    return std::nullopt;
  }
  return job.value();
}

void Timeline(FootageContext* c, Request&& req, const Responder& s) {
  const std::string device(req.param("device"));
  const int64_t now = NowMs();
  int64_t from = c->retention_max_age_ms > 0 ? std::max<int64_t>(0, now - c->retention_max_age_ms) : 0;
  int64_t to = std::numeric_limits<int64_t>::max() / 2;  // open: cameras' clocks may run ahead
  const bool to_given = req.query_param("to").has_value();
  int64_t bucket_s = 60;
  for (auto [key, out] : {std::pair{"from", &from}, std::pair{"to", &to}, std::pair{"bucket_s", &bucket_s}}) {
    auto text = req.query_param(key);
    if (!text) continue;
    auto v = ParseInt(*text);
    if (!v || *v < 0) return s.Send(Response::Error(400, std::string("'") + key + "' must be a non-negative integer"));
    *out = *v;
  }
  if (bucket_s < 1 || bucket_s > 86'400) return s.Send(Response::Error(400, "'bucket_s' must be 1 to 86400"));
  if (to < from) return s.Send(Response::Error(400, "'to' must not be before 'from'"));
  const int64_t bucket_ms = bucket_s * 1000;
  if (!c->registry.Get(device, now)) return s.Send(Response::Error(404, "no device '" + device + "'"));
  OnDiskPool(c->disk_pool, s, [c, s, device, from, to, to_given, bucket_ms] {
    auto oldest = c->store.ListFrames(device, from, to, 1, store::FrameOrder::kOldestFirst);
    auto newest = c->store.ListFrames(device, from, to, 1, store::FrameOrder::kNewestFirst);
    if (!oldest.ok()) return s.Send(ErrorOf(oldest.status()));
    if (!newest.ok()) return s.Send(ErrorOf(newest.status()));
    json buckets = json::array();
    uint64_t total = 0;
    if (!oldest.value().empty()) {
      // The span actually stored bounds the buckets, whatever 'to' was asked.
      const int64_t first = oldest.value().front().capture_ts_ms, last = newest.value().front().capture_ts_ms;
      if ((last - first) / bucket_ms > kMaxBuckets) {
        return s.Send(Response::Error(400, "too many buckets: choose a larger 'bucket_s' or a shorter range"));
      }
      auto density = c->store.FrameDensity(device, from, to, bucket_ms);
      if (!density.ok()) return s.Send(ErrorOf(density.status()));
      for (const auto& b : density.value()) {
        buckets.push_back(json{{"start", b.start_ms}, {"frames", b.frames}});
        total += b.frames;
      }
    }
    json body{{"device_id", device},
              {"from", from},
              {"to", to_given ? json(to) : json(nullptr)},
              {"bucket_ms", bucket_ms},
              {"frames", total},
              {"buckets", std::move(buckets)},
              {"first", oldest.value().empty() ? json(nullptr) : FrameRefJson(oldest.value().front(), c->frame_node)},
              {"last", newest.value().empty() ? json(nullptr) : FrameRefJson(newest.value().front(), c->frame_node)},
              {"export",
               {{"max_seconds", c->exporter.options().max_range_ms / 1000},
                {"formats", json::array({"mp4", "zip"})}}}};
    s.Send(Response::Json(200, body.dump()));
  });
}

void StartExport(FootageContext* c, Request&& req, const Responder& s) {
  const std::string device(req.param("device"));
  auto spec = ExportSpecOf(req.body);
  if (!spec.ok()) return s.Send(ErrorOf(spec.status()));
  if (!c->registry.Get(device, NowMs())) return s.Send(Response::Error(404, "no device '" + device + "'"));
  OnDiskPool(c->disk_pool, s, [c, s, device, spec = spec.value()] {
    // The exporter judges the range (its length, its frames). One frame more than an export may hold, to tell "at the
    // limit" from "over it", bounds the query whatever the range.
    auto frames = c->store.ListFrames(device, spec.from_ms, spec.to_ms - 1, c->exporter.options().max_frames + 1,
                                      store::FrameOrder::kOldestFirst);
    if (!frames.ok()) return s.Send(ErrorOf(frames.status()));
    exports::ExportRequest request{device, spec.from_ms, spec.to_ms, spec.format, {}};
    request.frames.reserve(frames.value().size());
    for (const auto& f : frames.value()) request.frames.push_back({f.id, f.capture_ts_ms});
    auto job = c->exporter.Submit(std::move(request));
    if (!job.ok()) return s.Send(ErrorOf(job.status()));
    Response res = Response::Json(202, JobJson(job.value()).dump());
    res.headers.emplace_back("Location", JobUrl(job.value()));
    s.Send(std::move(res));
  });
}

void GetExport(FootageContext* c, Request&& req, const Responder& s) {
  auto job = JobOf(*c, req, s);
  if (!job) return;
  Response res = Response::Json(200, JobJson(*job).dump());
  res.headers.emplace_back("Cache-Control", "no-store");
  s.Send(std::move(res));
}

void GetExportFile(FootageContext* c, Request&& req, const Responder& s) {
  auto job = JobOf(*c, req, s);
  if (!job) return;
  OnDiskPool(c->disk_pool, s, [c, s, info = *job] {
    auto bytes = c->exporter.ReadFile(info.id);
    if (!bytes.ok()) return s.Send(ErrorOf(bytes.status()));
    const bool mp4 = info.format == exports::Format::kMp4;
    Response res;
    res.content_type = mp4 ? "video/mp4" : "application/zip";
    res.body = std::move(bytes).value();
    // Device ids are [A-Za-z0-9._:-] (ingest), so the name needs no quoting beyond the quotes.
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + info.device_id + "-" +
                                                        FormatUtc(info.from_ms, "%Y%m%dT%H%M%SZ") + "." +
                                                        std::string(exports::FormatName(info.format)) + "\"");
    s.Send(std::move(res));
  });
}

}  // namespace

void AddFootageRoutes(http::Router& router, FootageContext& ctx) {
  FootageContext* c = &ctx;
  router.Add(Method::kGet, "/api/v1/footage/{device}/timeline",
             [c](Request&& req, Responder s) { Timeline(c, std::move(req), s); });
  router.Add(Method::kPost, "/api/v1/footage/{device}/exports",
             [c](Request&& req, Responder s) { StartExport(c, std::move(req), s); });
  router.Add(Method::kGet, "/api/v1/footage/{device}/exports/{id}",
             [c](Request&& req, Responder s) { GetExport(c, std::move(req), s); });
  router.Add(Method::kGet, "/api/v1/footage/{device}/exports/{id}/file",
             [c](Request&& req, Responder s) { GetExportFile(c, std::move(req), s); });
}

}  // namespace iotstream::api
