// The seams between the portable uploader core and the machine it runs on: a TCP connection, clocks, a camera,
// a log line and a digital output. The board implements them with WiFiClient, esp_timer, esp_camera and Serial
// (esp32cam.ino); the host with POSIX sockets, std::chrono and JPEG files (host/posix_io.h). Portable C++17.
// One object of each kind is used by one thread at a time; none of them needs to be thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace iotstream::firmware {

// One TCP connection at a time to the server. Every call returns within its timeout.
class Transport {
 public:
  virtual ~Transport() = default;
  // Opens a connection to host:port, closing any open one first. Returns false when it cannot connect within
  // `timeout_ms` (refused, unreachable, name not resolved); the transport is then closed.
  virtual bool Connect(const char* host, uint16_t port, uint32_t timeout_ms) = 0;
  // True while a connection is open (the peer may have closed it without this knowing yet).
  virtual bool connected() const = 0;
  // Writes all `size` bytes. Returns false when the connection fails or the bytes are not all taken within
  // `timeout_ms`; the caller then closes it.
  virtual bool WriteAll(const uint8_t* data, size_t size, uint32_t timeout_ms) = 0;
  // Reads what is available, up to `capacity` bytes, waiting at most `timeout_ms` for the first byte.
  // Returns the count read (> 0), 0 when nothing came within the timeout, -1 when the peer closed the connection
  // or it failed.
  virtual int ReadSome(uint8_t* buffer, size_t capacity, uint32_t timeout_ms) = 0;
  // Closes the connection; no-op when none is open.
  virtual void Close() = 0;
};

// Time. MonotonicUs never goes back; WallMs is absent until the board has synchronised its clock (NTP).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t MonotonicUs() = 0;
  // Sets `*ms` to milliseconds since the epoch and returns true, or returns false (leaving `*ms`) when the
  // wall time is not known.
  virtual bool WallMs(int64_t* ms) = 0;
  // Blocks the caller for about `us` microseconds (a test clock may instead move its own time).
  virtual void SleepUs(uint64_t us) = 0;
};

// A JPEG the camera lent out; valid until Camera::Release.
struct FrameView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// The frame source. REQUIRES: every successful Grab is followed by Release before the next Grab (the board's
// driver lends its frame buffer and needs it back).
class Camera {
 public:
  virtual ~Camera() = default;
  // Fills `*frame` with the newest JPEG and returns true, or returns false (no frame to release) on a capture
  // failure.
  virtual bool Grab(FrameView* frame) = 0;
  virtual void Release() = 0;
};

// One line of human-readable text (no newline) to the serial console or stderr.
class Log {
 public:
  virtual ~Log() = default;
  virtual void Line(const char* text) = 0;
};

// A digital output (the door relay or an LED).
class DigitalOut {
 public:
  virtual ~DigitalOut() = default;
  virtual void Write(bool on) = 0;
};

}  // namespace iotstream::firmware
