// DeviceRecord: what is remembered about a camera across restarts. A plain value; copy freely.
#pragma once

#include <cstdint>
#include <string>

namespace iotstream {

struct DeviceRecord {
  std::string id;
  std::string name;       // user-given; empty until renamed
  std::string location;   // user-given; empty until set
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  uint64_t frames_received = 0;  // accepted frames
  uint64_t bytes_received = 0;   // JPEG bytes of accepted frames
  uint64_t frames_rejected = 0;  // uploads refused as bad input
  uint64_t last_frame_bytes = 0;
  int last_width = 0;
  int last_height = 0;
  // A camera that posts a burst and sleeps (battery, PIR): it is offline only once it misses its interval.
  bool sparse = false;
  int64_t expected_interval_ms = 0;  // user-given time between bursts; 0: learned from its bursts
};

}  // namespace iotstream
