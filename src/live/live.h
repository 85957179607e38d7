// Live view: fans camera frames out to viewers over WebSocket (/ws, /ws/devices/{id}), MJPEG
// (/api/v1/devices/{id}/mjpeg) and snapshots (/api/v1/devices/{id}/snapshot.jpg), and pushes events (as an
// EventPublisher on the core event bus) to /ws viewers.
//
// A frame arrives once as JPEG and is never re-encoded or copied: every viewer writes from the same
// immutable bytes. Each viewer keeps at most one pending frame per camera (newer replaces older), so a slow
// viewer skips frames, counted per viewer and in metrics, and never slows the camera or other viewers.
//
// Thread-safety: every public method may be called from any thread. Offer() costs O(viewers) pointer
// copies and posts; it never blocks on a socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/cpu_priority.h"
#include "core/event.h"
#include "core/frame.h"
#include "core/frame_sink.h"
#include "core/metrics.h"
#include "http/http.h"

namespace iotstream::live {

struct LiveOptions {
  size_t max_viewers = 1000;               // further viewers get 503
  size_t max_ws_message_bytes = 4096;      // larger client messages close that session
  size_t max_pending_events = 256;         // per viewer; beyond it the oldest events are dropped (counted)
  std::chrono::seconds write_timeout{30};  // a viewer that accepts no bytes for this long is closed
  int viewer_thread_nice = cpu_priority::kLiveViewers;  // CPU priority of the viewers' I/O thread
};

class Viewer;
class ViewerThread;

// What the hub needs from the rest of the server; every function must be thread-safe and quick.
struct LiveCallbacks {
  // The JSON text each /ws viewer gets first (the device list); called on I/O threads.
  std::function<std::string()> hello;
  // Whether a device id exists (for 404s).
  std::function<bool(const std::string&)> device_known;
};

class LiveHub final : public FrameSink, public EventPublisher {
 public:
  LiveHub(LiveOptions options, Metrics& metrics, LiveCallbacks callbacks);
  ~LiveHub() override;
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // FrameSink: remembers the frame as its device's latest and hands it to every interested viewer.
  // `done` (if any) is called at once with OK: live view never holds up the stream path.
  void Offer(const FramePtr& frame, FramePath path, DoneCallback done) override;

  // EventPublisher: sends the event's JSON text to every /ws viewer.
  void Publish(const EventPtr& event) override;
  // Forgets a deleted device's latest frame.
  void ForgetDevice(const std::string& device_id);

  // Latest frame of a device, or nullptr.
  FramePtr Latest(const std::string& device_id) const;
  size_t viewers() const;

  // Adds /ws, /ws/devices/{id}, /api/v1/devices/{id}/mjpeg, /api/v1/devices/{id}/snapshot.jpg and
  // /api/v1/live/viewers. The hub must outlive the router's server.
  void AddRoutes(http::Router& router);
  // Closes every viewer (at shutdown). Idempotent.
  void CloseAll();

  // For viewer sessions: membership is RAII (join on start, leave in the destructor).
  void Join(const std::shared_ptr<Viewer>& viewer);
  void Leave(Viewer* viewer);
  const LiveOptions& options() const { return options_; }
  std::string Hello() const { return callbacks_.hello(); }
  // The thread viewer sessions run on (private to live/).
  ViewerThread& viewer_thread() { return *viewer_thread_; }

  struct Stats {
    Counter& frames_sent;
    Counter& frames_skipped;
    Counter& events_dropped;
    Counter& viewers_rejected;
    Gauge& viewers;
  };
  Stats& stats() { return stats_; }

 private:
  const LiveOptions options_;
  const LiveCallbacks callbacks_;
  Stats stats_;
  Histogram& event_latency_;  // frame arrival to an event handed to at least one /ws viewer
  mutable std::mutex mu_;
  std::unordered_map<Viewer*, std::weak_ptr<Viewer>> viewers_;  // guarded by mu_
  std::unordered_map<std::string, FramePtr> latest_;             // guarded by mu_: newest frame per device
  bool closed_ = false;                                          // guarded by mu_
  // Last, so that it goes first: the sessions it still holds leave a hub that is whole.
  std::unique_ptr<ViewerThread> viewer_thread_;
};

}  // namespace iotstream::live
