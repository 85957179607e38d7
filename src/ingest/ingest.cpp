#include "ingest/ingest.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "ingest/jpeg.h"
#include "ingest/multipart.h"

namespace iotstream::ingest {
namespace {

constexpr size_t kFpsRing = 64;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int64_t> ParseMs(std::string_view text) {
  int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

// The media type without parameters, lower-cased.
std::string MediaType(std::string_view content_type) {
  const size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return Lower(t);
}

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
  std::lock_guard lock(mu_);
  auto [it, inserted] = devices_.try_emplace(id);
  Entry& e = it->second;
  DeviceRecord& r = e.record;
  if (inserted) {
    r.id = id;
    r.first_seen_ms = now_ms;
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
}

void DeviceRegistry::RecordRejected(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  it->second.record.frames_rejected += 1;
  dirty_[id] = true;
}

DeviceView DeviceRegistry::ViewOf(const Entry& e, int64_t now_ms) const {
  DeviceView v;
  v.record = e.record;
  v.online = e.record.last_seen_ms > 0 && now_ms - e.record.last_seen_ms <= options_.offline_after_ms;
  const uint64_t total = e.record.frames_received + e.record.frames_rejected;
  v.success_rate = total == 0 ? 1.0 : static_cast<double>(e.record.frames_received) / static_cast<double>(total);
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

Status DeviceRegistry::Update(const std::string& id, const std::optional<std::string>& name,
                              const std::optional<std::string>& location) {
  std::lock_guard lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return Status::NotFound("no device '" + id + "'");
  if (name) it->second.record.name = *name;
  if (location) it->second.record.location = *location;
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
  size_t n = 0;
  for (const auto& [id, e] : devices_) {
    if (e.record.last_seen_ms > 0 && now_ms - e.record.last_seen_ms <= options_.offline_after_ms) ++n;
  }
  return n;
}

// ---- Ingestor ----

Ingestor::Ingestor(Options options, DeviceRegistry& registry, Metrics& metrics, uint64_t first_frame_id)
    : options_(options),
      registry_(registry),
      next_id_(first_frame_id),
      accepted_(metrics.counter("ingest_frames_accepted_total", "frames that passed validation")),
      rejected_(metrics.counter("ingest_frames_rejected_total", "uploads refused as bad input")),
      accepted_bytes_(metrics.counter("ingest_bytes_accepted_total", "JPEG bytes of accepted frames")) {}

void Ingestor::AddSink(FrameSink* sink, bool wait_on_stream) { sinks_.push_back({sink, wait_on_stream}); }

Result<FramePtr> Ingestor::Accept(Upload&& upload, int64_t now_ms) {
  const std::string media = MediaType(upload.content_type);
  size_t offset = 0;
  size_t size = upload.body.size();
  std::string form_device_id;
  std::string form_timestamp;
  Status failure;

  if (media == "multipart/form-data") {
    auto boundary = MultipartBoundary(upload.content_type);
    auto parts = boundary.ok() ? ParseMultipart(upload.body, boundary.value())
                               : Result<std::vector<FormPart>>(boundary.status());
    if (!parts.ok()) {
      failure = parts.status();
    } else {
      const FormPart* image = nullptr;
      for (const auto& p : parts.value()) {
        if (p.name == "device_id") form_device_id = std::string(p.data);
        if (p.name == "timestamp") form_timestamp = std::string(p.data);
      }
      for (const char* field : {"image", "file", "frame"}) {
        for (const auto& p : parts.value()) {
          if (image == nullptr && p.name == field) image = &p;
        }
      }
      if (image == nullptr) {
        failure = Status::InvalidArgument("multipart upload has no 'image' (or 'file', 'frame') field");
      } else {
        offset = static_cast<size_t>(image->data.data() - upload.body.data());
        size = image->data.size();
      }
    }
  } else if (media != "image/jpeg" && media != "application/octet-stream" && media != "image/jpg") {
    failure = Status::Unsupported("content type '" + upload.content_type +
                                  "' not accepted: send image/jpeg, application/octet-stream or multipart/form-data");
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
  for (const std::string* ts : {&upload.header_timestamp, &upload.query_timestamp, &form_timestamp}) {
    if (ts->empty()) continue;
    if (auto ms = ParseMs(*ts); ms && std::llabs(*ms - now_ms) <= options_.max_clock_skew_ms) meta.capture_ts_ms = *ms;
    break;
  }
  meta.width = info.width;
  meta.height = info.height;
  registry_.RecordAccepted(meta.device_id, size, info.width, info.height, now_ms);
  accepted_.Add();
  accepted_bytes_.Add(size);
  return FramePtr(std::make_shared<const Frame>(std::move(meta), std::move(upload.body), offset, size));
}

void Ingestor::Publish(const FramePtr& frame) {
  for (const auto& s : sinks_) s.sink->Offer(frame, nullptr);
}

void Ingestor::PublishAndWait(const FramePtr& frame, DoneCallback done) {
  struct Join {
    std::mutex mu;
    size_t pending;
    Status first_error;
    DoneCallback done;
  };
  size_t waited = 0;
  for (const auto& s : sinks_) waited += s.wait ? 1 : 0;
  if (waited == 0) {
    Publish(frame);
    done(Status::Ok());
    return;
  }
  auto join = std::make_shared<Join>();
  join->pending = waited;
  join->done = std::move(done);
  for (const auto& s : sinks_) {
    if (!s.wait) {
      s.sink->Offer(frame, nullptr);
      continue;
    }
    s.sink->Offer(frame, [join](Status st) {
      DoneCallback fire;
      Status result;
      {
        std::lock_guard lock(join->mu);
        if (!st.ok() && join->first_error.ok()) join->first_error = st;
        if (--join->pending == 0) {
          fire = std::move(join->done);
          result = join->first_error;
        }
      }
      if (fire) fire(result);
    });
  }
}

}  // namespace iotstream::ingest
