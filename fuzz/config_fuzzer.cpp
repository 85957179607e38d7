// The configuration: ParseConfig over command-line arguments (the IOTSTREAM_* environment goes through the same
// option table). Whatever it accepts must hold the limits the rest of the server relies on.
//
// Input: the arguments, separated by NUL bytes (at most 32; the program name is added).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/app.h"

namespace {
std::ostringstream sink;  // --help and every refusal print: kept out of the fuzzer's output, emptied per run
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::cout.rdbuf(sink.rdbuf());
  std::cerr.rdbuf(sink.rdbuf());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"iotstream"};
  std::string current;
  for (size_t i = 0; i < size && args.size() < 33; ++i) {
    if (data[i] == 0) {
      args.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (args.size() < 33) args.push_back(std::move(current));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  sink.str({});
  int exit_code = -1;
  auto cfg = iotstream::app::ParseConfig(static_cast<int>(args.size()), argv.data(), &exit_code);
  if (cfg == nullptr) {
    if (exit_code != 0 && exit_code != 2) std::abort();
  } else {
    const auto& c = *cfg;
    if (c.main_server.read_timeout.count() <= 0 || c.main_server.max_body_bytes == 0 ||
        c.main_server.max_header_bytes < 1024 || c.ingest.multipart.max_parts == 0 ||
        c.ingest.multipart.max_part_header_bytes == 0 || c.store.queue_max_frames == 0 || c.disk_threads <= 0 ||
        c.pool.workers <= 0 || c.pool.job_timeout.count() <= 0 || c.events.presence_timeout_ms <= 0) {
      std::abort();
    }
    // Fractions and thresholds are numbers the code compares and multiplies: never NaN or infinite.
    if (!(c.pool.sample_rate >= 0 && c.pool.sample_rate <= 1) || !std::isfinite(c.pool.max_fps_per_camera) ||
        !std::isfinite(c.pool.match_threshold) || !std::isfinite(c.engine.adjust_threshold) ||
        c.engine.upsample < 0 || c.engine.upsample > 3) {
      std::abort();
    }
  }
  return 0;
}
