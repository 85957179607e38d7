// Wall-clock and monotonic time in the units the project stores, and Clock, the seam through which code whose
// behaviour depends on elapsed time (ageing, timeouts) reads it, so that tests can move time instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace iotstream {

// Thread-safe (stateless).
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Thread-safe (stateless).
inline int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// `ms` since the epoch as UTC text in strftime's `format` (at most 63 characters out), e.g. "%Y%m%d%H".
inline std::string FormatUtc(int64_t ms, const char* format) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

// A source of time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t WallMs() const = 0;       // ms since the epoch
  virtual int64_t MonotonicUs() const = 0;  // never goes back
};

// The system's clocks. Never deleted; lives for the whole program.
inline const Clock& SystemClock() {
  class System final : public Clock {
   public:
    int64_t WallMs() const override { return ::iotstream::NowMs(); }
    int64_t MonotonicUs() const override { return ::iotstream::MonotonicUs(); }
  };
  static const System clock;
  return clock;
}

// A clock that moves only when Advance() is called (tests). Both readings move together.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t wall_ms = 1'700'000'000'000, int64_t monotonic_us = 1'000'000)
      : wall_ms_(wall_ms), monotonic_us_(monotonic_us) {}
  int64_t WallMs() const override { return wall_ms_.load(); }
  int64_t MonotonicUs() const override { return monotonic_us_.load(); }
  void Advance(std::chrono::microseconds d) {
    monotonic_us_.fetch_add(d.count());
    wall_ms_.fetch_add(d.count() / 1000);
  }

 private:
  std::atomic<int64_t> wall_ms_;
  std::atomic<int64_t> monotonic_us_;
};

}  // namespace iotstream
