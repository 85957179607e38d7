// A camera posting one JPEG at 10 fps over one keep-alive connection, on a thread of its own, for tests that check
// the server keeps serving cameras while something hostile goes on.
// Thread-safety: one owner calls WaitForUploads and Stop; the destructor stops the camera.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

namespace iotstream::testing {

class SteadyCamera {
 public:
  // Starts posting `jpeg` as `device` to /api/v1/stream/fast on 127.0.0.1:port.
  SteadyCamera(unsigned short port, std::string jpeg, std::string device = "steady");
  ~SteadyCamera();
  SteadyCamera(const SteadyCamera&) = delete;
  SteadyCamera& operator=(const SteadyCamera&) = delete;

  // Waits until the camera has made `n` more uploads; false when that takes over 60 s.
  bool WaitForUploads(int n);

  struct Summary {
    size_t uploads = 0;
    size_t answered_200 = 0;
    double p99_ms = 0;  // round trip of an upload
    double max_ms = 0;
  };
  // Stops the camera (once; later calls return the same) and sums up its uploads.
  Summary Stop();
  // Stops the camera and fails the current test unless it uploaded and every upload was answered 200; prints the
  // round trip's p99 (printed, not judged: a timing is a benchmark's business).
  void ExpectEveryUploadAnswered();

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> uploads_{0};
  std::vector<int> statuses_;        // written by the thread until it is joined
  std::vector<double> latencies_ms_;
  std::thread thread_;
};

}  // namespace iotstream::testing
