// Live view: fans camera frames out to viewers over WebSocket (/ws, /ws/devices/{id}), MJPEG
// (/api/v1/devices/{id}/mjpeg) and snapshots (/api/v1/devices/{id}/snapshot.jpg), and pushes JSON events
// (device online/offline, ...) to /ws viewers.
//
// A frame arrives once as JPEG and is never re-encoded or copied: every viewer writes from the same
// immutable bytes. Each viewer keeps at most one pending frame per camera (newer replaces older), so a slow
// viewer skips frames, counted per viewer and in metrics, and never slows the camera or other viewers.
//
// Thread-safety: every public method may be called from any thread. Offer() costs O(viewers) pointer
// copies and posts; it never blocks on a socket.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/frame.h"
#include "core/metrics.h"
#include "http/http.h"
#include "ingest/ingest.h"

namespace iotstream::live {

struct LiveOptions {
  size_t max_viewers = 1000;               // further viewers get 503
  size_t max_ws_message_bytes = 4096;      // larger client messages close that session
  size_t max_pending_events = 256;         // per viewer; beyond it the oldest events are dropped (counted)
  int64_t offline_after_ms = 10'000;       // no frame for this long: device_offline event
  std::chrono::seconds write_timeout{30};  // a viewer that accepts no bytes for this long is closed
  int viewer_thread_nice = 10;             // CPU priority of the viewers' I/O thread (HTTP threads: 0)
};

class Viewer;
class ViewerThread;

class LiveHub final : public ingest::FrameSink {
 public:
  // `hello` builds the JSON text each /ws viewer gets first (e.g. the device list); called on I/O threads.
  // `device_known` answers whether a device id exists (for 404s). Both must be thread-safe.
  LiveHub(LiveOptions options, Metrics& metrics, std::function<std::string()> hello,
          std::function<bool(const std::string&)> device_known);
  ~LiveHub() override;
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // FrameSink: remembers the frame as its device's latest and hands it to every interested viewer.
  // `done` (if any) is called at once with OK: live view never holds up the stream path.
  void Offer(const FramePtr& frame, ingest::DoneCallback done) override;

  // Sends a JSON text message to every /ws viewer (events). `json` must be a JSON object.
  void PublishEvent(std::string json);
  // Emits device_offline for devices whose last frame is older than offline_after_ms. Call periodically.
  void CheckOffline(int64_t now_ms);
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
  std::string Hello() const { return hello_(); }
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
  struct DeviceState {
    FramePtr latest;
    bool online = false;
  };
  const LiveOptions options_;
  std::function<std::string()> hello_;
  std::function<bool(const std::string&)> device_known_;
  Stats stats_;
  mutable std::mutex mu_;
  std::unordered_map<Viewer*, std::weak_ptr<Viewer>> viewers_;  // guarded by mu_
  std::unordered_map<std::string, DeviceState> devices_;        // guarded by mu_
  bool closed_ = false;                                          // guarded by mu_
  // Last, so that it goes first: the sessions it still holds leave a hub that is whole.
  std::unique_ptr<ViewerThread> viewer_thread_;
};

}  // namespace iotstream::live
