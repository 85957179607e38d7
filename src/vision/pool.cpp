#include "vision/pool.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/log.h"

namespace iotstream::vision {

namespace {

// A camera frame's pixel work runs under SCHED_IDLE: it takes only CPU that nothing else wants, and the kernel
// places a waking HTTP thread on a core that runs only idle-class work as if that core were idle. That work takes
// no lock of ours (the engine's scratch buffers are reused between frames, so the allocator's and the kernel's
// memory-map locks are seldom taken either); what takes a lock that an HTTP thread also takes (the pool's queue,
// the gallery, the event sinks) runs back at nice 10, as an idle-class thread preempted inside such a lock would
// hold the HTTP thread for as long as the machine stays busy. While idle-class the thread's id is published in
// `published`: Submit moves such a thread back to the normal class, so that a request never waits on a frame that
// only gets spare CPU. `waiting` (requests queued) is read after the switch: a request queued just before it
// found nothing to move yet.
class IdleClass {
 public:
  IdleClass(bool enabled, std::atomic<pid_t>& published, const std::atomic<size_t>& waiting)
      : published_(published) {
    if (!enabled) return;
    published_.store(gettid());
    const sched_param param{};
    entered_ = sched_setscheduler(0, SCHED_IDLE, &param) == 0;
    if (entered_ && waiting.load() > 0) Leave();
  }
  ~IdleClass() {
    published_.store(0);
    if (entered_) Leave();
  }
  IdleClass(const IdleClass&) = delete;
  IdleClass& operator=(const IdleClass&) = delete;

 private:
  void Leave() {
    entered_ = false;
    const sched_param param{};
    if (sched_setscheduler(0, SCHED_OTHER, &param) == 0) return;  // the nice value survives the round trip
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) {
      IOT_LOG(kError) << "recognition: a worker could not leave SCHED_IDLE (" << std::strerror(errno)
                      << "): it stays idle-class and its requests and matches may wait on a busy machine";
    }
  }

  std::atomic<pid_t>& published_;
  bool entered_ = false;
};

// Whether a thread at `nice` may enter SCHED_IDLE and leave it again. Tried on a throwaway thread: one that
// could enter but not leave would stay idle-class for good.
bool IdleClassRoundTrips(int nice) {
  bool ok = false;
  std::thread([&ok, nice] {
    cpu_priority::SetCurrentThread(nice);
    const sched_param param{};
    ok = sched_setscheduler(0, SCHED_IDLE, &param) == 0 && sched_setscheduler(0, SCHED_OTHER, &param) == 0;
  }).join();
  return ok;
}

constexpr char kSkipped[] = "recognition_frames_skipped_total";
constexpr char kSkippedHelp[] = "camera frames replaced by a newer one before recognition looked at them";

}  // namespace

RecognitionPool::RecognitionPool(PoolOptions options, std::unique_ptr<FaceEngine> engine, const Gallery& gallery,
                                 Metrics& metrics, FrameHandler on_frame)
    : options_(options),
      gallery_(gallery),
      on_frame_(std::move(on_frame)),
      offered_(metrics.counter("recognition_frames_offered_total", "camera frames offered to recognition")),
      not_sampled_(metrics.counter("recognition_frames_not_sampled_total", "camera frames left out by sampling")),
      replaced_(metrics.counter("recognition_dropped_replaced_total",
                                "pending camera frames replaced by a newer one of the same camera")),
      pending_full_(metrics.counter("recognition_dropped_pending_full_total",
                                    "camera frames dropped: too many cameras pending")),
      requests_full_(metrics.counter("recognition_dropped_requests_full_total",
                                     "requests refused: request queue full")),
      timed_out_(metrics.counter("recognition_dropped_timeout_total", "jobs older than the timeout when reached")),
      stale_(metrics.counter("recognition_dropped_stale_total",
                             "camera frames older than max_frame_age when a worker was free")),
      completed_(metrics.counter("recognition_jobs_completed_total", "jobs a worker ran")),
      skipped_still_(metrics.counter(kSkipped, kSkippedHelp, {{"reason", "still"}})),
      skipped_settled_(metrics.counter(kSkipped, kSkippedHelp, {{"reason", "settled"}})),
      skipped_busy_(metrics.counter(kSkipped, kSkippedHelp, {{"reason", "busy"}})),
      cameras_full_(metrics.counter("recognition_dropped_cameras_full_total",
                                    "camera frames not followed: the pool follows max_pending_cameras cameras")),
      motion_checks_(metrics.counter("recognition_motion_checks_total", "1/8-scale motion checks run")),
      motion_seen_(metrics.counter("recognition_motion_detected_total", "motion checks that saw motion")),
      descriptors_reused_(metrics.counter("recognition_descriptors_reused_total",
                                          "tracked faces whose descriptor was reused instead of computed")),
      latency_(metrics.histogram("recognition_job_duration_seconds", "pipeline time per job (decode to match)")),
      idle_class_(options_.idle_class && IdleClassRoundTrips(options_.worker_nice)) {
  if (options_.idle_class && !idle_class_) {
    IOT_LOG(kWarn) << "recognition: camera frames run at nice 10, not idle-class (leaving SCHED_IDLE needs "
                      "CAP_SYS_NICE or RLIMIT_NICE >= 10): a busy worker may now and then delay camera uploads";
  }
  const int n = std::max(1, options_.workers);
  std::vector<std::unique_ptr<FaceEngine>> engines;
  for (int i = 1; i < n; ++i) engines.push_back(engine->Clone());
  engines.insert(engines.begin(), std::move(engine));
  for (auto& e : engines) {
    slots_.push_back(std::make_unique<std::atomic<pid_t>>(0));
    threads_.emplace_back([this, eng = std::move(e), slot = slots_.back().get()]() mutable {
      Work(std::move(eng), *slot);
    });
  }
}

RecognitionPool::~RecognitionPool() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(requests_);
    pending_.clear();
    for (auto& [id, camera] : cameras_) camera->latest.reset();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& j : dropped) {
    PoolResult r;
    r.recognition = Status::Unavailable("recognition is shutting down");
    j.done(std::move(r));
  }
}

bool RecognitionPool::Sampled(const std::string& device_id, int64_t now_us) {
  if (options_.max_fps_per_camera > 0) {
    const auto interval_us = static_cast<int64_t>(1e6 / options_.max_fps_per_camera);
    auto [it, inserted] = last_taken_us_.try_emplace(device_id, now_us);
    if (!inserted && now_us - it->second < interval_us) return false;
    it->second = now_us;
    return true;
  }
  return std::uniform_real_distribution<double>(0, 1)(rng_) < options_.sample_rate;
}

bool RecognitionPool::RecogniseDue(const Camera& c, int64_t now_us) const {
  const bool moving = now_us < c.moving_until_us;
  if (!moving && !c.has_tracks) return false;
  if (c.last_recognised_us < 0) return true;
  // Someone standing still is looked at as often as a settled camera: their track must not end while they stay.
  const int64_t interval = c.settled || !moving ? options_.settled_interval.count() * 1000 : 0;
  return now_us - c.last_recognised_us >= interval;
}

RecognitionPool::Need RecognitionPool::NeedOf(const Camera& c, int64_t now_us, int* rank) const {
  if (c.busy || !c.latest || now_us - c.latest_us > options_.job_timeout.count() * 1000) return Need::kNone;
  const auto since_check = [&](std::chrono::milliseconds interval) {
    return c.last_check_us < 0 || now_us - c.last_check_us >= interval.count() * 1000;
  };
  if (RecogniseDue(c, now_us)) {
    *rank = c.settled || now_us >= c.moving_until_us ? 2 : 1;
    return Need::kRecognise;
  }
  if (now_us < c.moving_until_us) {
    *rank = 3;
    return c.hinted || since_check(options_.moving_check_interval) ? Need::kCheck : Need::kNone;
  }
  if (c.hinted) {
    *rank = 0;
    return Need::kCheck;
  }
  *rank = 4;
  return since_check(options_.still_check_interval) ? Need::kCheck : Need::kNone;
}

RecognitionPool::Camera* RecognitionPool::NextCamera(int64_t now_us) {
  Camera* best = nullptr;
  int best_rank = 0;
  for (auto& [id, camera] : cameras_) {
    int rank = 0;
    if (NeedOf(*camera, now_us, &rank) == Need::kNone) continue;
    if (best == nullptr || rank < best_rank ||
        (rank == best_rank && camera->last_served_us < best->last_served_us)) {
      best = camera.get();
      best_rank = rank;
    }
  }
  return best;
}

bool RecognitionPool::KeepNewest(const FramePtr& frame, int64_t now_us, bool* wake) {
  auto it = cameras_.find(frame->device_id());
  if (it == cameras_.end()) {
    if (cameras_.size() >= options_.max_pending_cameras) {
      // Room is made by forgetting a camera that has sent nothing for a minute; else this one is not followed.
      const auto gone = std::find_if(cameras_.begin(), cameras_.end(), [now_us](const auto& kv) {
        return !kv.second->busy && now_us - kv.second->latest_us > 60'000'000;
      });
      if (gone == cameras_.end()) {
        cameras_full_.Add();
        return false;
      }
      cameras_.erase(gone);
    }
    it = cameras_
             .emplace(frame->device_id(),
                      std::make_unique<Camera>(options_.motion.For(frame->device_id()), options_.tracking))
             .first;
  }
  Camera& c = *it->second;
  if (c.latest) {
    int rank = 0;
    if (c.busy || NeedOf(c, now_us, &rank) != Need::kNone) {
      skipped_busy_.Add();
    } else {
      (now_us < c.moving_until_us ? skipped_settled_ : skipped_still_).Add();
    }
  }
  c.hinted = c.sizes.Departs(frame->jpeg().size()) || c.hinted;
  c.latest = frame;
  c.latest_us = now_us;
  int rank = 0;
  *wake = NeedOf(c, now_us, &rank) != Need::kNone;
  return true;
}

bool RecognitionPool::OfferFrame(const FramePtr& frame) {
  offered_.Add();
  const int64_t now = options_.clock->MonotonicUs();
  if (options_.scheduler == Scheduler::kNeed) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (stopping_ || !KeepNewest(frame, now, &wake)) return false;
    }
    if (wake) cv_.notify_one();
    return true;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    if (!Sampled(frame->device_id(), now)) {
      not_sampled_.Add();
      return false;
    }
    auto it = pending_.find(frame->device_id());
    if (it != pending_.end()) {
      replaced_.Add();
      it->second = Job{frame, frame->jpeg(), frame, nullptr, now};
    } else if (pending_.size() >= options_.max_pending_cameras) {
      pending_full_.Add();
      return false;
    } else {
      pending_.emplace(frame->device_id(), Job{frame, frame->jpeg(), frame, nullptr, now});
    }
  }
  cv_.notify_one();
  return true;
}

void RecognitionPool::Submit(std::shared_ptr<const void> owner, std::string_view data, Callback done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && requests_.size() < options_.max_requests) {
      requests_.push_back(Job{std::move(owner), data, nullptr, std::move(done), options_.clock->MonotonicUs()});
      waiting_requests_.fetch_add(1);
      // A worker busy with a camera frame at idle class finishes it at nice 10: the request waits on it either
      // way, and spare CPU alone could stretch those ~30 ms to seconds on a busy machine.
      const sched_param param{};
      for (const auto& slot : slots_) {
        if (const pid_t tid = slot->load(); tid != 0) sched_setscheduler(tid, SCHED_OTHER, &param);
      }
      cv_.notify_one();
      return;
    }
  }
  requests_full_.Add();
  PoolResult r;
  r.recognition = Status::Unavailable("recognition is busy: too many requests waiting");
  done(std::move(r));
}

std::vector<RecognitionPool::TrackEnd> RecognitionPool::EndTracks() {
  std::vector<TrackEnd> out;
  std::lock_guard lock(mu_);
  const int64_t now_us = options_.clock->MonotonicUs();
  const int64_t now_ms = options_.clock->WallMs();
  const auto wall = [&](int64_t us) { return now_ms - (now_us - us) / 1000; };
  for (auto& [id, camera] : cameras_) {
    // A busy camera's tracker is its worker's; its ended tracks wait for the next call.
    if (camera->busy) continue;
    for (const FaceTracker::Ended& e : camera->tracker.Expire(now_us)) {
      out.push_back(TrackEnd{id, e.track_id, e.person_id, wall(e.first_seen_us), wall(e.last_seen_us)});
    }
    camera->has_tracks = camera->tracker.Live(now_us);
  }
  return out;
}

RecognitionPool::Stats RecognitionPool::stats() const {
  std::lock_guard lock(mu_);
  size_t moving = 0, due = 0;
  const int64_t now = options_.clock->MonotonicUs();
  for (const auto& [id, camera] : cameras_) {
    int rank = 0;
    moving += now < camera->moving_until_us ? 1 : 0;
    due += NeedOf(*camera, now, &rank) != Need::kNone ? 1 : 0;
  }
  return {threads_.size(), pending_.size() + due, requests_.size(), busy_, moving, idle_class_};
}

void RecognitionPool::ServeCamera(Camera& camera, const FramePtr& frame, int64_t queued_us, FaceEngine& engine,
                                  std::atomic<pid_t>& idle_tid) {
  const int64_t started = options_.clock->MonotonicUs();
  // Every job starts with a motion check of its frame (under a millisecond against the ~30 of a recognition): it
  // decides whether to recognise, and where in the picture to look.
  std::optional<Box> region;
  {
    const IdleClass idle(idle_class_, idle_tid, waiting_requests_);
    const std::string_view jpeg = frame->jpeg();
    // A frame that does not decode at 1/8 scale shows no motion; ingest already checked its header.
    const auto change = camera.motion.Measure(reinterpret_cast<const uint8_t*>(jpeg.data()), jpeg.size());
    if (change.ok() && change.value().motion) {
      const motion::Change& c = change.value();
      region = Box{c.x, c.y, c.w, c.h};
    }
    motion_checks_.Add();
  }
  bool recognise = false;
  {
    std::lock_guard lock(mu_);
    camera.last_check_us = started;
    if (region) {
      camera.moving_until_us = started + options_.motion_hold.count() * 1000;
      motion_seen_.Add();
    }
    recognise = RecogniseDue(camera, started);
  }
  if (!recognise) return;
  // Motion where the last look found no face: this look is closer (a person farther away, a smaller face).
  const bool closer = region.has_value() && camera.look_closer;
  // No motion, yet faces tracked: they are looked for around where they were.
  if (!region) region = camera.tracker.LiveRegion(started);
  PoolResult result;
  result.queued_ms = static_cast<double>(started - queued_us) / 1000.0;
  result.recognition = RecogniseTracked(camera, frame, region ? &*region : nullptr, closer, engine, idle_tid);
  camera.look_closer = !closer && region.has_value() && result.recognition.ok() && result.recognition.value().faces.empty();
  const int64_t finished = options_.clock->MonotonicUs();
  latency_.Record(finished - started);
  completed_.Add();
  const bool settled = camera.tracker.Settled(finished);
  const bool tracking = camera.tracker.Live(finished);
  {
    std::lock_guard lock(mu_);
    camera.last_recognised_us = started;
    camera.settled = settled;
    camera.has_tracks = tracking;
  }
  if (on_frame_) on_frame_(frame, std::move(result));
}

Result<Recognition> RecognitionPool::RecogniseTracked(Camera& camera, const FramePtr& frame, const Box* region,
                                                     bool closer, FaceEngine& engine, std::atomic<pid_t>& idle_tid) {
  Recognition rec;
  rec.width = frame->meta().width;
  rec.height = frame->meta().height;
  std::vector<FaceTracker::Step> steps;
  {
    const IdleClass idle(idle_class_, idle_tid, waiting_requests_);
    const std::string_view jpeg = frame->jpeg();
    const auto* data = reinterpret_cast<const uint8_t*>(jpeg.data());
    Result<std::vector<Face>> found =
        region != nullptr ? engine.DetectAndAlignIn(data, jpeg.size(), *region, closer, &rec.timing)
                          : engine.DetectAndAlign(data, jpeg.size(), &rec.timing);
    if (!found.ok()) return found.status();
    std::vector<Face>& faces = found.value();
    const int64_t now = options_.clock->MonotonicUs();
    steps = camera.tracker.Plan(faces, now);
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < faces.size(); ++i) {
      if (!steps[i].describe) {
        faces[i].descriptor = camera.tracker.descriptor(*steps[i].track);
        descriptors_reused_.Add();
        continue;
      }
      Result<Descriptor> d = engine.DescribeChip(faces[i].chip);
      if (!d.ok()) return d.status();
      faces[i].descriptor = d.value();
    }
    rec.timing.describe_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (auto& f : faces) rec.faces.push_back(RecognizedFace{std::move(f), Match{}});
  }
  // A reused descriptor is matched again too (microseconds): someone enrolled meanwhile is named at once.
  MatchFaces(&gallery_, options_.match_threshold, &rec);
  camera.tracker.Commit(steps, &rec.faces, options_.clock->MonotonicUs());
  return rec;
}

void RecognitionPool::Work(std::unique_ptr<FaceEngine> engine, std::atomic<pid_t>& idle_tid) {
  // When the CPU is short, HTTP threads go first (the storage thread, nice 19, after them; a camera frame's pixel
  // work, idle-class, last), and the shortfall shows up as counted replaced/timed-out jobs instead of slower
  // answers to cameras.
  cpu_priority::SetCurrentThread(options_.worker_nice);
  const bool by_need = options_.scheduler == Scheduler::kNeed;
  while (true) {
    Job job;
    Camera* camera = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] {
        if (stopping_ || !requests_.empty()) return true;
        if (by_need) return (camera = NextCamera(options_.clock->MonotonicUs())) != nullptr;
        return !pending_.empty();
      });
      if (stopping_) return;
      if (!by_need && requests_.empty() && options_.max_frame_age.count() > 0) {
        const int64_t too_old = options_.clock->MonotonicUs() - options_.max_frame_age.count() * 1000;
        stale_.Add(std::erase_if(pending_, [too_old](const auto& kv) { return kv.second.queued_us < too_old; }));
        if (pending_.empty()) continue;
      }
      if (!requests_.empty()) {
        camera = nullptr;
        job = std::move(requests_.front());
        requests_.pop_front();
        waiting_requests_.fetch_sub(1);
      } else if (by_need) {
        const int64_t now = options_.clock->MonotonicUs();
        camera->hinted = false;
        camera->busy = true;
        camera->last_served_us = now;
        job.frame = std::move(camera->latest);
        job.queued_us = camera->latest_us;
        camera->latest.reset();
      } else {
        // The newest pending frame goes first: what users feel is the time from a frame to its event, and
        // under overload an old sample is the one worth least (its camera will offer a newer one).
        const auto newest = std::max_element(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
          return a.second.queued_us < b.second.queued_us;
        });
        job = std::move(newest->second);
        pending_.erase(newest);
      }
      ++busy_;
    }
    if (camera != nullptr) {
      ServeCamera(*camera, job.frame, job.queued_us, *engine, idle_tid);
      std::lock_guard lock(mu_);
      camera->busy = false;
      --busy_;
      continue;
    }
    PoolResult result;
    const int64_t started = options_.clock->MonotonicUs();
    result.queued_ms = static_cast<double>(started - job.queued_us) / 1000.0;
    if (started - job.queued_us > options_.job_timeout.count() * 1000) {
      timed_out_.Add();
      result.recognition = Status::Timeout("recognition did not start within " +
                                           std::to_string(options_.job_timeout.count()) + " ms");
    } else {
      const auto* data = reinterpret_cast<const uint8_t*>(job.data.data());
      if (job.done) {
        result.recognition = engine->Recognize(data, job.data.size(), &gallery_, options_.match_threshold);
      } else {
        {
          const IdleClass idle(idle_class_, idle_tid, waiting_requests_);
          result.recognition = engine->Recognize(data, job.data.size(), nullptr);
        }
        if (result.recognition.ok()) MatchFaces(&gallery_, options_.match_threshold, &result.recognition.value());
      }
      latency_.Record(options_.clock->MonotonicUs() - started);
      completed_.Add();
    }
    if (job.done) {
      job.done(std::move(result));
    } else if (on_frame_) {
      on_frame_(job.frame, std::move(result));
    }
    std::lock_guard lock(mu_);
    --busy_;
  }
}

}  // namespace iotstream::vision
