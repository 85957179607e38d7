// RecognitionPool: runs the face pipeline for camera frames and API requests on a bounded set of worker
// threads, each with its own FaceEngine, so recognition never delays ingest or live view.
//
// Two inputs, both bounded, neither ever blocks its caller:
//  - OfferFrame (background, from ingest): sampled (a share of frames, or at most N per second per camera);
//    at most one pending frame per camera, a newer one replaces it (counted), so no backlog can build;
//    workers take the newest pending frame first, which keeps the frame-to-event time of the frames that
//    do run short when there are more cameras than the workers can serve.
//  - Submit (a caller waits for the answer: /api/v1/recognize, enrolment, the stream path): a FIFO of at
//    most max_requests; refused with Unavailable when full. Requests go before background frames.
// A job older than job_timeout when a worker reaches it is dropped (Timeout; counted). Drops are counted per
// reason in metrics (recognition_dropped_total{reason}).
//
// CPU classes: workers run at PoolOptions::worker_nice (nice 10), below the HTTP threads. With PoolOptions::idle_class a camera frame's
// pixel work (decode, detect, align, describe) runs under SCHED_IDLE, on CPU that nothing else wants; its match
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
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/cpu_priority.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "vision/vision.h"

namespace iotstream::vision {

struct PoolOptions {
  int workers = 1;                                // threads, each with its own engine
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

  // Samples the frame and, if chosen, queues it as its camera's newest pending frame. Returns whether queued.
  bool OfferFrame(const FramePtr& frame);
  // Queues an image (JPEG or PNG bytes held by `owner`, viewed by `data`) for a caller that waits;
  // `done` is called exactly once. `owner` keeps the bytes alive until then.
  void Submit(std::shared_ptr<const void> owner, std::string_view data, Callback done);

  struct Stats {
    size_t workers;
    size_t pending_cameras;
    size_t pending_requests;
    size_t busy;
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
  Histogram& latency_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Job> pending_;                  // guarded by mu_: newest frame per camera
  std::deque<Job> requests_;                            // guarded by mu_
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
