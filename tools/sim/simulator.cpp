#include "simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "host/posix_io.h"

namespace iotstream::sim {
namespace {

// The uploaders' lines, to stderr only when asked: hundreds of cameras retrying would drown the progress line.
class SimLog final : public firmware::Log {
 public:
  SimLog(std::string prefix, bool verbose) : out_(std::move(prefix)), verbose_(verbose) {}
  void Line(const char* text) override {
    if (verbose_) out_.Line(text);
  }

 private:
  firmware::StderrLog out_;
  bool verbose_;
};

void RunCamera(const SimOptions& options, const CameraFactory& make_camera, int index, LiveTotals& live,
               CameraSummary* summary) {
  firmware::SteadyClock clock;
  firmware::PosixTransport transport;
  char id[96];
  std::snprintf(id, sizeof id, "%s%03d", options.device_prefix.c_str(), index);
  summary->device_id = id;
  SimLog log(id, options.verbose);
  firmware::UploaderOptions uo;
  uo.host = options.host;
  uo.port = options.port;
  uo.path = options.path;
  uo.device_id = id;
  uo.fps = options.fps;
  uo.timeout_ms = options.timeout_ms;
  uo.stats_interval_ms = 0;
  firmware::Uploader uploader(uo, transport, clock, log);
  std::unique_ptr<firmware::Camera> camera = make_camera(index, clock);

  // Spread the cameras' first frames over one frame period, as real cameras switched on at random times would be.
  if (options.fps > 0) {
    clock.SleepUs(static_cast<uint64_t>(1e6 / options.fps * index / std::max(options.cameras, 1)));
  }
  // Each camera runs for the whole duration from its own first frame, so every one has the same number of slots.
  const uint64_t end_us = clock.MonotonicUs() + static_cast<uint64_t>(options.duration_s * 1e6);
  if (options.fps > 0) summary->latency_us.reserve(static_cast<size_t>(options.fps * options.duration_s) + 1);
  for (;;) {
    const uint64_t next = uploader.next_send_us();
    if (clock.MonotonicUs() >= end_us || (next != 0 && next >= end_us)) break;
    const firmware::UploadResult r = uploader.RunOnce(*camera);
    if (r.outcome == firmware::Outcome::kNoFrame) continue;
    live.sent.fetch_add(1, std::memory_order_relaxed);
    switch (r.outcome) {
      case firmware::Outcome::kOk:
        live.ok.fetch_add(1, std::memory_order_relaxed);
        break;
      case firmware::Outcome::kHttpError:
        live.non_2xx.fetch_add(1, std::memory_order_relaxed);
        break;
      case firmware::Outcome::kTimeout:
        live.timeouts.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        live.errors.fetch_add(1, std::memory_order_relaxed);
    }
    if (r.outcome == firmware::Outcome::kOk || r.outcome == firmware::Outcome::kHttpError) {
      summary->latency_us.push_back(static_cast<uint32_t>(std::min<uint64_t>(r.latency_us(), UINT32_MAX)));
    }
    if (r.outcome == firmware::Outcome::kOk && r.latency_us() <= uint64_t{options.slo_ms} * 1000) {
      ++summary->ok_within_slo;
    }
  }
  summary->stats = uploader.stats();
  // A paced camera has fps x duration slots; an answer that came after the end leaves the last ones unsent and
  // uncounted by the uploader.
  const uint64_t sent_or_skipped = summary->stats.attempts + summary->stats.skipped_slots;
  summary->frames = options.fps > 0
                        ? std::max(sent_or_skipped, static_cast<uint64_t>(std::ceil(options.fps * options.duration_s)))
                        : sent_or_skipped;
}

}  // namespace

std::vector<CameraSummary> RunSimulation(const SimOptions& options, const CameraFactory& make_camera,
                                         const std::function<void(const LiveTotals&, double)>& progress) {
  firmware::SteadyClock clock;
  const uint64_t start_us = clock.MonotonicUs();
  LiveTotals live;
  std::vector<CameraSummary> summaries(static_cast<size_t>(options.cameras));
  std::atomic<int> running{options.cameras};
  std::vector<std::thread> threads;
  threads.reserve(summaries.size());
  for (int i = 0; i < options.cameras; ++i) {
    threads.emplace_back([&, i] {
      RunCamera(options, make_camera, i, live, &summaries[static_cast<size_t>(i)]);
      running.fetch_sub(1);
    });
  }
  uint64_t next_report_us = start_us + 1000000;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const uint64_t now = clock.MonotonicUs();
    if (now >= next_report_us) {
      progress(live, static_cast<double>(now - start_us) / 1e6);
      next_report_us += 1000000;
    }
  }
  for (auto& t : threads) t.join();
  return summaries;
}

uint32_t Percentile(std::vector<uint32_t>& values, double percent) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(percent / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

}  // namespace iotstream::sim
