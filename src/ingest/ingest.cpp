#include "ingest/ingest.h"

#include <algorithm>
#include <cctype>

#include "core/parse.h"
#include "ingest/jpeg.h"

namespace iotstream::ingest {
namespace {

constexpr size_t kFpsRing = 64;
constexpr size_t kLearnedPauses = 3;

}  // namespace

bool IsValidDeviceId(std::string_view id) {
  if (id.empty() || id.size() > 64 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':';
  });
}

Result<std::string> ResolveDeviceId(const Upload& upload, std::string_view form_device_id) {
  std::string_view id;
  if (!upload.header_device_id.empty()) {
    id = upload.header_device_id;
  } else if (!upload.query_device_id.empty()) {
    id = upload.query_device_id;
  } else if (!form_device_id.empty()) {
    id = form_device_id;
  } else {
    id = upload.remote_address;
  }
  if (!IsValidDeviceId(id)) {
    return Status::InvalidArgument("bad device id '" + std::string(id.substr(0, 80)) +
                                   "': use 1-64 characters of A-Z a-z 0-9 . _ - :");
  }
  return std::string(id);
}

// ---- DeviceRegistry ----

void DeviceRegistry::Restore(std::vector<DeviceRecord> records) {
  std::lock_guard lock(mu_);
  for (auto& r : records) {
    Entry e;
    e.record = std::move(r);
    devices_[e.record.id] = std::move(e);
  }
}

void DeviceRegistry::RecordAccepted(const std::string& id, size_t bytes, int width, int height, int64_t now_ms) {
  bool came_online = false;
  bool added = false;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = devices_.try_emplace(id);
    added = inserted;
    Entry& e = it->second;
    DeviceRecord& r = e.record;
    if (inserted) {
      r.id = id;
      r.first_seen_ms = now_ms;
    }
    // A pause longer than the offline time ends a burst; the last few pauses teach a sparse camera's interval.
    if (r.last_seen_ms == 0 || now_ms - r.last_seen_ms > options_.offline_after_ms) {
      if (r.last_seen_ms > 0 && e.burst_start_ms > 0) {
        e.pauses_ms.push_back(now_ms - r.last_seen_ms);
        if (e.pauses_ms.size() > kLearnedPauses) e.pauses_ms.erase(e.pauses_ms.begin());
      }
      e.burst_start_ms = now_ms;
    }
    r.last_seen_ms = now_ms;
    r.frames_received += 1;
    r.bytes_received += bytes;
    r.last_frame_bytes = bytes;
    r.last_width = width;
    r.last_height = height;
    if (e.recent_ms.size() < kFpsRing) {
      e.recent_ms.push_back(now_ms);
    } else {
      e.recent_ms[e.ring_next] = now_ms;
    }
    e.ring_next = (e.ring_next + 1) % kFpsRing;
    dirty_[id] = true;
    came_online = !e.reported_online;
    e.reported_online = true;
  }
  if (!listener_) return;
  if (added) listener_(id, Change::kAdded, now_ms);
  if (came_online) listener_(id, Change::kOnline, now_ms);
}

void DeviceRegistry::RecordRejected(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  it->second.record.frames_rejected += 1;
  dirty_[id] = true;
}

void DeviceRegistry::CheckOffline(int64_t now_ms) {
  std::vector<std::string> went_offline;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, e] : devices_) {
      if (e.reported_online && !Online(e, now_ms)) {
        e.reported_online = false;
        went_offline.push_back(id);
      }
    }
  }
  if (!listener_) return;
  for (const auto& id : went_offline) listener_(id, Change::kOffline, now_ms);
}

int64_t DeviceRegistry::IntervalMs(const Entry& e, bool* learned) const {
  *learned = false;
  if (e.record.sparse && e.record.expected_interval_ms > 0) return e.record.expected_interval_ms;
  // Learned from at least two pauses that are regular (the longest at most twice the shortest).
  if (e.pauses_ms.size() >= 2) {
    const auto [shortest, longest] = std::minmax_element(e.pauses_ms.begin(), e.pauses_ms.end());
    if (*longest <= 2 * *shortest) {
      *learned = true;
      return *longest;
    }
  }
  return 0;
}

bool DeviceRegistry::Online(const Entry& e, int64_t now_ms) const {
  bool learned = false;
  const int64_t allowed = options_.offline_after_ms + IntervalMs(e, &learned);
  return e.record.last_seen_ms > 0 && now_ms - e.record.last_seen_ms <= allowed;
}

DeviceView DeviceRegistry::ViewOf(const Entry& e, int64_t now_ms) const {
  DeviceView v;
  v.record = e.record;
  v.online = Online(e, now_ms);
  v.interval_ms = IntervalMs(e, &v.interval_learned);
  v.sparse = e.record.sparse || v.interval_learned;
  const uint64_t total = e.record.frames_received + e.record.frames_rejected;
  v.success_rate = total == 0 ? 1.0 : static_cast<double>(e.record.frames_received) / static_cast<double>(total);
  if (v.sparse) {
    // Over its last burst (the ring's frames since the burst began), not over the silence after it.
    size_t in_burst = 0;
    int64_t first = INT64_MAX, last = 0;
    for (int64_t t : e.recent_ms) {
      if (t < e.burst_start_ms) continue;
      ++in_burst;
      first = std::min(first, t);
      last = std::max(last, t);
    }
    if (in_burst >= 2 && last > first) v.fps = static_cast<double>(in_burst - 1) * 1000.0 / static_cast<double>(last - first);
    return v;
  }
  // fps: frames that arrived within the window, over the window (or over the span the ring covers when
  // the ring is full and younger than the window, as at high frame rates).
  size_t in_window = 0;
  int64_t oldest = now_ms;
  for (int64_t t : e.recent_ms) {
    if (now_ms - t <= options_.fps_window_ms) {
      ++in_window;
      oldest = std::min(oldest, t);
    }
  }
  if (in_window > 0) {
    const bool ring_full_in_window = in_window == kFpsRing;
    const double span_ms = ring_full_in_window ? static_cast<double>(std::max<int64_t>(now_ms - oldest, 1))
                                               : static_cast<double>(options_.fps_window_ms);
    v.fps = static_cast<double>(in_window) * 1000.0 / span_ms;
  }
  return v;
}

std::vector<DeviceView> DeviceRegistry::List(int64_t now_ms) const {
  std::vector<DeviceView> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(devices_.size());
    for (const auto& [id, e] : devices_) out.push_back(ViewOf(e, now_ms));
  }
  std::sort(out.begin(), out.end(), [](const DeviceView& a, const DeviceView& b) { return a.record.id < b.record.id; });
  return out;
}

std::optional<DeviceView> DeviceRegistry::Get(const std::string& id, int64_t now_ms) const {
  std::lock_guard lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return std::nullopt;
  return ViewOf(it->second, now_ms);
}

Status DeviceRegistry::Update(const std::string& id, const DeviceUpdate& update) {
  if (update.expected_interval_ms && *update.expected_interval_ms < 0) {
    return Status::InvalidArgument("the expected interval must not be negative");
  }
  std::lock_guard lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return Status::NotFound("no device '" + id + "'");
  DeviceRecord& r = it->second.record;
  if (update.name) r.name = *update.name;
  if (update.location) r.location = *update.location;
  if (update.sparse) r.sparse = *update.sparse;
  if (update.expected_interval_ms) r.expected_interval_ms = *update.expected_interval_ms;
  dirty_[id] = true;
  return Status::Ok();
}

Status DeviceRegistry::Remove(const std::string& id) {
  std::lock_guard lock(mu_);
  if (devices_.erase(id) == 0) return Status::NotFound("no device '" + id + "'");
  dirty_.erase(id);
  return Status::Ok();
}

std::vector<DeviceRecord> DeviceRegistry::TakeDirty() {
  std::lock_guard lock(mu_);
  std::vector<DeviceRecord> out;
  out.reserve(dirty_.size());
  for (const auto& [id, exists] : dirty_) {
    auto it = devices_.find(id);
    if (it != devices_.end()) out.push_back(it->second.record);
  }
  dirty_.clear();
  return out;
}

size_t DeviceRegistry::size() const {
  std::lock_guard lock(mu_);
  return devices_.size();
}

size_t DeviceRegistry::online(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(
      std::count_if(devices_.begin(), devices_.end(), [&](const auto& kv) { return Online(kv.second, now_ms); }));
}

// ---- Ingestor ----

Ingestor::Ingestor(Options options, DeviceRegistry& registry, Metrics& metrics, uint64_t first_frame_id)
    : options_(options),
      registry_(registry),
      next_id_(first_frame_id),
      accepted_(metrics.counter("ingest_frames_accepted_total", "frames that passed validation")),
      rejected_(metrics.counter("ingest_frames_rejected_total", "uploads refused as bad input")),
      accepted_bytes_(metrics.counter("ingest_bytes_accepted_total", "JPEG bytes of accepted frames")),
      over_limit_(metrics.counter("ingest_multipart_over_limit_total",
                                  "multipart uploads refused over the part count or part header limit")) {}

Result<FramePtr> Ingestor::Accept(Upload&& upload, int64_t now_ms) {
  size_t offset = 0;
  size_t size = 0;
  std::string_view form_device_id;
  std::string_view form_timestamp;
  Status failure;
  auto found = FindImage(upload.body, upload.content_type, ImageKind::kJpeg, options_.multipart);
  if (found.ok()) {
    const UploadedImage& image = found.value();
    // An empty part may view no memory at all: it is checked (and refused) as an empty image at offset 0.
    offset = image.image.empty() ? 0 : static_cast<size_t>(image.image.data() - upload.body.data());
    size = image.image.size();
    form_device_id = image.Field("device_id");
    form_timestamp = image.Field("timestamp");
  } else {
    failure = found.status();
    if (failure.IsTooLarge()) over_limit_.Add();
  }

  auto device = ResolveDeviceId(upload, form_device_id);
  if (failure.ok() && !device.ok()) failure = device.status();

  JpegInfo info;
  if (failure.ok()) {
    auto inspected = InspectJpeg(std::string_view(upload.body).substr(offset, size));
    if (inspected.ok()) {
      info = inspected.value();
    } else {
      failure = inspected.status();
    }
  }
  if (!failure.ok()) {
    rejected_.Add();
    if (device.ok()) registry_.RecordRejected(device.value());
    return failure;
  }

  Frame::Meta meta;
  meta.id = next_id_.fetch_add(1, std::memory_order_relaxed);
  meta.device_id = std::move(device).value();
  meta.received_ts_ms = now_ms;
  meta.capture_ts_ms = now_ms;
  for (std::string_view ts : {std::string_view(upload.header_timestamp), std::string_view(upload.query_timestamp),
                              form_timestamp}) {
    if (ts.empty()) continue;
    // Compared as a range: *ms - now_ms overflows for a time near the ends of int64 (found by fuzz/upload_fields).
    const int64_t skew = options_.max_clock_skew_ms;
    if (auto ms = ParseInt(ts); ms && *ms >= now_ms - skew && *ms <= now_ms + skew) meta.capture_ts_ms = *ms;
    break;
  }
  meta.width = info.width;
  meta.height = info.height;
  registry_.RecordAccepted(meta.device_id, size, info.width, info.height, now_ms);
  accepted_.Add();
  accepted_bytes_.Add(size);
  return FramePtr(std::make_shared<const Frame>(std::move(meta), std::move(upload.body), offset, size));
}

Ingestor::Stats Ingestor::stats() const {
  return {accepted_.value(), rejected_.value(), accepted_bytes_.value()};
}

}  // namespace iotstream::ingest
