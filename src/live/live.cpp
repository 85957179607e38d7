#include "live/live.h"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "live/sessions.h"
#include "live/viewer.h"

namespace iotstream::live {

namespace asio = boost::asio;

namespace {

using nlohmann::json;

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

LiveFramePtr MakeLiveFrame(FramePtr frame) {
  auto lf = std::make_shared<LiveFrame>();
  const std::string& id = frame->device_id();  // validated by ingest: at most 64 bytes
  std::string& h = lf->ws_header;
  const size_t length = 20 + id.size();
  h.reserve(length);
  PutBigEndian(h, length, 2);
  h.push_back(1);
  h.push_back(static_cast<char>(id.size()));
  PutBigEndian(h, frame->id(), 8);
  PutBigEndian(h, static_cast<uint64_t>(frame->meta().capture_ts_ms), 8);
  h += id;
  lf->frame = std::move(frame);
  return lf;
}

LiveHub::LiveHub(LiveOptions options, Metrics& metrics, LiveCallbacks callbacks)
    : options_(options),
      callbacks_(std::move(callbacks)),
      stats_{metrics.counter("live_frames_sent_total", "frames written to viewers"),
             metrics.counter("live_frames_skipped_total", "frames a slow viewer skipped (a newer one replaced them)"),
             metrics.counter("live_events_dropped_total", "events dropped from a full viewer event queue"),
             metrics.counter("live_viewers_rejected_total", "viewers refused over max_viewers"),
             metrics.gauge("live_viewers", "connected viewers (WebSocket and MJPEG)")},
      event_latency_(metrics.histogram(kEventLatencyMetric, kEventLatencyHelp, {{"output", "ws"}})),
      viewer_thread_(std::make_unique<ViewerThread>(options_.viewer_thread_nice)) {}

LiveHub::~LiveHub() { CloseAll(); }

void LiveHub::Offer(const FramePtr& frame, FramePath, DoneCallback done) {
  LiveFramePtr lf = MakeLiveFrame(frame);
  std::vector<std::shared_ptr<Viewer>> targets;
  {
    std::lock_guard lock(mu_);
    latest_[frame->device_id()] = frame;
    targets.reserve(viewers_.size());
    for (const auto& [raw, weak] : viewers_) {
      if (auto v = weak.lock()) targets.push_back(std::move(v));
    }
  }
  // One hand-off to the viewer thread for all the sessions on it, which there take the frame (or not: their
  // subscription is checked there) one after the other: the I/O thread copies N pointers and posts once.
  // A session left on another executor (Adopt could not move its socket) gets its own post.
  const http::Executor fanout = viewer_thread_->executor();
  auto it = std::partition(targets.begin(), targets.end(),
                           [&](const std::shared_ptr<Viewer>& v) { return v->executor() == fanout; });
  for (auto other = it; other != targets.end(); ++other) {
    if ((*other)->Wants(frame->device_id())) (*other)->PostFrame(lf);
  }
  targets.erase(it, targets.end());
  if (!targets.empty()) {
    asio::post(fanout, [viewers = std::move(targets), lf] {
      for (const auto& v : viewers) v->DeliverFrame(lf);
    });
  }
  if (done) done(Status::Ok());
}

void LiveHub::Publish(const EventPtr& event) {
  // Viewers queue the text itself; the aliasing pointer keeps the whole event alive as long as they do.
  std::shared_ptr<const std::string> text(event, &event->json);
  std::vector<std::shared_ptr<Viewer>> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [raw, weak] : viewers_) {
      if (auto v = weak.lock()) targets.push_back(std::move(v));
    }
  }
  bool out = false;
  for (const auto& v : targets) out = v->PostEvent(text) || out;
  if (out && event->frame_received_ms > 0) event_latency_.Record((NowMs() - event->frame_received_ms) * 1000);
}

void LiveHub::ForgetDevice(const std::string& device_id) {
  std::lock_guard lock(mu_);
  latest_.erase(device_id);
}

FramePtr LiveHub::Latest(const std::string& device_id) const {
  std::lock_guard lock(mu_);
  auto it = latest_.find(device_id);
  return it == latest_.end() ? nullptr : it->second;
}

size_t LiveHub::viewers() const {
  std::lock_guard lock(mu_);
  return viewers_.size();
}

void LiveHub::Join(const std::shared_ptr<Viewer>& viewer) {
  std::vector<FramePtr> latest;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      viewer->Close();
      return;
    }
    viewers_[viewer.get()] = viewer;
    stats_.viewers.Set(static_cast<int64_t>(viewers_.size()));
    for (const auto& [id, f] : latest_) latest.push_back(f);
  }
  // A new viewer sees each camera's current picture at once instead of waiting for the next frame.
  for (const auto& f : latest) {
    if (viewer->Wants(f->device_id())) viewer->PostFrame(MakeLiveFrame(f));
  }
}

void LiveHub::Leave(Viewer* viewer) {
  std::lock_guard lock(mu_);
  viewers_.erase(viewer);
  stats_.viewers.Set(static_cast<int64_t>(viewers_.size()));
}

void LiveHub::CloseAll() {
  std::vector<std::shared_ptr<Viewer>> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (const auto& [raw, weak] : viewers_) {
      if (auto v = weak.lock()) all.push_back(std::move(v));
    }
  }
  for (const auto& v : all) v->Close();
}

void LiveHub::AddRoutes(http::Router& router) {
  using http::Method;
  // Checks shared by every takeover route; false when the connection was refused.
  auto admit = [this](std::unique_ptr<http::Connection>& conn, const std::string& device) {
    if (!device.empty() && !callbacks_.device_known(device)) {
      RefuseConnection(std::move(conn), 404, "no device '" + device + "'");
      return false;
    }
    if (viewers() >= options_.max_viewers) {
      stats_.viewers_rejected.Add();
      RefuseConnection(std::move(conn), 503, "too many viewers");
      return false;
    }
    return true;
  };
  auto websocket = [this, admit](http::Request&& req, std::unique_ptr<http::Connection> conn) {
    const std::string device(req.param("id"));
    if (!boost::beast::websocket::is_upgrade(conn->request)) {
      return RefuseConnection(std::move(conn), 426, "this path speaks WebSocket only");
    }
    if (!admit(conn, device)) return;
    StartWebSocketViewer(*this, std::move(conn), device, req.remote_address);
  };
  router.AddTakeover(Method::kGet, "/ws", websocket);
  router.AddTakeover(Method::kGet, "/ws/devices/{id}", websocket);
  router.AddTakeover(Method::kGet, "/api/v1/devices/{id}/mjpeg",
                     [this, admit](http::Request&& req, std::unique_ptr<http::Connection> conn) {
                       const std::string device(req.param("id"));
                       if (!admit(conn, device)) return;
                       StartMjpegViewer(*this, std::move(conn), device, req.remote_address);
                     });
  router.Add(Method::kGet, "/api/v1/devices/{id}/snapshot.jpg", [this](http::Request&& req, http::Responder s) {
    const std::string device(req.param("id"));
    if (!callbacks_.device_known(device)) return s.Send(http::Response::Error(404, "no device '" + device + "'"));
    FramePtr f = Latest(device);
    if (!f) return s.Send(http::Response::Error(404, "device '" + device + "' has sent no frame since start"));
    const std::string etag = "\"" + std::to_string(f->id()) + "\"";
    http::Response res;
    res.headers.emplace_back("ETag", etag);
    res.headers.emplace_back("Cache-Control", "no-cache");
    if (req.header("If-None-Match") == etag) {
      res.status = 304;
      res.content_type.clear();
      return s.Send(std::move(res));
    }
    res.content_type = "image/jpeg";
    res.body = std::string(f->jpeg());
    res.headers.emplace_back("X-Frame-ID", std::to_string(f->id()));
    s.Send(std::move(res));
  });
  router.Add(Method::kGet, "/api/v1/live/viewers", [this](http::Request&&, http::Responder s) {
    std::vector<std::shared_ptr<Viewer>> all;
    {
      std::lock_guard lock(mu_);
      for (const auto& [raw, weak] : viewers_) {
        if (auto v = weak.lock()) all.push_back(std::move(v));
      }
    }
    json list = json::array();
    for (const auto& v : all) list.push_back(v->Describe());
    s.Send(http::Response::Json(200, json{{"viewers", std::move(list)},
                                          {"frames_sent", stats_.frames_sent.value()},
                                          {"frames_skipped", stats_.frames_skipped.value()}}
                                         .dump()));
  });
}

}  // namespace iotstream::live
