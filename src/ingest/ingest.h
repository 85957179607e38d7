// Ingest: turns an uploaded body into a validated, immutable Frame and keeps the device registry. The frame
// then goes to its consumers through core's FrameHandOff, which the caller drives.
//
// Nothing here blocks: validation is a header parse and the registry is an in-memory map, so Accept() may run
// on HTTP I/O threads.
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
#include "ingest/multipart.h"

namespace iotstream::ingest {

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
  double fps = 0;            // accepted frames per second: over the last few seconds, or a sparse camera's last burst
  double success_rate = 1;   // accepted / (accepted + rejected)
  bool sparse = false;       // marked sparse, or learned to be from its bursts
  int64_t interval_ms = 0;   // a sparse camera's time between bursts (given, else learned); 0 when unknown
  bool interval_learned = false;
};

// What PATCH may change about a device; nullopt leaves a field as it is.
struct DeviceUpdate {
  std::optional<std::string> name = std::nullopt;
  std::optional<std::string> location = std::nullopt;
  std::optional<bool> sparse = std::nullopt;
  std::optional<int64_t> expected_interval_ms = std::nullopt;  // >= 0; 0: learn it
};

// Devices known to the server, and when each comes online and goes offline.
//
// A camera is offline after offline_after_ms without a frame. A sparse camera (battery, PIR: a burst, then sleep
// for minutes) is offline only once it misses its interval by that much: the interval is the one it was given, or
// learned once it has slept at least twice with regular pauses (the longest of the last three). A camera whose
// pauses are regular is treated as sparse without being marked.
//
// Thread-safety: every method may be called from any thread; each takes the registry lock briefly. The state
// listener runs outside the lock, on the thread that called RecordAccepted or CheckOffline.
class DeviceRegistry {
 public:
  struct Options {
    int64_t offline_after_ms = 10'000;  // a device with no frame for this long is offline
    int64_t fps_window_ms = 5'000;      // fps is measured over this trailing window
  };
  // What the listener is told: a device sent its first frame ever (kAdded, then kOnline), came online (its first
  // frame after being offline; ts = that frame's arrival) or went offline (ts = when CheckOffline noticed).
  enum class Change { kAdded, kOnline, kOffline };
  using StateListener = std::function<void(const std::string& device_id, Change change, int64_t ts_ms)>;

  explicit DeviceRegistry(Options options) : options_(options) {}

  // REQUIRES: called before the first RecordAccepted; the listener must be quick and must not call back in.
  void SetStateListener(StateListener listener) { listener_ = std::move(listener); }
  // Loads records saved by the store (at start, before serving). Restored devices count as offline until they send.
  void Restore(std::vector<DeviceRecord> records);
  void RecordAccepted(const std::string& id, size_t bytes, int width, int height, int64_t now_ms);
  // Counts a rejected upload against `id`, registering nothing new: unknown ids are ignored.
  void RecordRejected(const std::string& id);
  // Tells the listener about every device that has gone offline since it was last seen online. Call periodically.
  void CheckOffline(int64_t now_ms);

  std::vector<DeviceView> List(int64_t now_ms) const;
  std::optional<DeviceView> Get(const std::string& id, int64_t now_ms) const;
  // NotFound if unknown; InvalidArgument for a negative interval; otherwise applies the fields given.
  Status Update(const std::string& id, const DeviceUpdate& update);
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
    int64_t burst_start_ms = 0;      // arrival of the first frame after the last long pause
    std::vector<int64_t> pauses_ms;  // the last few long pauses (> offline_after_ms), oldest first
    bool reported_online = false;    // what the listener was last told
  };
  DeviceView ViewOf(const Entry& e, int64_t now_ms) const;
  bool Online(const Entry& e, int64_t now_ms) const;
  // The interval between bursts: given, else learned from regular pauses; 0 when not sparse.
  int64_t IntervalMs(const Entry& e, bool* learned) const;

  const Options options_;
  StateListener listener_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> devices_;  // guarded by mu_
  std::unordered_map<std::string, bool> dirty_;     // guarded by mu_; id -> still exists
};

// The ingest pipeline front. Thread-safe.
class Ingestor {
 public:
  struct Options {
    int64_t max_clock_skew_ms = 24LL * 3600 * 1000;  // camera timestamps further off than this are ignored
    MultipartLimits multipart;                        // bounds of a multipart upload (413 beyond them)
  };
  // `first_frame_id`: ids continue from here (the store says where the last run ended).
  Ingestor(Options options, DeviceRegistry& registry, Metrics& metrics, uint64_t first_frame_id);

  // Validates the upload and builds its frame, registering the device. On failure no frame is built,
  // the device's rejected count rises (when the device is known) and the Status says why:
  // Unsupported (wrong content type), InvalidArgument (no image, bad JPEG, bad device id), TooLarge (a multipart
  // body over Options::multipart, also counted in ingest_multipart_over_limit_total).
  Result<FramePtr> Accept(Upload&& upload, int64_t now_ms);

  struct Stats {
    uint64_t accepted;        // frames that passed validation
    uint64_t rejected;        // uploads refused as bad input
    uint64_t accepted_bytes;  // JPEG bytes of accepted frames
  };
  Stats stats() const;

 private:
  const Options options_;
  DeviceRegistry& registry_;
  std::atomic<uint64_t> next_id_;
  Counter& accepted_;
  Counter& rejected_;
  Counter& accepted_bytes_;
  Counter& over_limit_;
};

}  // namespace iotstream::ingest
