// Ingest: turns an uploaded body into a validated, immutable Frame, keeps the device registry, and hands
// each frame to the sinks (storage now; live view and recognition plug in through the same interface).
//
// Nothing here blocks: validation is a header parse, the registry is an in-memory map, and sinks promise
// not to block in Offer(). So Accept()/Publish() may run on HTTP I/O threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/device.h"
#include "core/frame.h"
#include "core/metrics.h"
#include "core/status.h"

namespace iotstream::ingest {

// Called exactly once, from any thread, when a sink is done with a frame it was asked to report on:
// OK when done (e.g. durably stored), Unavailable when it dropped the frame (e.g. queue full).
using DoneCallback = std::function<void(Status)>;

// A consumer of frames. Implementations are thread-safe and Offer() never blocks: a sink that cannot
// take a frame drops it, counts the drop, and (when `done` is set) reports Unavailable through it.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // `done` may be empty (the fast path does not wait).
  virtual void Offer(const FramePtr& frame, DoneCallback done) = 0;
};

// What a client sent, as the HTTP layer saw it. The body is moved into the frame (no copy).
struct Upload {
  std::string body;
  std::string content_type;
  std::string header_device_id;   // X-Device-ID
  std::string query_device_id;    // ?device_id=
  std::string header_timestamp;   // X-Frame-Timestamp, ms since epoch
  std::string query_timestamp;    // ?timestamp=
  std::string remote_address;     // fallback device id
};

// True for ids the store can use as a folder name: 1-64 of [A-Za-z0-9._:-], not "." or "..".
bool IsValidDeviceId(std::string_view id);

// Picks the device id of an upload: header, else query, else form field, else the peer address.
// `form_device_id` is empty when the upload was not multipart or had no such field.
// InvalidArgument when the chosen id is not valid (the first non-empty source decides).
Result<std::string> ResolveDeviceId(const Upload& upload, std::string_view form_device_id);

// A snapshot of one device, with its live figures derived at the time of the call.
struct DeviceView {
  DeviceRecord record;
  bool online = false;
  double fps = 0;            // accepted frames per second over the last few seconds
  double success_rate = 1;   // accepted / (accepted + rejected)
};

// Devices known to the server. Thread-safe; every method takes the registry lock briefly.
class DeviceRegistry {
 public:
  struct Options {
    int64_t offline_after_ms = 10'000;  // a device with no frame for this long is offline
    int64_t fps_window_ms = 5'000;      // fps is measured over this trailing window
  };
  explicit DeviceRegistry(Options options) : options_(options) {}

  // Loads records saved by the store (at start, before serving).
  void Restore(std::vector<DeviceRecord> records);
  void RecordAccepted(const std::string& id, size_t bytes, int width, int height, int64_t now_ms);
  // Counts a rejected upload against `id`, registering nothing new: unknown ids are ignored.
  void RecordRejected(const std::string& id);

  std::vector<DeviceView> List(int64_t now_ms) const;
  std::optional<DeviceView> Get(const std::string& id, int64_t now_ms) const;
  // NotFound if unknown; otherwise sets the fields given (nullopt leaves a field unchanged).
  Status Update(const std::string& id, const std::optional<std::string>& name,
                const std::optional<std::string>& location);
  // NotFound if unknown.
  Status Remove(const std::string& id);
  // Records changed since the last call (for the store to persist); clears the dirty set.
  std::vector<DeviceRecord> TakeDirty();
  size_t size() const;
  size_t online(int64_t now_ms) const;

 private:
  struct Entry {
    DeviceRecord record;
    std::vector<int64_t> recent_ms;  // ring of recent arrival times, for fps
    size_t ring_next = 0;
  };
  DeviceView ViewOf(const Entry& e, int64_t now_ms) const;

  const Options options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> devices_;  // guarded by mu_
  std::unordered_map<std::string, bool> dirty_;     // guarded by mu_; id -> still exists
};

// The ingest pipeline front. Thread-safe.
class Ingestor {
 public:
  struct Options {
    int64_t max_clock_skew_ms = 24LL * 3600 * 1000;  // camera timestamps further off than this are ignored
  };
  // `first_frame_id`: ids continue from here (the store says where the last run ended).
  Ingestor(Options options, DeviceRegistry& registry, Metrics& metrics, uint64_t first_frame_id);

  // REQUIRES: called before the first Accept; sinks outlive the Ingestor. `wait_on_stream`: the stream
  // path waits for this sink's DoneCallback before answering.
  void AddSink(FrameSink* sink, bool wait_on_stream);

  // Validates the upload and builds its frame, registering the device. On failure nothing is published,
  // the device's rejected count rises (when the device is known) and the Status says why:
  // Unsupported (wrong content type), InvalidArgument (no image, bad JPEG, bad device id).
  Result<FramePtr> Accept(Upload&& upload, int64_t now_ms);

  // Offers the frame to every sink without waiting (the fast path).
  void Publish(const FramePtr& frame);
  // Offers the frame to every sink; `done` runs once every waited-on sink reported, with the first
  // non-OK status among them (or OK).
  void PublishAndWait(const FramePtr& frame, DoneCallback done);

 private:
  struct SinkEntry {
    FrameSink* sink;
    bool wait;
  };
  const Options options_;
  DeviceRegistry& registry_;
  std::vector<SinkEntry> sinks_;
  std::atomic<uint64_t> next_id_;
  Counter& accepted_;
  Counter& rejected_;
  Counter& accepted_bytes_;
};

}  // namespace iotstream::ingest
