// Wall-clock and monotonic time in the units the project stores. Thread-safe (stateless).
#pragma once

#include <chrono>
#include <cstdint>

namespace iotstream {

inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace iotstream
