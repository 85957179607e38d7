// Door mode: the camera posts a frame to `/api/v1/stream/stream` once per interval, or at once when the trigger
// input rises (a button or PIR), and switches an output (relay or LED) on for `open_ms` when the answer names a
// permitted person (`recognition.faces[].permitted == true`). Portable C++17, no JSON library: the answer is
// scanned by hand.
//
// Not thread-safe: one thread drives a Door. It borrows the uploader (configured with the /stream path), the
// output, the clock and the log, which must outlive it. The output is only switched off inside RunOnce/Tick, so
// while an upload is in flight (up to the uploader's timeout) the door may stay open that much longer.
#pragma once

#include <cstdint>
#include <string>

#include "interfaces.h"
#include "uploader.h"

namespace iotstream::firmware {

// Scans a `/api/v1/stream/stream` answer for the first face in `recognition.faces` with `"permitted": true`.
// Returns true and sets `*name` to its `name` (JSON escapes decoded; "" when null), or returns false and leaves
// `*name` untouched when there is none, recognition was off (`null`) or the text is not such an answer.
bool FindPermittedFace(const std::string& json, std::string* name);

struct DoorOptions {
  uint32_t interval_ms = 1000;  // between posts while the trigger stays low
  uint32_t open_ms = 5000;      // how long the output stays on after a permitted face (a later one extends it)
  uint32_t idle_sleep_ms = 10;  // RunOnce's wait when there is nothing to do, so the trigger is polled that often
};

class Door {
 public:
  // Switches the output off.
  Door(DoorOptions options, Uploader& uploader, DigitalOut& output, Clock& clock, Log& log);
  Door(const Door&) = delete;
  Door& operator=(const Door&) = delete;

  // Posts a frame when the interval has passed or `trigger_high` rose since the last post (and the uploader has no
  // pending backoff or Retry-After), then acts on the answer; otherwise sleeps idle_sleep_ms. Closes the door when
  // its time ran out. Returns true when this call's answer named a permitted person.
  bool RunOnce(Camera& camera, bool trigger_high);

  // Acts on one upload's result: a 2xx answer that names a permitted person switches the output on until
  // now + open_ms. Returns true when it did.
  bool OnAnswer(const UploadResult& result);
  // Switches the output off once its time ran out.
  void Tick();

  bool open() const { return open_; }
  // The permitted person of the last opening.
  const std::string& last_name() const { return last_name_; }

 private:
  DoorOptions options_;
  Uploader& uploader_;
  DigitalOut& output_;
  Clock& clock_;
  Log& log_;
  bool open_ = false;
  uint64_t close_at_us_ = 0;
  bool posted_ = false;
  uint64_t last_post_us_ = 0;
  bool trigger_was_high_ = false;
  bool trigger_pending_ = false;
  std::string last_name_;
};

}  // namespace iotstream::firmware
