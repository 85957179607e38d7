#include "support/steady_camera.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace iotstream::testing {

using Clock = std::chrono::steady_clock;

SteadyCamera::SteadyCamera(unsigned short port, std::string jpeg, std::string device)
    : thread_([this, port, jpeg = std::move(jpeg), device = std::move(device)] {
        HttpClient c(port);
        auto next = Clock::now();
        while (!stop_) {
          const auto t0 = Clock::now();
          const int status = c.PostJpeg("/api/v1/stream/fast", jpeg, device).status;
          latencies_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          statuses_.push_back(status);
          uploads_++;
          next += std::chrono::milliseconds(100);
          std::this_thread::sleep_until(next);
        }
      }) {}

SteadyCamera::~SteadyCamera() { Stop(); }

bool SteadyCamera::WaitForUploads(int n) {
  const int target = uploads_ + n;
  return WaitFor([&] { return uploads_ >= target; }, std::chrono::seconds(60));
}

SteadyCamera::Summary SteadyCamera::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  Summary s;
  s.uploads = statuses_.size();
  s.answered_200 = static_cast<size_t>(std::count(statuses_.begin(), statuses_.end(), 200));
  std::vector<double> sorted = latencies_ms_;
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    s.p99_ms = sorted[sorted.size() * 99 / 100];
    s.max_ms = sorted.back();
  }
  return s;
}

void SteadyCamera::ExpectEveryUploadAnswered() {
  const Summary s = Stop();
  ASSERT_GT(s.uploads, 0u);
  EXPECT_EQ(s.answered_200, s.uploads) << "the steady camera got a non-200 answer";
  std::printf("steady camera: %zu uploads, p99 %.1f ms, max %.1f ms\n", s.uploads, s.p99_ms, s.max_ms);
}

}  // namespace iotstream::testing
