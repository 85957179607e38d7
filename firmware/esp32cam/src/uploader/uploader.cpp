#include "uploader.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace iotstream::firmware {
namespace {

// Latency samples kept per stats interval: 10 s at 10 fps needs 100; beyond this the interval's p50 uses the first.
constexpr size_t kMaxIntervalSamples = 1024;
// One TCP segment: the answers iotstream gives fit in one or two.
constexpr size_t kReadChunk = 1460;

}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kOk:
      return "ok";
    case Outcome::kHttpError:
      return "http error";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kConnectFailed:
      return "connect failed";
    case Outcome::kConnectionError:
      return "connection error";
    case Outcome::kNoFrame:
      return "no frame";
  }
  return "?";
}

Uploader::Uploader(UploaderOptions options, Transport& transport, Clock& clock, Log& log)
    : options_(std::move(options)),
      transport_(transport),
      clock_(clock),
      log_(log),
      parser_(options_.max_body_bytes) {
  interval_start_us_ = clock_.MonotonicUs();
  interval_latency_ms_.reserve(kMaxIntervalSamples);
}

uint64_t Uploader::SlotUs(uint64_t index) const {
  return start_us_ + static_cast<uint64_t>(static_cast<double>(index) * 1e6 / options_.fps);
}

uint64_t Uploader::next_send_us() const {
  if (!started_) return 0;
  return options_.fps > 0 ? std::max(ready_at_us_, SlotUs(next_slot_)) : ready_at_us_;
}

UploadResult Uploader::RunOnce(Camera& camera) {
  uint64_t now = clock_.MonotonicUs();
  const bool paced = options_.fps > 0;
  if (!started_) {
    started_ = true;
    start_us_ = now;
    next_slot_ = 0;
  }
  uint64_t wake = ready_at_us_;
  if (paced) wake = std::max(wake, SlotUs(next_slot_));
  while (now < wake) {
    clock_.SleepUs(wake - now);
    now = clock_.MonotonicUs();
  }
  uint32_t skipped = 0;
  if (paced) {
    // The slot this frame fills is the latest one that has begun; the ones before it since the last are skipped.
    const auto current = static_cast<uint64_t>(static_cast<double>(now - start_us_) * options_.fps / 1e6);
    const uint64_t slot = std::max(current, next_slot_);
    skipped = static_cast<uint32_t>(slot - next_slot_);
    next_slot_ = slot + 1;
    stats_.skipped_slots += skipped;
  }

  FrameView frame;
  if (!camera.Grab(&frame)) {
    UploadResult result;
    result.started_us = now;
    result.finished_us = now;
    result.skipped_slots = skipped;
    ++stats_.no_frame;
    log_.Line("camera: no frame");
    return result;
  }
  UploadResult result = Send(frame.data, frame.size);
  camera.Release();
  result.skipped_slots = skipped;
  if (paced && result.finished_us > SlotUs(next_slot_)) {
    result.late = true;
    ++stats_.late;
  }
  return result;
}

UploadResult Uploader::Send(const uint8_t* jpeg, size_t size) {
  UploadResult result;
  result.started_us = clock_.MonotonicUs();
  const uint64_t deadline = result.started_us + static_cast<uint64_t>(options_.timeout_ms) * 1000;
  const bool reused = transport_.connected();
  bool answer_started = false;
  Outcome outcome = Exchange(jpeg, size, deadline, &answer_started);
  if (reused && !answer_started && outcome == Outcome::kConnectionError) {
    outcome = Exchange(jpeg, size, deadline, &answer_started);
  }
  result.finished_us = clock_.MonotonicUs();
  result.outcome = outcome;
  if (outcome == Outcome::kOk || outcome == Outcome::kHttpError) {
    result.status = parser_.status();
    result.body = parser_.body();
  }
  Record(result);
  return result;
}

uint32_t Uploader::RemainingMs(uint64_t deadline_us) {
  const uint64_t now = clock_.MonotonicUs();
  if (now >= deadline_us) return 0;
  // Round up, so that a few microseconds left still wait for one more millisecond rather than none.
  return static_cast<uint32_t>((deadline_us - now + 999) / 1000);
}

Outcome Uploader::Exchange(const uint8_t* jpeg, size_t size, uint64_t deadline_us, bool* answer_started) {
  *answer_started = false;
  if (!transport_.connected()) {
    const uint32_t remaining = RemainingMs(deadline_us);
    if (remaining == 0) return Outcome::kTimeout;
    if (!transport_.Connect(options_.host.c_str(), options_.port, remaining)) {
      return RemainingMs(deadline_us) == 0 ? Outcome::kTimeout : Outcome::kConnectFailed;
    }
    ++stats_.connections;
  }
  UploadHead head;
  head.path = options_.path;
  head.host = options_.host;
  head.port = options_.port;
  head.device_id = options_.device_id;
  head.api_key = options_.api_key;
  head.has_timestamp = clock_.WallMs(&head.timestamp_ms);
  head.content_length = size;
  const std::string head_bytes = BuildUploadHead(head);
  const bool written =
      transport_.WriteAll(reinterpret_cast<const uint8_t*>(head_bytes.data()), head_bytes.size(),
                          RemainingMs(deadline_us)) &&
      transport_.WriteAll(jpeg, size, RemainingMs(deadline_us));
  if (!written) {
    transport_.Close();
    return RemainingMs(deadline_us) == 0 ? Outcome::kTimeout : Outcome::kConnectionError;
  }

  parser_.Reset();
  uint8_t buffer[kReadChunk];
  for (;;) {
    const uint32_t remaining = RemainingMs(deadline_us);
    if (remaining == 0) {
      transport_.Close();
      return Outcome::kTimeout;
    }
    const int n = transport_.ReadSome(buffer, sizeof buffer, remaining);
    if (n == 0) continue;
    ResponseParser::State state;
    if (n < 0) {
      state = parser_.FeedEof();
      transport_.Close();
    } else {
      *answer_started = true;
      state = parser_.Feed(buffer, static_cast<size_t>(n));
    }
    if (state == ResponseParser::State::kError) {
      transport_.Close();
      char line[96];
      std::snprintf(line, sizeof line, "upload: %s", parser_.error());
      log_.Line(line);
      return Outcome::kConnectionError;
    }
    if (state == ResponseParser::State::kComplete) {
      if (!parser_.keep_alive()) transport_.Close();
      const int status = parser_.status();
      return status >= 200 && status < 300 ? Outcome::kOk : Outcome::kHttpError;
    }
  }
}

void Uploader::Record(UploadResult& result) {
  ++stats_.attempts;
  bool back_off = false;
  switch (result.outcome) {
    case Outcome::kOk:
      ++stats_.ok;
      break;
    case Outcome::kHttpError:
      ++stats_.non_2xx;
      break;
    case Outcome::kTimeout:
      ++stats_.timeouts;
      back_off = true;
      break;
    case Outcome::kConnectFailed:
      ++stats_.connect_failures;
      back_off = true;
      break;
    case Outcome::kConnectionError:
      ++stats_.connection_errors;
      back_off = true;
      break;
    case Outcome::kNoFrame:
      break;
  }
  const bool answered = result.outcome == Outcome::kOk || result.outcome == Outcome::kHttpError;
  if (answered) {
    if (interval_latency_ms_.size() < kMaxIntervalSamples) {
      interval_latency_ms_.push_back(static_cast<uint32_t>(result.latency_us() / 1000));
    }
    const bool busy = result.status == 503 || result.status == 429;
    const long retry_after = parser_.retry_after_s();
    if (busy && retry_after >= 0) {
      const uint64_t wait_s = std::min<uint64_t>(static_cast<uint64_t>(retry_after), options_.retry_after_max_s);
      backoff_ms_ = 0;
      ready_at_us_ = result.finished_us + wait_s * 1000000;
      char line[96];
      std::snprintf(line, sizeof line, "upload: server busy (%d), retry after %u s", result.status,
                    static_cast<unsigned>(wait_s));
      log_.Line(line);
    } else if (busy) {
      back_off = true;
    } else {
      backoff_ms_ = 0;
      ready_at_us_ = 0;
    }
  }
  if (back_off) {
    backoff_ms_ = backoff_ms_ == 0 ? options_.backoff_initial_ms : std::min(backoff_ms_ * 2, options_.backoff_max_ms);
    ready_at_us_ = result.finished_us + static_cast<uint64_t>(backoff_ms_) * 1000;
    char line[128];
    std::snprintf(line, sizeof line, "upload to %s:%u: %s, next try in %u ms", options_.host.c_str(),
                  static_cast<unsigned>(options_.port), OutcomeName(result.outcome), static_cast<unsigned>(backoff_ms_));
    log_.Line(line);
  }
  MaybeLogStats(result.finished_us);
}

void Uploader::MaybeLogStats(uint64_t now_us) {
  if (options_.stats_interval_ms == 0) return;
  const uint64_t elapsed_us = now_us - interval_start_us_;
  if (elapsed_us < static_cast<uint64_t>(options_.stats_interval_ms) * 1000) return;
  const uint64_t attempts = stats_.attempts - interval_base_.attempts;
  const uint64_t ok = stats_.ok - interval_base_.ok;
  uint32_t p50 = 0;
  uint32_t max = 0;
  if (!interval_latency_ms_.empty()) {
    auto middle = interval_latency_ms_.begin() + static_cast<std::ptrdiff_t>(interval_latency_ms_.size() / 2);
    std::nth_element(interval_latency_ms_.begin(), middle, interval_latency_ms_.end());
    p50 = *middle;
    max = *std::max_element(interval_latency_ms_.begin(), interval_latency_ms_.end());
  }
  char line[200];
  std::snprintf(line, sizeof line,
                "stats: %.1f fps, %llu/%llu ok (%.1f %%), %llu timeouts, %llu non-2xx, %llu skipped, latency p50 %u ms "
                "max %u ms",
                static_cast<double>(ok) * 1e6 / static_cast<double>(elapsed_us), static_cast<unsigned long long>(ok),
                static_cast<unsigned long long>(attempts),
                attempts == 0 ? 0.0 : 100.0 * static_cast<double>(ok) / static_cast<double>(attempts),
                static_cast<unsigned long long>(stats_.timeouts - interval_base_.timeouts),
                static_cast<unsigned long long>(stats_.non_2xx - interval_base_.non_2xx),
                static_cast<unsigned long long>(stats_.skipped_slots - interval_base_.skipped_slots),
                static_cast<unsigned>(p50), static_cast<unsigned>(max));
  log_.Line(line);
  interval_start_us_ = now_us;
  interval_base_ = stats_;
  interval_latency_ms_.clear();
}

}  // namespace iotstream::firmware
