// iotstream-sim's engine: N simulated cameras, each a thread with its own keep-alive connection running the
// firmware's Uploader (the code the board runs) at a target frame rate for a set time, and the figures of the run.
// RunSimulation is called from one thread; it calls `progress` on that thread while the cameras run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uploader/interfaces.h"
#include "uploader/uploader.h"

namespace iotstream::sim {

struct SimOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 9003;
  std::string path = "/api/v1/stream/fast";
  std::string device_prefix = "sim-";  // camera i is "<prefix><i, 3 digits>"
  int cameras = 1;
  double fps = 10;                     // per camera; 0: each sends as fast as its answers come
  double duration_s = 10;
  uint32_t timeout_ms = 3000;          // per request, as on the board
  uint32_t slo_ms = 100;               // a 2xx answer within this many ms counts as within the bound
  bool verbose = false;                // the uploaders' log lines (failures, backoff) to stderr
};

// Makes camera `index`'s frame source; `clock` is that camera's and outlives the source.
using CameraFactory = std::function<std::unique_ptr<firmware::Camera>(int index, firmware::Clock& clock)>;

// Counts across all cameras while they run.
struct LiveTotals {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> timeouts{0};
  std::atomic<uint64_t> non_2xx{0};
  std::atomic<uint64_t> errors{0};  // connect failures and connection errors
};

struct CameraSummary {
  std::string device_id;
  firmware::UploaderStats stats;
  std::vector<uint32_t> latency_us;  // every answered request (2xx or not)
  uint64_t frames = 0;               // frame slots of the run: sent + skipped, and those after a last late answer
  uint64_t ok_within_slo = 0;        // 2xx answers within options.slo_ms
};

// Runs options.cameras cameras, each for options.duration_s from its first frame (the first frames are spread over
// one frame period; no frame is sent whose slot starts after a camera's end), calling
// `progress` about once a second with the totals so far and the seconds elapsed. Returns one summary per camera,
// in index order.
std::vector<CameraSummary> RunSimulation(const SimOptions& options, const CameraFactory& make_camera,
                                         const std::function<void(const LiveTotals&, double)>& progress);

// Nearest-rank percentile (0-100) of `values`, 0 when empty. Sorts `values`.
uint32_t Percentile(std::vector<uint32_t>& values, double percent);

}  // namespace iotstream::sim
