// The camera's uploader: posts JPEGs to iotstream over one keep-alive connection at a target frame rate, the same
// code on the ESP32-CAM and in the host simulator. Portable C++17 over the seams in interfaces.h.
//
// - Pacing is open loop: frame slots sit on a fixed grid from the first call (start + k / fps). A slot that has
//   passed while an answer, a backoff or a Retry-After was awaited is skipped and counted, never queued, so a slow
//   answer does not shift the schedule; an answer that arrives after the next slot began is counted late.
// - Every request has one deadline (`timeout_ms`, connect + write + the whole answer); when it passes the
//   connection is closed and the attempt counted as a timeout.
// - Connection failures and timeouts wait before the next attempt with exponential backoff (doubling from
//   `backoff_initial_ms` up to `backoff_max_ms`, reset by any answer); a 503 or 429 with `Retry-After: N`
//   waits N seconds (at most `retry_after_max_s`).
// - A request that fails on a reused keep-alive connection before any answer byte arrived is sent once more on a
//   fresh connection (the server closed the idle connection, e.g. it restarted).
// - Every `stats_interval_ms` a line goes to the log: achieved fps, success rate, latency p50/max.
//
// Not thread-safe: one thread drives an Uploader. It borrows the transport, clock and log, which must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "http.h"
#include "interfaces.h"

namespace iotstream::firmware {

struct UploaderOptions {
  std::string host;                       // server name or address
  uint16_t port = 9003;                   // iotstream's main port
  std::string path = "/api/v1/stream/fast";
  std::string device_id;                  // X-Device-ID; REQUIRED: 1-64 of A-Z a-z 0-9 . _ - :
  std::string api_key;                    // sent as X-API-Key when not empty
  double fps = 10;                        // target frame rate; 0 sends as fast as answers come
  uint32_t timeout_ms = 3000;             // one request, connect to last answer byte
  uint32_t backoff_initial_ms = 250;      // first wait after a failed connect, error or timeout
  uint32_t backoff_max_ms = 8000;         // the doubling stops here
  uint32_t retry_after_max_s = 60;        // a larger Retry-After is cut to this
  uint32_t stats_interval_ms = 10000;     // 0: no stats lines
  size_t max_body_bytes = 8192;           // of each answer kept in UploadResult::body
};

enum class Outcome {
  kOk,               // a 2xx answer
  kHttpError,        // an answer that is not 2xx (see status)
  kTimeout,          // no complete answer within timeout_ms
  kConnectFailed,    // no connection to the server
  kConnectionError,  // the connection closed or failed mid-request, or the answer was not HTTP
  kNoFrame,          // the camera gave no frame
};

const char* OutcomeName(Outcome outcome);

struct UploadResult {
  Outcome outcome = Outcome::kNoFrame;
  int status = 0;                // HTTP status when an answer came, else 0
  uint64_t started_us = 0;       // clock's monotonic time when the attempt began
  uint64_t finished_us = 0;      // ... and when it ended
  uint32_t skipped_slots = 0;    // frame slots skipped just before this one
  bool late = false;             // it ended after the next frame slot began
  std::string body;              // the answer's body (at most max_body_bytes)

  uint64_t latency_us() const { return finished_us - started_us; }
};

// Counts since construction.
struct UploaderStats {
  uint64_t attempts = 0;          // requests tried (every outcome but kNoFrame)
  uint64_t ok = 0;
  uint64_t non_2xx = 0;
  uint64_t timeouts = 0;
  uint64_t connect_failures = 0;
  uint64_t connection_errors = 0;
  uint64_t no_frame = 0;
  uint64_t skipped_slots = 0;
  uint64_t late = 0;
  uint64_t connections = 0;       // connections opened
};

class Uploader {
 public:
  // REQUIRES: options.device_id and options.host are not empty.
  Uploader(UploaderOptions options, Transport& transport, Clock& clock, Log& log);
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Waits for the next frame slot (and for any backoff or Retry-After), grabs the newest frame, uploads it and
  // returns how it went. Blocks for at most one slot, the pending wait and timeout_ms.
  UploadResult RunOnce(Camera& camera);

  // Uploads `size` bytes of JPEG now, without pacing and without waiting for a pending backoff (see
  // ready_at_us()). Counts it in stats() like RunOnce.
  UploadResult Send(const uint8_t* jpeg, size_t size);

  // When RunOnce will send next: the later of the next frame slot and ready_at_us(); 0 before the first RunOnce.
  uint64_t next_send_us() const;
  // The monotonic time before which the server asked not to be bothered (backoff or Retry-After); 0 when none.
  uint64_t ready_at_us() const { return ready_at_us_; }
  const UploaderStats& stats() const { return stats_; }

 private:
  // Outcome of one request on the current or a fresh connection; `*answer_started` says whether a byte of the
  // answer arrived.
  Outcome Exchange(const uint8_t* jpeg, size_t size, uint64_t deadline_us, bool* answer_started);
  uint32_t RemainingMs(uint64_t deadline_us);
  void Record(UploadResult& result);
  void MaybeLogStats(uint64_t now_us);
  uint64_t SlotUs(uint64_t index) const;

  UploaderOptions options_;
  Transport& transport_;
  Clock& clock_;
  Log& log_;
  ResponseParser parser_;
  UploaderStats stats_;

  bool started_ = false;
  uint64_t start_us_ = 0;
  uint64_t next_slot_ = 0;
  uint64_t ready_at_us_ = 0;
  uint32_t backoff_ms_ = 0;

  // The current stats interval.
  uint64_t interval_start_us_ = 0;
  UploaderStats interval_base_;
  std::vector<uint32_t> interval_latency_ms_;
};

}  // namespace iotstream::firmware
