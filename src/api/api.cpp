#include "api/api.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "api/bodies.h"
#include "api/recognition_api.h"
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

// `node`: in a cluster, this node's id (events::FrameUrl); empty on a single node.
json FrameJson(const store::StoredFrame& f, const std::string& node) {
  return json{{"frame_id", f.id},         {"device_id", f.device_id}, {"timestamp", f.capture_ts_ms},
              {"received_at", f.received_ts_ms}, {"size", f.size},    {"width", f.width},
              {"height", f.height},       {"url", events::FrameUrl(f.device_id, f.id, node)}};
}

ingest::Upload UploadOf(Request& req) {
  ingest::Upload u;
  u.content_type = std::string(req.header("Content-Type"));
  u.header_device_id = std::string(req.header("X-Device-ID"));
  u.query_device_id = req.query_param("device_id").value_or("");
  u.header_timestamp = std::string(req.header("X-Frame-Timestamp"));
  u.query_timestamp = req.query_param("timestamp").value_or("");
  u.remote_address = req.remote_address;
  u.body = std::move(req.body);
  return u;
}

// The answer to an accepted upload, `more` (",\"key\":value..." or empty) appended inside the object. Written by
// hand rather than through nlohmann::json: it is the one body on the ingest hot path (building and dumping a json
// object was ~5 % of the server's CPU under a wrk flood), and it holds only numbers and a device id, which ingest
// limits to [A-Za-z0-9._:-], so there is nothing to escape.
std::string AcceptedJson(const Frame& f, std::string_view more = {}) {
  const auto& m = f.meta();
  std::string out;
  out.reserve(128 + m.device_id.size() + more.size());
  out += R"({"success":true,"device_id":")";
  out += m.device_id;
  out += R"(","frame_id":)";
  out += std::to_string(m.id);
  out += R"(,"width":)";
  out += std::to_string(m.width);
  out += R"(,"height":)";
  out += std::to_string(m.height);
  out += R"(,"size":)";
  out += std::to_string(f.jpeg().size());
  out += R"(,"timestamp":)";
  out += std::to_string(m.capture_ts_ms);
  out += more;
  out += '}';
  return out;
}

// GET /api/v1/cluster's body: the node's view of the cluster (or of itself alone without --database).
json ClusterJson(const cluster::ClusterView& v) {
  auto round2 = [](double x) { return std::round(x * 100) / 100; };
  json nodes = json::array();
  for (const auto& n : v.nodes) {
    nodes.push_back(json{{"node_id", n.node_id},
                         {"advertise_url", n.advertise_url},
                         {"state", n.up ? "up" : "down"},
                         {"version", n.version},
                         {"started_ms", n.started_ms},
                         {"last_heartbeat_ms", n.last_heartbeat_ms},
                         {"cameras", n.cameras},
                         {"load", {{"frames_per_s", round2(n.load.frames_per_s)},
                                   {"cpu_percent", round2(n.load.cpu_percent)},
                                   {"cameras", n.load.cameras}}}});
  }
  json body{{"mode", v.clustered ? "cluster" : "single"}, {"self", v.self}};
  if (v.clustered) {
    body["database"] = v.database_reachable ? "ok" : "unreachable";
    body["database_checked_ms"] = v.database_checked_ms;
  }
  body["nodes"] = std::move(nodes);
  return body;
}

// A cluster's device list: this node's cameras (marked with this node), then every camera another node held last,
// as that node last described it, marked with that node and whether it is up. A camera on this node is listed once.
// A camera of another node: its record (the devices table) over the live figures its node last described (the
// camera's placement); either may be missing.
json OtherNodesCamera(const std::string& id, const cluster::CameraPlacement* placed, const cluster::DeviceRow* row) {
  json d = placed != nullptr ? json::parse(placed->device_json, nullptr, false) : json::object();
  if (!d.is_object()) d = json::object();
  d["id"] = id;
  d["device_id"] = id;
  if (row != nullptr) {
    const DeviceRecord& r = row->record;
    d["name"] = r.name.empty() ? id : r.name;
    d["location"] = r.location;
    d["sparse_marked"] = r.sparse;
    if (placed == nullptr) {  // never placed since it was recorded: the record is all there is
      d.update(json{{"first_seen", r.first_seen_ms}, {"last_seen", r.last_seen_ms},
                    {"frames_received", r.frames_received}, {"bytes_received", r.bytes_received},
                    {"frames_rejected", r.frames_rejected}, {"last_frame_size", r.last_frame_bytes},
                    {"resolution", {{"width", r.last_width}, {"height", r.last_height}}}, {"online", false},
                    {"status", "offline"}});
    }
  }
  d["node"] = placed != nullptr ? placed->node_id : row->node_id;
  return d;
}

json ClusterDeviceList(json local, const cluster::ClusterView& v) {
  std::map<std::string, bool> up;
  for (const auto& n : v.nodes) up[n.node_id] = n.up;
  std::map<std::string, const cluster::DeviceRow*> rows;
  for (const auto& r : v.devices) rows[r.record.id] = &r;
  std::set<std::string> listed;
  for (auto& d : local["devices"]) {
    d["node"] = v.self;
    listed.insert(d["id"].get<std::string>());
  }
  std::vector<json> others;
  for (const auto& p : v.placements) {  // newest first per device: the first one seen is where it is now
    if (!listed.insert(p.device_id).second) continue;
    const auto row = rows.find(p.device_id);
    others.push_back(OtherNodesCamera(p.device_id, &p, row == rows.end() ? nullptr : row->second));
  }
  for (const auto& [id, row] : rows) {
    if (listed.insert(id).second) others.push_back(OtherNodesCamera(id, nullptr, row));
  }
  for (json& d : others) {
    const std::string node = d["node"].get<std::string>();
    d["node_up"] = up[node];
    // A camera of a node that is down sends nothing anyone sees.
    if (!up[node]) d["online"] = false;
    if (d.value("online", false)) local["online"] = local["online"].get<size_t>() + 1;
    local["devices"].push_back(std::move(d));
  }
  local["total"] = local["devices"].size();
  return local;
}

// Where else a camera's footage lies: each other node that held it, its time span, and whether it can be had now
// (its node is up: ask that node, or go through HAProxy, which routes the camera's paths there).
json FootageElsewhere(const std::string& device_id, const cluster::ClusterView& v) {
  json out = json::array();
  for (const auto& p : v.placements) {
    if (p.device_id != device_id || p.node_id == v.self) continue;
    const auto node = std::find_if(v.nodes.begin(), v.nodes.end(),
                                   [&](const cluster::NodeInfo& n) { return n.node_id == p.node_id; });
    const bool up = node != v.nodes.end() && node->up;
    out.push_back(json{{"node", p.node_id},
                       {"advertise_url", node != v.nodes.end() ? node->advertise_url : ""},
                       {"from", p.first_ms},
                       {"to", p.last_ms},
                       {"available", up}});
  }
  return out;
}

struct ProcessUsage {
  uint64_t rss_bytes = 0;
  double cpu_user_s = 0;
  double cpu_system_s = 0;
};

ProcessUsage ReadProcessUsage() {
  ProcessUsage u;
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (statm >> size >> resident) u.rss_bytes = resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    u.cpu_user_s = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
    u.cpu_system_s = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
  }
  return u;
}

class Routes {
 public:
  explicit Routes(ApiContext& ctx)
      : ctx_(ctx),
        fast_latency_(ctx.metrics.histogram("ingest_fast_request_duration_seconds",
                                            "server time of POST /api/v1/stream/fast")),
        stream_latency_(ctx.metrics.histogram("ingest_stream_request_duration_seconds",
                                              "server time of POST /api/v1/stream/stream")) {}

  static void Add(const std::shared_ptr<Routes>& self, http::Router& r) {
    r.Add(Method::kGet, "/health", Bind<&Routes::Health>(self));
    r.Add(Method::kPost, "/api/v1/stream/fast", Bind<&Routes::Fast>(self));
    r.Add(Method::kPost, "/api/v1/stream/stream", Bind<&Routes::Stream>(self));
    r.Add(Method::kGet, "/api/v1/devices", Bind<&Routes::ListDevices>(self));
    r.Add(Method::kGet, "/api/v1/devices/{id}", Bind<&Routes::GetDevice>(self));
    r.Add(Method::kPatch, "/api/v1/devices/{id}", Bind<&Routes::PatchDevice>(self));
    r.Add(Method::kDelete, "/api/v1/devices/{id}", Bind<&Routes::DeleteDevice>(self));
    r.Add(Method::kGet, "/api/v1/devices/{id}/frames", Bind<&Routes::ListFrames>(self));
    r.Add(Method::kGet, "/api/v1/frames/{frame_id}", Bind<&Routes::GetFrame>(self));
    // The same frame named under its camera: a load balancer that places cameras by id finds the node that holds it.
    r.Add(Method::kGet, "/api/v1/devices/{id}/frames/{frame_id}", Bind<&Routes::GetFrame>(self));
    r.Add(Method::kGet, "/api/v1/system/performance", Bind<&Routes::Performance>(self));
    r.Add(Method::kGet, "/api/v1/cluster", Bind<&Routes::Cluster>(self));
    r.Add(Method::kGet, "/metrics", Bind<&Routes::PrometheusMetrics>(self));
  }

 private:
  // Each handler shares ownership of the Routes, so they live as long as the router.
  template <void (Routes::*Fn)(Request&&, const Responder&)>
  static http::Handler Bind(std::shared_ptr<Routes> self) {
    return [self = std::move(self)](Request&& q, Responder s) { ((*self).*Fn)(std::move(q), s); };
  }

  void PrometheusMetrics(Request&&, const Responder& s) {
    Response res;
    res.content_type = "text/plain; version=0.0.4";
    res.body = ctx_.metrics.ExportPrometheus();
    s.Send(std::move(res));
  }

  void Health(Request&&, const Responder& s) {
    s.Send(Response::Json(200, json{{"status", "ok"},
                                    {"uptime_s", (NowMs() - ctx_.started_ms) / 1000},
                                    {"version", ctx_.version}}
                                   .dump()));
  }

  void Fast(Request&& req, const Responder& s) {
    const int64_t started = MonotonicUs();
    auto frame = ctx_.ingestor.Accept(UploadOf(req), NowMs());
    if (!frame.ok()) return s.Send(ErrorOf(frame.status()));
    // The answer is queued before the hand-off, so the camera's reply never waits behind the sinks' work.
    Response res = Response::Json(200, AcceptedJson(*frame.value()));
    fast_latency_.Record(MonotonicUs() - started);
    s.Send(std::move(res));
    ctx_.frames.Publish(frame.value());
  }

  void Stream(Request&& req, const Responder& s) {
    const int64_t started = MonotonicUs();
    auto frame = ctx_.ingestor.Accept(UploadOf(req), NowMs());
    if (!frame.ok()) return s.Send(ErrorOf(frame.status()));
    FramePtr f = frame.value();
    ctx_.frames.PublishAndWait(f, [this, f, s, started](Status st) {
      if (!st.ok()) return s.Send(ErrorOf(st));
      RecognitionContext* rc = ctx_.recognition;
      if (rc == nullptr || rc->pool == nullptr) {
        stream_latency_.Record(MonotonicUs() - started);
        return s.Send(Response::Json(200, AcceptedJson(*f, R"(,"stored":true,"recognition":null)")));
      }
      // Stored; now this frame's own recognition (not sampled), within the recognition timeout.
      rc->pool->Submit(f, f->jpeg(), [this, rc, f, s, started](vision::PoolResult r) {
        if (!r.recognition.ok()) {
          const Status& why = r.recognition.status();
          Response res = ErrorOf(why);
          res.body = json{{"error", "recognition: " + why.message()}, {"frame_id", f->id()}, {"stored", true}}.dump();
          return s.Send(std::move(res));
        }
        rc->events.OnRecognition(f, r.recognition.value());
        std::string body = AcceptedJson(*f, R"(,"stored":true,"recognition":)" + RecognitionJson(r.recognition.value()));
        stream_latency_.Record(MonotonicUs() - started);
        s.Send(Response::Json(200, std::move(body)));
      });
    });
  }

  void ListDevices(Request&&, const Responder& s) {
    json list = events::DeviceListJson(ctx_.registry.List(NowMs()));
    if (ctx_.cluster != nullptr) {
      const cluster::ClusterView view = ctx_.cluster->Snapshot();
      if (view.clustered) list = ClusterDeviceList(std::move(list), view);
    }
    s.Send(Response::Json(200, list.dump()));
  }

  void GetDevice(Request&& req, const Responder& s) {
    auto v = ctx_.registry.Get(std::string(req.param("id")), NowMs());
    if (!v) return s.Send(Response::Error(404, "no device '" + std::string(req.param("id")) + "'"));
    s.Send(Response::Json(200, events::DeviceJson(*v).dump()));
  }

  void PatchDevice(Request&& req, const Responder& s) {
    const std::string id(req.param("id"));
    auto update = DeviceUpdateOf(req.body);
    if (!update.ok()) return s.Send(ErrorOf(update.status()));
    if (Status st = ctx_.registry.Update(id, update.value()); !st.ok()) return s.Send(ErrorOf(st));
    auto changed = ctx_.registry.TakeDirty();
    if (ctx_.cluster != nullptr) ctx_.cluster->SaveDevices(changed);
    ctx_.store.SaveDevices(std::move(changed));
    auto v = ctx_.registry.Get(id, NowMs());
    if (!v) return s.Send(Response::Error(404, "no device '" + id + "'"));
    ctx_.events.OnDeviceUpdated(id, NowMs());
    s.Send(Response::Json(200, events::DeviceJson(*v).dump()));
  }

  void DeleteDevice(Request&& req, const Responder& s) {
    const std::string id(req.param("id"));
    if (Status st = ctx_.registry.Remove(id); !st.ok()) return s.Send(ErrorOf(st));
    ctx_.audit->Record(AuditTrail::Of(req), "device_delete", id);
    ctx_.live.ForgetDevice(id);
    if (ctx_.cluster != nullptr) ctx_.cluster->ForgetDevice(id);
    ctx_.events.OnDeviceRemoved(id, NowMs());
    ctx_.store.DeleteDevice(id, [s, id](Status st) {
      if (!st.ok()) return s.Send(ErrorOf(st));
      s.Send(Response::Json(200, json{{"success", true}, {"device_id", id}}.dump()));
    });
  }

  void ListFrames(Request&& req, const Responder& s) {
    const std::string id(req.param("id"));
    int64_t from = 0, to = std::numeric_limits<int64_t>::max(), limit = 100;
    for (auto [key, out] : {std::pair{"from", &from}, std::pair{"to", &to}, std::pair{"limit", &limit}}) {
      auto text = req.query_param(key);
      if (!text) continue;
      auto v = ParseInt(*text);
      if (!v || *v < 0) {
        return s.Send(Response::Error(400, std::string("'") + key + "' must be a non-negative integer"));
      }
      *out = *v;
    }
    limit = std::clamp<int64_t>(limit, 1, 1000);
    // ?order=asc: the oldest first, for playing footage forward from a time.
    const auto order_text = req.query_param("order").value_or("desc");
    if (order_text != "asc" && order_text != "desc") return s.Send(Response::Error(400, "'order' must be asc or desc"));
    const auto order = order_text == "asc" ? store::FrameOrder::kOldestFirst : store::FrameOrder::kNewestFirst;
    // In a cluster, the other nodes that hold some of this camera's footage (a camera that moved, or one this node
    // never had), each said to be available or not.
    json elsewhere;
    std::string node;
    if (ctx_.cluster != nullptr) {
      const cluster::ClusterView view = ctx_.cluster->Snapshot();
      if (view.clustered) {
        elsewhere = FootageElsewhere(id, view);
        node = view.self;
      }
    }
    const bool known = ctx_.registry.Get(id, NowMs()).has_value();
    if (!known && (elsewhere.is_null() || elsewhere.empty())) {
      return s.Send(Response::Error(404, "no device '" + id + "'"));
    }
    OnDiskPool(ctx_.disk_pool, s, [this, s, id, from, to, limit, order, known, elsewhere = std::move(elsewhere),
                                   node = std::move(node)] {
      json list = json::array();
      if (known) {
        auto frames = ctx_.store.ListFrames(id, from, to, static_cast<size_t>(limit), order);
        if (!frames.ok()) return s.Send(ErrorOf(frames.status()));
        for (const auto& f : frames.value()) list.push_back(FrameJson(f, node));
      }
      const size_t count = list.size();
      json body{{"device_id", id}, {"frames", std::move(list)}, {"count", count}};
      if (!elsewhere.is_null()) body["elsewhere"] = elsewhere;
      s.Send(Response::Json(200, body.dump()));
    });
  }

  void GetFrame(Request&& req, const Responder& s) {
    auto id = ParseInt(req.param("frame_id"));
    if (!id || *id <= 0) return s.Send(Response::Error(400, "frame id must be a positive integer"));
    OnDiskPool(ctx_.disk_pool, s, [this, s, fid = static_cast<uint64_t>(*id), device = std::string(req.param("id"))] {
      store::StoredFrame meta;
      auto data = ctx_.store.ReadFrame(fid, &meta);
      if (!data.ok()) return s.Send(ErrorOf(data.status()));
      if (!device.empty() && meta.device_id != device) {
        return s.Send(Response::Error(404, "no frame " + std::to_string(fid) + " of device '" + device + "'"));
      }
      Response res;
      res.content_type = "image/jpeg";
      res.body = std::move(data).value();
      res.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
      res.headers.emplace_back("X-Device-ID", meta.device_id);
      res.headers.emplace_back("X-Frame-Timestamp", std::to_string(meta.capture_ts_ms));
      s.Send(std::move(res));
    });
  }

  // A copy of what the heartbeat thread last stored: never waits for the database.
  void Cluster(Request&&, const Responder& s) {
    s.Send(Response::Json(200, ClusterJson(ctx_.cluster->Snapshot()).dump()));
  }

  void Performance(Request&&, const Responder& s) {
    const auto usage = ReadProcessUsage();
    const auto ingested = ctx_.ingestor.stats();
    const auto stored = ctx_.store.stats();
    const http::Server* server = ctx_.server.load();
    const int64_t now = NowMs();
    auto ms = [](double us) { return std::round(us / 10.0) / 100.0; };
    json body{
        {"uptime_s", (now - ctx_.started_ms) / 1000},
        {"version", ctx_.version},
        {"process", {{"rss_bytes", usage.rss_bytes}, {"cpu_user_s", usage.cpu_user_s},
                     {"cpu_system_s", usage.cpu_system_s}}},
        {"devices", {{"total", ctx_.registry.size()}, {"online", ctx_.registry.online(now)}}},
        {"frames",
         {{"accepted", ingested.accepted},
          {"rejected", ingested.rejected},
          {"stored", stored.stored},
          {"dropped", stored.dropped},
          {"store_errors", stored.write_errors},
          {"evicted", stored.evicted}}},
        {"queues", {{"store_frames", stored.queue_frames}, {"store_bytes", stored.queue_bytes},
                    {"disk_pool", ctx_.disk_pool.queue_depth()}}},
        {"storage", {{"frames", stored.frames}, {"bytes", stored.bytes}, {"budget_bytes", stored.budget_bytes}}},
        {"latency_ms",
         {{"fast_p50", ms(fast_latency_.QuantileUs(0.5))},
          {"fast_p99", ms(fast_latency_.QuantileUs(0.99))},
          {"fast_count", fast_latency_.count()},
          {"stream_p50", ms(stream_latency_.QuantileUs(0.5))},
          {"stream_p99", ms(stream_latency_.QuantileUs(0.99))},
          {"stream_count", stream_latency_.count()}}},
        {"connections", {{"open", server != nullptr ? server->open_connections() : 0}}},
    };
    if (auto done = ctx_.metrics.CounterValue("recognition_jobs_completed_total"); done.ok()) {
      uint64_t dropped = 0;
      for (const char* reason : {"replaced", "pending_full", "requests_full", "timeout", "stale"}) {
        auto n = ctx_.metrics.CounterValue(std::string("recognition_dropped_") + reason + "_total");
        if (n.ok()) dropped += n.value();
      }
      body["recognition"] = {{"jobs_completed", done.value()}, {"jobs_dropped", dropped}};
    }
    if (ctx_.mqtt != nullptr) {
      const auto m = ctx_.mqtt->stats();
      body["mqtt"] = {{"connected", m.connected}, {"queued", m.queued}, {"dropped", m.dropped},
                      {"published", m.published}};
    }
    s.Send(Response::Json(200, body.dump()));
  }

  ApiContext& ctx_;
  Histogram& fast_latency_;
  Histogram& stream_latency_;
};

}  // namespace

void AddRoutes(http::Router& router, ApiContext& ctx) { Routes::Add(std::make_shared<Routes>(ctx), router); }

}  // namespace iotstream::api
