// Test doubles for the firmware core's seams (uploader/interfaces.h): clocks that move on request, an output and a
// log that remember, a transport with canned answers, and a tiny TCP server that answers (or does not) as a test
// says. Each is used by one test thread, except TinyServer, whose counters are read while its threads run.
#pragma once

#include <atomic>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host/posix_io.h"
#include "uploader/interfaces.h"

namespace iotstream::firmware::testing {

// Time moves only by SleepUs (and Advance): a test decides every microsecond.
class ManualClock final : public Clock {
 public:
  uint64_t MonotonicUs() override { return now_us_; }
  bool WallMs(int64_t* ms) override {
    *ms = 1'700'000'000'000 + static_cast<int64_t>(now_us_ / 1000);
    return true;
  }
  void SleepUs(uint64_t us) override { now_us_ += us; }
  void Advance(uint64_t us) { now_us_ += us; }

 private:
  uint64_t now_us_ = 1'000'000;
};

// The steady clock plus whatever the code under test slept: real time for socket timeouts, no real waiting for
// backoff or Retry-After.
class SkippingClock final : public Clock {
 public:
  uint64_t MonotonicUs() override { return steady_.MonotonicUs() + skipped_us_; }
  bool WallMs(int64_t* ms) override { return steady_.WallMs(ms); }
  void SleepUs(uint64_t us) override { skipped_us_ += us; }

 private:
  SteadyClock steady_;
  uint64_t skipped_us_ = 0;
};

class RecordingOut final : public DigitalOut {
 public:
  void Write(bool on) override {
    on_ = on;
    ++writes_;
  }
  bool on() const { return on_; }
  int writes() const { return writes_; }

 private:
  bool on_ = false;
  int writes_ = 0;
};

class RecordingLog final : public Log {
 public:
  void Line(const char* text) override { lines.emplace_back(text); }
  std::vector<std::string> lines;
};

// Lends the same few bytes (an SOI and an EOI marker) on every Grab.
class TinyJpegCamera final : public Camera {
 public:
  bool Grab(FrameView* frame) override {
    frame->data = kBytes;
    frame->size = sizeof kBytes;
    return true;
  }
  void Release() override {}

 private:
  static constexpr uint8_t kBytes[] = {0xFF, 0xD8, 0xFF, 0xD9};
};

// Answers the n-th request (counted by the "POST " that starts it) with answers[n], or the last answer once they
// run out; every request's bytes are kept.
class CannedTransport final : public Transport {
 public:
  explicit CannedTransport(std::vector<std::string> answers) : answers_(std::move(answers)) {}
  bool Connect(const char*, uint16_t, uint32_t) override {
    open_ = true;
    return true;
  }
  bool connected() const override { return open_; }
  bool WriteAll(const uint8_t* data, size_t size, uint32_t) override {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    if (bytes.rfind("POST ", 0) == 0) {
      requests.emplace_back();
      pending_ = answers_[std::min(requests.size(), answers_.size()) - 1];
    }
    requests.back() += bytes;
    return true;
  }
  int ReadSome(uint8_t* buffer, size_t capacity, uint32_t) override {
    if (pending_.empty()) return 0;
    const size_t n = std::min(capacity, pending_.size());
    pending_.copy(reinterpret_cast<char*>(buffer), n);
    pending_.erase(0, n);
    return static_cast<int>(n);
  }
  void Close() override { open_ = false; }

  std::vector<std::string> requests;

 private:
  std::vector<std::string> answers_;
  std::string pending_;
  bool open_ = false;
};

// A TCP server on 127.0.0.1 (free port) that reads whole requests (head + Content-Length body) on keep-alive
// connections and writes answer(n) to the n-th request, counted over all connections; an empty answer means
// "never answer": the connection is held open, unread, until the server is destroyed.
class TinyServer {
 public:
  explicit TinyServer(std::function<std::string(int)> answer);
  ~TinyServer();
  TinyServer(const TinyServer&) = delete;
  TinyServer& operator=(const TinyServer&) = delete;

  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  // The heads of the requests so far.
  std::vector<std::string> heads() const;

 private:
  void Accept();
  void Serve(int fd);

  std::function<std::string(int)> answer_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<std::string> heads_;  // guarded by mu_
  std::vector<std::thread> threads_;  // guarded by mu_
  std::thread acceptor_;
};

// "HTTP/1.1 <status>" with a JSON body and Content-Length, plus `extra_headers` (each ending in \r\n).
std::string HttpAnswer(int status, const std::string& body, const std::string& extra_headers = "");

}  // namespace iotstream::firmware::testing
