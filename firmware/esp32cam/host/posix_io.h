// The uploader's seams on a POSIX host (Linux), so the board's core runs unchanged in tests and in iotstream-sim:
// a TCP connection with poll() timeouts, the steady and system clocks, a camera that serves JPEG files, a log to
// stderr. Each object is used by one thread at a time (as interfaces.h asks); JpegSet is immutable and shared.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "uploader/interfaces.h"

namespace iotstream::firmware {

// A TCP socket. Connect resolves the host (numeric addresses without a lookup), sets TCP_NODELAY, and waits for
// the connection with poll(); writes never raise SIGPIPE.
class PosixTransport final : public Transport {
 public:
  PosixTransport() = default;
  ~PosixTransport() override;
  PosixTransport(const PosixTransport&) = delete;
  PosixTransport& operator=(const PosixTransport&) = delete;

  bool Connect(const char* host, uint16_t port, uint32_t timeout_ms) override;
  bool connected() const override { return fd_ >= 0; }
  bool WriteAll(const uint8_t* data, size_t size, uint32_t timeout_ms) override;
  int ReadSome(uint8_t* buffer, size_t capacity, uint32_t timeout_ms) override;
  void Close() override;

 private:
  int fd_ = -1;
};

// std::chrono::steady_clock and system_clock; the wall time is always known. Stateless.
class SteadyClock final : public Clock {
 public:
  uint64_t MonotonicUs() override;
  bool WallMs(int64_t* ms) override;
  void SleepUs(uint64_t us) override;
};

// JPEG files read once, shared read-only by any number of cameras.
using JpegSet = std::shared_ptr<const std::vector<std::string>>;

// The bytes of one file; empty when it cannot be read.
std::string LoadJpegFile(const std::filesystem::path& file);

// Every *.jpg / *.jpeg under `folder` (recursively), in path order. Returns an empty set when there is none or the
// folder cannot be read.
JpegSet LoadJpegFolder(const std::filesystem::path& folder);

// Serves the set's JPEGs in order, starting at `first` and wrapping around. REQUIRES: the set is not empty.
class JpegSetCamera final : public Camera {
 public:
  explicit JpegSetCamera(JpegSet frames, size_t first = 0);
  bool Grab(FrameView* frame) override;
  void Release() override {}
  // The bytes the last Grab lent.
  const std::string& last() const { return (*frames_)[last_]; }

 private:
  JpegSet frames_;
  size_t next_;
  size_t last_ = 0;
};

// Writes "<prefix>: <line>" to stderr, one write per line so concurrent cameras do not interleave.
class StderrLog final : public Log {
 public:
  explicit StderrLog(std::string prefix) : prefix_(std::move(prefix)) {}
  void Line(const char* text) override;

 private:
  std::string prefix_;
};

}  // namespace iotstream::firmware
