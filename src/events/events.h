// Events: the event log and what feeds it. Every event kind of events/schema.h is built here, stored in the log
// (SQLite, with an increasing id; a recognition's face thumbnail beside it) and then published on the core event
// bus (to /ws viewers and every other output), so that every output sends what the log keeps.
//
// Recognition results become person_recognised / unknown_face events, de-duplicated per person per camera within a
// window and one per tracked appearance (its thumbnail then the best face the appearance showed); the end of a
// tracked appearance becomes appearance_ended; device changes, storage pressure and presence (a person not seen for
// a while has left) become their own events. Feedback turns a wrong match into a negative example.
//
// Thread-safety: every method may be called from any thread. The On* methods never block on the disk: they queue
// the event (bounded; a full queue drops and counts it) for the hub's own writer thread, which appends it to the
// log and publishes it, in the order queued. Feedback blocks on SQLite: call it off I/O threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/event.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "ingest/ingest.h"
#include "store/records.h"
#include "vision/vision.h"

namespace iotstream::events {

struct EventOptions {
  int64_t dedup_window_ms = 10'000;        // one event per person (or "unknown") per camera within this window
  int64_t presence_timeout_ms = 600'000;   // a person not seen for this long has left (person_left)
  int64_t pressure_interval_ms = 60'000;   // at most one storage_pressure event per reason within this time
  size_t max_queued = 1024;                // events waiting for the log; more are dropped (counted)
  std::string frame_node{};                // in a cluster, this node's id: named in frame_url (?node=), which any
                                           // node then serves from here; empty on a single node
};

class EventHub {
 public:
  // Everything referenced must outlive the hub. Starts the writer thread.
  EventHub(EventOptions options, store::Records& records, vision::Gallery& gallery,
           const ingest::DeviceRegistry& devices, const EventBus& bus, Metrics& metrics);
  // Logs and publishes what is queued, then stops the writer thread. An event the log refuses (its disk is full or
  // read-only) waits and is tried again each second while the hub runs; after that it is lost, counted.
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  // Events for the faces of a camera frame's recognition; encodes their thumbnails on the calling thread. A face
  // that continues its appearance (RecognizedFace::continued) makes no event; one that is its appearance's better
  // face (RecognizedFace::better) replaces the thumbnail and descriptor of the appearance's event.
  void OnRecognition(const FramePtr& frame, const vision::Recognition& recognition);
  // appearance_ended for a tracked appearance (RecognizedFace::track_id of `device_id`) that ended, when it was
  // named or made an event; also moves the person's presence to when they were last seen.
  void OnAppearanceEnded(const std::string& device_id, uint64_t track_id, std::optional<int64_t> person_id,
                         int64_t first_seen_ms, int64_t last_seen_ms);
  // device_added / device_online / device_offline, as the device registry reports them.
  void OnDeviceChange(const std::string& device_id, ingest::DeviceRegistry::Change change, int64_t ts_ms);
  // device_updated with the device as it is now; nothing when it is unknown.
  void OnDeviceUpdated(const std::string& device_id, int64_t ts_ms);
  void OnDeviceRemoved(const std::string& device_id, int64_t ts_ms);
  // storage_pressure, at most once per reason per pressure_interval_ms.
  void OnStoragePressure(const std::string& reason, uint64_t frames_dropped, uint64_t bytes, uint64_t budget_bytes,
                         int64_t ts_ms);
  // person_added, person_updated and person_removed, as the gallery's API changes it. A renamed person keeps their
  // presence under the new name; a removed one leaves no person_left behind.
  void OnPersonAdded(int64_t person_id, const std::string& name, int64_t ts_ms);
  // person_added, and waits until the log has it: true once it is logged; false when it was dropped, refused, or not
  // logged within `timeout` (it may still be, later). For an enrolment's answer: once it is given, the event outlives
  // the process. Blocks.
  [[nodiscard]] bool LogPersonAdded(int64_t person_id, const std::string& name, int64_t ts_ms,
                                    std::chrono::milliseconds timeout);
  void OnPersonRenamed(int64_t person_id, const std::string& previous_name, const std::string& name, int64_t ts_ms);
  void OnPersonRemoved(int64_t person_id, const std::string& name, int64_t ts_ms);
  // person_left for every person last seen more than presence_timeout_ms ago (once per absence). Call periodically.
  void CheckPresence(int64_t now_ms);

  // Applies feedback on event `id`. correct=false on a person_recognised event keeps that face's descriptor
  // as a negative example of the person it was mistaken for. NotFound if there is no such event.
  Status Feedback(int64_t event_id, bool correct);
  // "This is `name`": adds the face of recognition event `event_id` (unknown_face or person_recognised) to the person
  // called `name`, created if new (person_added then), from the descriptor and thumbnail the event kept of its frame
  // and box. A person_recognised event that named someone else is also marked wrong, as Feedback(false) does; one
  // that named them is marked right. NotFound if there is no such event, InvalidArgument if it holds no face or the
  // name is not 1-128 bytes. Blocks on SQLite, and until person_added is logged (LogPersonAdded, at most 5 s).
  Result<store::GalleryEntry> EnrolFromEvent(int64_t event_id, const std::string& name);

 private:
  // What LogPersonAdded waits on: set once, true when the event is logged, false when it never will be.
  struct Logged {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<bool> result;  // guarded by mu
    void Set(bool logged);
  };
  struct Pending {
    store::EventRecord record;
    std::string thumbnail{};         // JPEG; empty for none
    int64_t frame_received_ms = 0;   // a recognition's frame arrival, for the frame-to-event histogram
    bool refused = false;            // the log has refused it once (counted in events_store_errors_total)
    std::string appearance{};        // "device\ntrack": the tracked appearance it belongs to; empty for none
    uint64_t generation = 0;         // which identity of that appearance it is about
    bool better_face = false;        // not an event: the appearance's better face (record.descriptor, thumbnail)
    std::shared_ptr<Logged> logged{};  // told when the event is logged or given up; null: nobody waits
  };
  // A tracked appearance of a face, from its first recognition until its appearance_ended is written.
  struct Appearance {
    std::optional<int64_t> person_id;
    std::string name;
    uint64_t generation = 0;          // counts identity changes (a stranger named later): each may make an event
    bool has_event = false;           // this identity made an event (not folded into an earlier one) ...
    std::optional<int64_t> event_id;  // ... which the writer has logged with this id
  };
  struct Presence {
    std::string name;
    std::string device_id;
    int64_t last_seen_ms = 0;
    bool left = false;
  };
  // Feedback on the event `e` as read from the log.
  Status ApplyFeedback(const store::EventRecord& e, bool correct);
  void Queue(Pending pending);
  void Write();
  // The logged event of `p`'s appearance (as of p's identity), if any. `forget`: the appearance is over.
  std::optional<int64_t> AppearanceEvent(const Pending& p, bool forget);

  const EventOptions options_;
  store::Records& records_;
  vision::Gallery& gallery_;
  const ingest::DeviceRegistry& devices_;
  const EventBus& bus_;
  Counter& recognised_;
  Counter& unknown_;
  Counter& suppressed_;
  Counter& errors_;
  Counter& dropped_;
  Counter& better_faces_;
  Histogram& frame_to_event_;

  std::mutex mu_;
  std::unordered_map<std::string, int64_t> last_event_ms_;  // guarded by mu_: "device\nperson" -> time
  std::unordered_map<int64_t, Presence> presence_;          // guarded by mu_: by person id
  std::unordered_map<std::string, int64_t> last_pressure_;  // guarded by mu_: reason -> time
  // Guarded by mu_: by Pending::appearance key. An entry goes when its appearance_ended is written; should ends
  // stop coming (a camera forgotten mid-appearance), the map is emptied at kMaxAppearances.
  std::unordered_map<std::string, Appearance> appearances_;
  static constexpr size_t kMaxAppearances = 65536;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;  // guarded by queue_mu_
  bool stopping_ = false;      // guarded by queue_mu_
  std::thread writer_;         // last: starts once everything above is built
};

}  // namespace iotstream::events
