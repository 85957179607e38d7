// Events: turns recognition results of camera frames into person_recognised / unknown_face events,
// de-duplicated per person per camera within a window, stored (with a face thumbnail) in the event log and
// published on the core event bus (to /ws viewers and every other output), in the JSON of events/schema.h.
// Also applies feedback: a wrong match becomes a negative example.
//
// Thread-safety: every method may be called from any thread. OnRecognition and Feedback block on the disk
// (SQLite, thumbnails): call them from recognition workers or disk threads, never from I/O threads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/event.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "store/records.h"
#include "vision/vision.h"

namespace iotstream::events {

struct EventOptions {
  int64_t dedup_window_ms = 10'000;  // one event per person (or "unknown") per camera within this window
};

class EventHub {
 public:
  // Everything referenced must outlive the hub.
  EventHub(EventOptions options, store::Records& records, vision::Gallery& gallery, const EventBus& bus,
           Metrics& metrics);

  // Records events for the faces of a camera frame's recognition.
  void OnRecognition(const FramePtr& frame, const vision::Recognition& recognition);
  // Applies feedback on event `id`. correct=false on a person_recognised event keeps that face's descriptor
  // as a negative example of the person it was mistaken for. NotFound if there is no such event.
  Status Feedback(int64_t event_id, bool correct);

 private:
  const EventOptions options_;
  store::Records& records_;
  vision::Gallery& gallery_;
  const EventBus& bus_;
  Counter& recognised_;
  Counter& unknown_;
  Counter& suppressed_;
  Counter& errors_;
  Histogram& frame_to_event_;
  std::mutex mu_;
  std::unordered_map<std::string, int64_t> last_event_ms_;  // guarded by mu_: "device\nperson" -> time
};

}  // namespace iotstream::events
