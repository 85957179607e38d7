// RecognitionPool scheduling with a stand-in engine (the real one costs ~30 ms a frame and needs the weights): the
// need scheduler (motion, tracking), the sampler (newest frame per camera), request priority, bounds, timeouts and
// CPU classes.
#include "vision/pool.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "support/jpeg_encode.h"
#include "support/test_support.h"

namespace iotstream::vision {
namespace {

// Records what it was asked to recognise (the bytes) and blocks while `hold` is set.
class FakeEngine final : public FaceEngine {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool hold = false;
    int running = 0;
    std::vector<std::string> seen;
    std::vector<int> policies;  // the worker's scheduling policy during each Recognize
    pid_t tid = 0;              // the thread of the latest Recognize
    std::vector<Face> faces;    // what DetectAndAlign finds
    Descriptor descriptor{};    // what DescribeChip answers
    int detected = 0;           // DetectAndAlign calls
    int described = 0;          // DescribeChip calls
    std::vector<bool> closer;   // each DetectAndAlignIn's `closer`
  };
  explicit FakeEngine(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  std::unique_ptr<FaceEngine> Clone() const override { return std::make_unique<FakeEngine>(s_); }
  const EngineOptions& options() const override { return options_; }
  Result<std::vector<Face>> Analyze(const uint8_t*, size_t, StageTiming*) override { return std::vector<Face>{}; }
  Result<std::vector<Face>> DetectAndAlign(const uint8_t*, size_t, StageTiming*) override {
    std::unique_lock lock(s_->mu);
    ++s_->detected;
    ++s_->running;
    s_->cv.notify_all();
    s_->cv.wait(lock, [this] { return !s_->hold; });
    --s_->running;
    return s_->faces;
  }
  Result<std::vector<Face>> DetectAndAlignIn(const uint8_t* data, size_t size, const Box&, bool closer,
                                             StageTiming* timing) override {
    {
      std::lock_guard lock(s_->mu);
      s_->closer.push_back(closer);
    }
    return DetectAndAlign(data, size, timing);
  }
  Result<Descriptor> DescribeChip(const std::vector<uint8_t>&) override {
    std::lock_guard lock(s_->mu);
    ++s_->described;
    return s_->descriptor;
  }
  Result<Recognition> Recognize(const uint8_t* data, size_t size, const Gallery*, float) override {
    std::unique_lock lock(s_->mu);
    s_->seen.emplace_back(reinterpret_cast<const char*>(data), size);
    s_->policies.push_back(sched_getscheduler(0));
    s_->tid = gettid();
    ++s_->running;
    s_->cv.notify_all();
    s_->cv.wait(lock, [this] { return !s_->hold; });
    --s_->running;
    Recognition r;
    r.width = static_cast<int>(size);
    return r;
  }

 private:
  std::shared_ptr<Shared> s_;
  EngineOptions options_;
};

FramePtr MakeFrame(const std::string& device, const std::string& bytes) {
  Frame::Meta m;
  m.device_id = device;
  return std::make_shared<const Frame>(std::move(m), bytes, 0, bytes.size());
}

// A 320x240 grey JPEG: a gradient, with a dark square at (x, y) when x >= 0.
std::string SceneJpeg(int x = -1, int y = 0) {
  constexpr int kW = 320, kH = 240, kSquare = 80;
  std::vector<uint8_t> px(static_cast<size_t>(kW) * kH);
  for (int r = 0; r < kH; ++r) {
    for (int c = 0; c < kW; ++c) {
      const bool square = x >= 0 && c >= x && c < x + kSquare && r >= y && r < y + kSquare;
      px[static_cast<size_t>(r) * kW + c] = static_cast<uint8_t>(square ? 10 : 80 + 120 * r / kH);
    }
  }
  return ::iotstream::testing::EncodeJpeg(px, kW, kH, 1, 85);
}

class PoolTest : public ::testing::Test {
 protected:
  // The sampler unless a test is about the need scheduler. No staleness limit unless a test is about it: a slow
  // machine must not turn held workers into drops. Time moves only when a test advances clock_, so ageing is
  // exact whatever the machine's speed.
  PoolOptions Options() {
    PoolOptions o;
    o.scheduler = Scheduler::kSample;
    o.max_frame_age = std::chrono::milliseconds(0);
    o.clock = &clock_;
    return o;
  }
  std::unique_ptr<RecognitionPool> Make(PoolOptions o) {
    return std::make_unique<RecognitionPool>(o, std::make_unique<FakeEngine>(shared_), gallery_, metrics_,
                                             [this](const FramePtr& f, PoolResult r) {
                                               std::lock_guard lock(results_mu_);
                                               results_.emplace_back(f->device_id(), r.recognition.status());
                                               if (r.recognition.ok()) {
                                                 for (const auto& face : r.recognition.value().faces) {
                                                   continued_.push_back(face.continued);
                                                 }
                                               }
                                               callback_policies_.push_back(sched_getscheduler(0));
                                               callback_nice_.push_back(getpriority(PRIO_PROCESS, 0));
                                             });
  }
  void Hold(bool on) {
    std::lock_guard lock(shared_->mu);
    shared_->hold = on;
    shared_->cv.notify_all();
  }
  void WaitRunning(int n) {
    std::unique_lock lock(shared_->mu);
    shared_->cv.wait(lock, [&] { return shared_->running == n; });
  }
  size_t Results() {
    std::lock_guard lock(results_mu_);
    return results_.size();
  }
  uint64_t Count(const char* name, const Labels& labels = {}) { return metrics_.CounterValue(name, labels).value(); }

  ManualClock clock_;
  std::shared_ptr<FakeEngine::Shared> shared_ = std::make_shared<FakeEngine::Shared>();
  Gallery gallery_;
  Metrics metrics_;
  std::mutex results_mu_;
  std::vector<std::pair<std::string, Status>> results_;
  std::vector<int> callback_policies_;  // guarded by results_mu_
  std::vector<int> callback_nice_;      // guarded by results_mu_
  std::vector<bool> continued_;         // guarded by results_mu_: each recognised face's flag, in order
};

// A camera frame's pixel work runs idle-class, its callback (which takes locks HTTP threads take) and any request
// do not, and the worker is back at nice 10 after it; with idle_class off nothing runs idle-class.
TEST_F(PoolTest, CameraFramesRunIdleClassAndRequestsDoNot) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  std::promise<void> answered;  // outlives the pool, whose worker sets it
  auto pool = Make(o);
  if (!pool->stats().idle_class) GTEST_SKIP() << "this process may not leave SCHED_IDLE (no CAP_SYS_NICE)";
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "frame")));
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 1; }));
  pool->Submit(nullptr, "request", [&](PoolResult) { answered.set_value(); });
  ASSERT_EQ(answered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  {
    std::lock_guard lock(shared_->mu);
    EXPECT_EQ(shared_->policies, (std::vector<int>{SCHED_IDLE, SCHED_OTHER}));
  }
  std::lock_guard lock(results_mu_);
  EXPECT_EQ(callback_policies_, std::vector<int>{SCHED_OTHER});
  EXPECT_EQ(callback_nice_, std::vector<int>{10});
}

// A request queued while the only worker is inside a camera frame moves that worker out of the idle class at
// once: the request waits on the frame, and must not wait on spare CPU.
TEST_F(PoolTest, ARequestMovesAWorkerBusyWithAFrameBackToNormalClass) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  std::promise<void> answered;
  auto pool = Make(o);
  if (!pool->stats().idle_class) GTEST_SKIP() << "this process may not leave SCHED_IDLE (no CAP_SYS_NICE)";
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "frame")));
  WaitRunning(1);
  pid_t tid = 0;
  {
    std::lock_guard lock(shared_->mu);
    tid = shared_->tid;
  }
  EXPECT_EQ(sched_getscheduler(tid), SCHED_IDLE);
  pool->Submit(nullptr, "request", [&](PoolResult) { answered.set_value(); });
  EXPECT_EQ(sched_getscheduler(tid), SCHED_OTHER);  // still inside the frame
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(tid)), 10);
  Hold(false);
  ASSERT_EQ(answered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST_F(PoolTest, WithoutIdleClassCameraFramesRunAsNormalThreads) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  o.idle_class = false;
  auto pool = Make(o);
  EXPECT_FALSE(pool->stats().idle_class);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "frame")));
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 1; }));
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->policies, std::vector<int>{SCHED_OTHER});
}

TEST_F(PoolTest, SampleRateZeroTakesNothingAndOneTakesAll) {
  PoolOptions o = Options();
  o.sample_rate = 0;
  auto none = Make(o);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(none->OfferFrame(MakeFrame("cam", "x")));
  EXPECT_EQ(Count("recognition_frames_not_sampled_total"), 20u);
  none.reset();
  o.sample_rate = 1;
  auto all = Make(o);
  EXPECT_TRUE(all->OfferFrame(MakeFrame("cam", "x")));
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 1; }));
}

TEST_F(PoolTest, PerCameraFpsCapTakesOneFramePerInterval) {
  PoolOptions o = Options();
  o.max_fps_per_camera = 0.5;  // one frame per 2 s per camera
  auto pool = Make(o);
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("a", "1")));
  EXPECT_FALSE(pool->OfferFrame(MakeFrame("a", "2")));
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("b", "1")));  // another camera has its own budget
}

TEST_F(PoolTest, NewerFrameOfACameraReplacesThePendingOne) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  auto pool = Make(o);
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "first")));
  WaitRunning(1);  // the only worker is busy with "first"
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "second")));
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "third")));
  EXPECT_EQ(pool->stats().pending_cameras, 1u);
  EXPECT_EQ(Count("recognition_dropped_replaced_total"), 1u);
  Hold(false);
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 2; }));
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->seen, (std::vector<std::string>{"first", "third"}));
}

TEST_F(PoolTest, TheNewestPendingFrameRunsFirst) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  auto pool = Make(o);
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("busy", "busy")));
  WaitRunning(1);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("a", "older")));
  clock_.Advance(std::chrono::microseconds(1));
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("b", "newer")));
  Hold(false);
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 3; }));
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->seen, (std::vector<std::string>{"busy", "newer", "older"}));
}

TEST_F(PoolTest, StaleCameraFramesAreDroppedUnrun) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  o.max_frame_age = std::chrono::milliseconds(30);
  auto pool = Make(o);
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("busy", "busy")));
  WaitRunning(1);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("a", "stale")));
  clock_.Advance(std::chrono::milliseconds(31));  // "stale" is now older than max_frame_age, "fresh" will not be
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("b", "fresh")));
  Hold(false);
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 2; }));
  EXPECT_EQ(Count("recognition_dropped_stale_total"), 1u);
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->seen, (std::vector<std::string>{"busy", "fresh"}));
}

TEST_F(PoolTest, RequestsGoFirstAndAreBounded) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  o.max_requests = 1;
  auto pool = Make(o);
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "busy")));
  WaitRunning(1);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("other", "background")));
  auto owner = std::make_shared<std::string>("request");
  std::promise<Status> answered;
  pool->Submit(owner, *owner, [&](PoolResult r) { answered.set_value(r.recognition.status()); });
  std::promise<Status> refused;
  pool->Submit(owner, *owner, [&](PoolResult r) { refused.set_value(r.recognition.status()); });
  EXPECT_TRUE(refused.get_future().get().IsUnavailable());
  EXPECT_EQ(Count("recognition_dropped_requests_full_total"), 1u);
  Hold(false);
  EXPECT_TRUE(answered.get_future().get().ok());
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 2; }));
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->seen, (std::vector<std::string>{"busy", "request", "background"}));
}

TEST_F(PoolTest, JobsOlderThanTheTimeoutAreDroppedUnrun) {
  PoolOptions o = Options();
  o.sample_rate = 1;
  o.job_timeout = std::chrono::milliseconds(50);
  auto pool = Make(o);
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("cam", "busy")));
  WaitRunning(1);
  auto owner = std::make_shared<std::string>("late");
  std::promise<Status> answered;
  pool->Submit(owner, *owner, [&](PoolResult r) { answered.set_value(r.recognition.status()); });
  clock_.Advance(std::chrono::milliseconds(51));  // the request is now older than job_timeout
  Hold(false);
  EXPECT_TRUE(answered.get_future().get().IsTimeout());
  EXPECT_EQ(Count("recognition_dropped_timeout_total"), 1u);
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->seen, (std::vector<std::string>{"busy"}));
}

// ---- the need scheduler ----

class NeedPoolTest : public PoolTest {
 protected:
  PoolOptions Need() {
    PoolOptions o = Options();
    o.scheduler = Scheduler::kNeed;
    o.idle_class = false;
    return o;
  }
  int Detected() {
    std::lock_guard lock(shared_->mu);
    return shared_->detected;
  }
  int Described() {
    std::lock_guard lock(shared_->mu);
    return shared_->described;
  }
  // Offers a frame and waits until the pool has looked at it (a motion check or a recognition).
  void OfferAndWait(RecognitionPool& pool, const std::string& device, const std::string& jpeg) {
    const uint64_t checks = Count("recognition_motion_checks_total");
    const uint64_t done = Count("recognition_jobs_completed_total");
    ASSERT_TRUE(pool.OfferFrame(MakeFrame(device, jpeg)));
    ASSERT_TRUE(testing::WaitFor([&] {
      return Count("recognition_motion_checks_total") > checks || Count("recognition_jobs_completed_total") > done;
    }));
    Settle(pool);
  }
  // Ada is enrolled, and the fake engine finds her face at `box` in every frame from now on.
  void EnrolAdaAndShowHerAt(const Box& box) {
    Descriptor known{};
    known[0] = 0.5f;
    ASSERT_TRUE(gallery_.AddFace(1, "ada", 1, known).ok());
    std::lock_guard lock(shared_->mu);
    Face f;
    f.box = box;
    shared_->faces = {f};
    shared_->descriptor = known;
  }
  // Waits until no worker is busy and no camera needs one.
  void Settle(RecognitionPool& pool) {
    ASSERT_TRUE(testing::WaitFor([&] {
      const auto st = pool.stats();
      return st.busy == 0 && st.pending_cameras == 0;
    }));
  }
};

TEST_F(NeedPoolTest, AStillCameraIsCheckedButNotRecognised) {
  auto pool = Make(Need());
  const std::string still = SceneJpeg();
  // The first frames are checked (their sizes are new); identical ones after that are left alone until the next
  // periodic check, and a frame replaced unlooked-at counts as skipped for being still.
  for (int i = 0; i < 4; ++i) {
    OfferAndWait(*pool, "cam", still);
    clock_.Advance(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("cam", still)));
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("cam", still)));
  EXPECT_EQ(Count("recognition_frames_skipped_total", {{"reason", "still"}}), 1u);
  clock_.Advance(std::chrono::milliseconds(5000));  // the periodic check of a still camera
  OfferAndWait(*pool, "cam", still);
  EXPECT_EQ(Count("recognition_motion_checks_total"), 5u);
  EXPECT_EQ(Count("recognition_motion_detected_total"), 0u);
  EXPECT_EQ(Detected(), 0);
  EXPECT_EQ(pool->stats().moving_cameras, 0u);
}

TEST_F(NeedPoolTest, MotionIsRecognisedAndANamedTrackedFaceIsNotDescribedAgain) {
  EnrolAdaAndShowHerAt(Box{100, 60, 80, 80});
  auto pool = Make(Need());
  OfferAndWait(*pool, "door", SceneJpeg());
  clock_.Advance(std::chrono::milliseconds(100));
  OfferAndWait(*pool, "door", SceneJpeg(100, 60));  // someone came in: checked, seen moving, recognised at once
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 1; }));
  EXPECT_EQ(Detected(), 1);
  EXPECT_EQ(Described(), 1);
  EXPECT_EQ(pool->stats().moving_cameras, 1u);

  // Named and tracked: the camera is settled, its next frames within settled_interval are not recognised (at
  // most motion-checked; the frame offered after the interval replaces any left, so Detected() tells).
  clock_.Advance(std::chrono::milliseconds(100));
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("door", SceneJpeg(100, 60))));
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("door", SceneJpeg(100, 60))));
  Settle(*pool);
  clock_.Advance(std::chrono::milliseconds(1000));
  OfferAndWait(*pool, "door", SceneJpeg(100, 60));
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 2; }));
  EXPECT_EQ(Detected(), 2);
  EXPECT_EQ(Described(), 1) << "the tracked face's descriptor is reused";
  EXPECT_EQ(Count("recognition_descriptors_reused_total"), 1u);
  std::lock_guard lock(results_mu_);
  EXPECT_EQ(continued_, (std::vector<bool>{false, true}));
}

TEST_F(NeedPoolTest, SomeoneStandingStillIsLookedAtUntilTheirTrackEndsAndEndTracksReportsIt) {
  EnrolAdaAndShowHerAt(Box{100, 60, 80, 80});
  auto pool = Make(Need());
  OfferAndWait(*pool, "door", SceneJpeg());
  clock_.Advance(std::chrono::milliseconds(100));
  OfferAndWait(*pool, "door", SceneJpeg(100, 60));
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 1; }));
  EXPECT_TRUE(pool->EndTracks().empty()) << "the track is live";

  // The scene is still again (the fake engine still finds the face: someone standing still): past the motion
  // hold, the camera is still recognised once per settled_interval, reusing the descriptor.
  clock_.Advance(std::chrono::milliseconds(1600));
  OfferAndWait(*pool, "door", SceneJpeg());
  EXPECT_EQ(pool->stats().moving_cameras, 0u);
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 2; }));
  EXPECT_EQ(Described(), 1);

  // They leave: looked for until their track times out, then reported once, and the still camera is let be.
  {
    std::lock_guard lock(shared_->mu);
    shared_->faces.clear();
  }
  std::vector<RecognitionPool::TrackEnd> ended;
  for (int i = 0; i < 5 && ended.empty(); ++i) {
    clock_.Advance(std::chrono::milliseconds(1000));
    OfferAndWait(*pool, "door", SceneJpeg());
    ended = pool->EndTracks();
  }
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].device_id, "door");
  EXPECT_EQ(ended[0].person_id, std::optional<int64_t>(1));
  EXPECT_NE(ended[0].track_id, 0u);
  EXPECT_EQ(ended[0].last_seen_ms - ended[0].first_seen_ms, 1600) << "first and second recognition";
  EXPECT_TRUE(pool->EndTracks().empty()) << "reported once";
  const int detected = Detected();
  clock_.Advance(std::chrono::milliseconds(1000));
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("door", SceneJpeg())));
  Settle(*pool);
  EXPECT_EQ(pool->stats().pending_cameras, 0u) << "nothing to do for a still camera without tracked faces";
  EXPECT_EQ(Detected(), detected);
}

TEST_F(NeedPoolTest, MotionWithoutAFaceIsLookedAtCloserEveryOtherTime) {
  auto pool = Make(Need());
  OfferAndWait(*pool, "yard", SceneJpeg());
  for (int i = 0; i < 3; ++i) {  // something moves, and no face is found in it
    clock_.Advance(std::chrono::milliseconds(100));
    OfferAndWait(*pool, "yard", SceneJpeg(100 + 40 * i, 60));
  }
  Face f;
  f.box = Box{180, 60, 80, 80};
  {
    std::lock_guard lock(shared_->mu);
    shared_->faces = {f};
  }
  clock_.Advance(std::chrono::milliseconds(100));
  OfferAndWait(*pool, "yard", SceneJpeg(200, 60));  // closer: finds the face
  clock_.Advance(std::chrono::milliseconds(100));
  OfferAndWait(*pool, "yard", SceneJpeg(220, 60));  // a face was found: the usual scan again
  std::lock_guard lock(shared_->mu);
  EXPECT_EQ(shared_->closer, (std::vector<bool>{false, true, false, true, false}));
}

TEST_F(NeedPoolTest, MovingCamerasTakeTurnsLongestWaitingFirst) {
  auto pool = Make(Need());
  for (const char* cam : {"a", "b", "c"}) OfferAndWait(*pool, cam, SceneJpeg());
  clock_.Advance(std::chrono::milliseconds(10));
  // All three start moving (no face found, so each stays due for every new frame); served a, b, c in turn.
  for (const char* cam : {"a", "b", "c"}) {
    OfferAndWait(*pool, cam, SceneJpeg(100, 60));
    clock_.Advance(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 3; }));
  Hold(true);
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("c", SceneJpeg(100, 60))));
  WaitRunning(1);  // the worker holds c
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("b", SceneJpeg(100, 60))));
  clock_.Advance(std::chrono::milliseconds(1));
  ASSERT_TRUE(pool->OfferFrame(MakeFrame("a", SceneJpeg(100, 60))));  // newer, but a waited longest
  Hold(false);
  ASSERT_TRUE(testing::WaitFor([&] { return Results() == 6; }));
  std::lock_guard lock(results_mu_);
  EXPECT_EQ(results_[3].first, "c");
  EXPECT_EQ(results_[4].first, "a");
  EXPECT_EQ(results_[5].first, "b");
}

TEST_F(NeedPoolTest, CamerasBeyondTheLimitAreCountedNotFollowed) {
  PoolOptions o = Need();
  o.max_pending_cameras = 1;
  auto pool = Make(o);
  EXPECT_TRUE(pool->OfferFrame(MakeFrame("a", SceneJpeg())));
  EXPECT_FALSE(pool->OfferFrame(MakeFrame("b", SceneJpeg())));
  EXPECT_EQ(Count("recognition_dropped_cameras_full_total"), 1u);
}

}  // namespace
}  // namespace iotstream::vision
