// RecognitionPool: runs the face pipeline for camera frames and API requests on a bounded set of worker
// threads, each with its own FaceEngine, so recognition never delays ingest or live view.
//
// Two inputs, both bounded, neither ever blocks its caller:
//  - OfferFrame (background, from ingest): every camera frame; the pool keeps only each camera's newest one and
//    decides what it is worth (PoolOptions::scheduler):
//      kNeed (default): by need. Every frame's compressed size is a free motion hint (motion/motion.h); a frame it
//        flags, and one a still camera sends every still_check_interval, gets a 1/8-scale motion check. A camera
//        with motion whose faces are not all named (tracked, vision/tracker.h) has its newest frame recognised
//        first, as often as a worker is free for it; a camera whose faces are all named and tracked is recognised
//        every settled_interval, describing only faces that are new or clearly better; so is a still camera whose
//        faces are still tracked (someone standing still), looking only around their boxes, until their tracks end;
//        a still camera without tracked faces not at all. Every recognition checks its own frame for motion first
//        and detects only where it moved (a small region at twice the scale: smaller faces found, for less CPU
//        than the whole picture). EndTracks reports the tracks (appearances) that ended.
//        Under overload the cameras that waited longest go first, each with its newest frame. A frame replaced by a
//        newer one before it was looked at is counted by reason (recognition_frames_skipped_total{reason}: still,
//        settled, busy).
//      kSample: the earlier sampler: a share of frames (sample_rate) or at most max_fps_per_camera per camera,
//        the newest pending frame first, at most one pending per camera, older than max_frame_age dropped (stale).
//  - Submit (a caller waits for the answer: /api/v1/recognize, enrolment, the stream path): a FIFO of at
//    most max_requests; refused with Unavailable when full. Requests go before background frames.
// A job older than job_timeout when a worker reaches it is dropped (Timeout; counted). Drops are counted per
// reason in metrics (recognition_dropped_*_total).
//
// CPU classes: workers run at PoolOptions::worker_nice (nice 10), below the HTTP threads. With PoolOptions::idle_class a camera frame's
// pixel work (motion check, decode, detect, align, describe) runs under SCHED_IDLE, on CPU that nothing else wants; its match
// and callbacks, which take locks that HTTP threads take too, and every Submit job stay at nice 10; a Submit moves
// a worker that is busy with a frame back to nice 10 at once, so a request never waits on spare CPU. Leaving
// SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE >= 10; the pool tries that once at start on a throwaway thread
// and, if refused, runs everything at nice 10 (stats().idle_class says which).
//
// Thread-safety: every public method may be called from any thread. Callbacks run on a worker thread: they
// must be quick (hand disk work to another thread).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/cpu_priority.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "motion/motion.h"
#include "vision/tracker.h"
#include "vision/vision.h"

namespace iotstream::vision {

enum class Scheduler { kNeed, kSample };

struct PoolOptions {
  int workers = 1;                                // threads, each with its own engine
  Scheduler scheduler = Scheduler::kNeed;
  // ---- kNeed ----
  motion::MotionOptions motion;                   // per-camera sensitivity and masks
  TrackerOptions tracking;
  std::chrono::milliseconds still_check_interval{5000};  // a still camera's frame gets a motion check this often
  std::chrono::milliseconds moving_check_interval{250};  // a moving one's, between its recognitions
  std::chrono::milliseconds motion_hold{1500};    // a camera stays "moving" this long after a check saw motion
  std::chrono::milliseconds settled_interval{1000};  // a camera whose faces are all named: recognised this often
  // ---- kSample ----
  double sample_rate = 0.3;                       // share of camera frames offered to recognition
  double max_fps_per_camera = 0;                  // > 0: instead of sample_rate, at most this many per camera per second
  std::chrono::milliseconds job_timeout{5000};    // older jobs are dropped when a worker reaches them
  // Camera frames older than this when a worker is free are dropped unrun (stale): an event that late is worth
  // less than the camera's next sample. Bounds the frame-to-event time under overload. 0: only job_timeout.
  std::chrono::milliseconds max_frame_age{50};
  size_t max_pending_cameras = 1024;              // cameras with a pending background frame
  size_t max_requests = 64;                       // waiting Submit() jobs
  float match_threshold = 0.6f;
  bool idle_class = true;                         // camera frames' pixel work under SCHED_IDLE (see above)
  int worker_nice = cpu_priority::kRecognition;   // the workers' CPU priority
  const Clock* clock = &SystemClock();            // ages jobs (queue times, timeouts); must outlive the pool
};

// What a finished job reports: the recognition, or why there is none; and how long it waited.
struct PoolResult {
  Result<Recognition> recognition = Status::Internal("not run");
  double queued_ms = 0;  // from OfferFrame/Submit to a worker taking it
};

class RecognitionPool {
 public:
  using Callback = std::function<void(PoolResult)>;
  // Background results, with their frame: called on a worker thread.
  using FrameHandler = std::function<void(const FramePtr&, PoolResult)>;

  // Takes `engine` for the first worker and clones it for the others. `gallery` must outlive the pool.
  RecognitionPool(PoolOptions options, std::unique_ptr<FaceEngine> engine, const Gallery& gallery, Metrics& metrics,
                  FrameHandler on_frame);
  ~RecognitionPool();  // stops: pending jobs are dropped (their callbacks get Unavailable), workers joined
  RecognitionPool(const RecognitionPool&) = delete;
  RecognitionPool& operator=(const RecognitionPool&) = delete;

  // Keeps the frame as its camera's newest (kNeed), or samples it and, if chosen, queues it as its camera's newest
  // pending frame (kSample). Returns whether kept or queued; false only when stopping or when the pool already
  // follows max_pending_cameras other cameras (counted).
  bool OfferFrame(const FramePtr& frame);
  // Queues an image (JPEG or PNG bytes held by `owner`, viewed by `data`) for a caller that waits;
  // `done` is called exactly once. `owner` keeps the bytes alive until then.
  void Submit(std::shared_ptr<const void> owner, std::string_view data, Callback done);

  // A track of a camera that ended: one appearance of one face (vision/tracker.h), with wall-clock times.
  struct TrackEnd {
    std::string device_id;
    uint64_t track_id = 0;
    std::optional<int64_t> person_id;  // the identity it had last; none: unknown
    int64_t first_seen_ms = 0;
    int64_t last_seen_ms = 0;
  };
  // kNeed: ends the tracks not seen for TrackerOptions::timeout_us (a camera that stopped sending included) and
  // returns them with those its recognitions ended since the last call, each once. Call it about once a second;
  // cheap (no pixel work). Empty for kSample.
  std::vector<TrackEnd> EndTracks();

  struct Stats {
    size_t workers;
    size_t pending_cameras;  // cameras with a frame waiting for a worker (kNeed: one that needs a look now)
    size_t pending_requests;
    size_t busy;
    size_t moving_cameras;  // kNeed: cameras whose last motion check saw motion within motion_hold
    bool idle_class;  // camera frames' pixel work runs under SCHED_IDLE (asked for, and the kernel allows it)
  };
  Stats stats() const;

 private:
  struct Job {
    std::shared_ptr<const void> owner;
    std::string_view data;
    FramePtr frame;     // background jobs
    Callback done;      // requests
    int64_t queued_us;
  };
  // kNeed: what is known of one camera. Guarded by mu_, except `motion`, `tracker` and `look_closer`, which only
  // the worker holding the camera (busy set) uses.
  struct Camera {
    explicit Camera(const motion::CameraSettings& settings, TrackerOptions tracking)
        : motion(settings), tracker(tracking) {}
    FramePtr latest;              // the newest frame, until a job takes it
    int64_t latest_us = 0;        // when it came
    bool hinted = false;          // its size departs from the camera's recent sizes
    bool busy = false;            // a worker runs a job for this camera
    int64_t last_check_us = -1;   // the last motion check
    int64_t moving_until_us = 0;  // motion seen by a check keeps the camera moving until then
    int64_t last_recognised_us = -1;
    int64_t last_served_us = -1;  // the last job of any kind: who waited longest goes first
    bool settled = false;         // every tracked face named (or given up on), as of the last recognition
    bool has_tracks = false;      // a face tracked, as of the last recognition or EndTracks
    motion::SizeTrend sizes;
    motion::Detector motion;
    FaceTracker tracker;
    bool look_closer = false;     // the last look at its motion found no face: the next one scans closer
  };
  enum class Need { kNone, kCheck, kRecognise };
  // Whether a moving camera is due for recognition. REQUIRES: mu_ held.
  bool RecogniseDue(const Camera& c, int64_t now_us) const;
  // What `c`'s newest frame needs now, and its rank (lower first) among the cameras that need something: a
  // size-flagged check of a still camera, recognition of a camera with unnamed faces, of a settled one, a moving
  // camera's check, a still camera's periodic check. REQUIRES: mu_ held.
  Need NeedOf(const Camera& c, int64_t now_us, int* rank) const;
  // The camera to serve next (its rank first, then the one served longest ago), or null. REQUIRES: mu_ held.
  Camera* NextCamera(int64_t now_us);
  // Keeps `frame` as its camera's newest; sets *wake when that gives a worker something to do. REQUIRES: mu_ held.
  bool KeepNewest(const FramePtr& frame, int64_t now_us, bool* wake);
  // Runs a taken camera's job: a motion check, then recognition of that frame if the camera needs it.
  void ServeCamera(Camera& camera, const FramePtr& frame, int64_t queued_us, FaceEngine& engine,
                   std::atomic<pid_t>& idle_tid);
  // Recognises `frame` for `camera`, detecting in `region` (the frame's motion) when given, `closer` there if
  // asked (FaceEngine::DetectAndAlignIn), and reusing tracked descriptors; pixel work idle-class, the match at
  // nice 10.
  Result<Recognition> RecogniseTracked(Camera& camera, const FramePtr& frame, const Box* region, bool closer,
                                       FaceEngine& engine, std::atomic<pid_t>& idle_tid);

  bool Sampled(const std::string& device_id, int64_t now_us);
  void Work(std::unique_ptr<FaceEngine> engine, std::atomic<pid_t>& idle_tid);

  const PoolOptions options_;
  const Gallery& gallery_;
  FrameHandler on_frame_;
  Counter& offered_;
  Counter& not_sampled_;
  Counter& replaced_;
  Counter& pending_full_;
  Counter& requests_full_;
  Counter& timed_out_;
  Counter& stale_;
  Counter& completed_;
  Counter& skipped_still_;
  Counter& skipped_settled_;
  Counter& skipped_busy_;
  Counter& cameras_full_;
  Counter& motion_checks_;
  Counter& motion_seen_;
  Counter& descriptors_reused_;
  Histogram& latency_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Job> pending_;                  // guarded by mu_: newest frame per camera
  std::deque<Job> requests_;                            // guarded by mu_
  std::unordered_map<std::string, std::unique_ptr<Camera>> cameras_;  // guarded by mu_ (kNeed)
  std::unordered_map<std::string, int64_t> last_taken_us_;  // guarded by mu_: per camera, for max_fps_per_camera
  std::mt19937_64 rng_{std::random_device{}()};         // guarded by mu_
  size_t busy_ = 0;                                     // guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
  const bool idle_class_;
  std::atomic<size_t> waiting_requests_{0};  // requests_.size(), readable without mu_
  // Per worker: its thread id while it runs a camera frame idle-class, else 0. Made before the threads start.
  std::vector<std::unique_ptr<std::atomic<pid_t>>> slots_;
  std::vector<std::thread> threads_;
};

}  // namespace iotstream::vision
