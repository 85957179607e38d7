#include "events/schema.h"

#include <cmath>

namespace iotstream::events {

using nlohmann::json;

namespace {

store::EventRecord Logged(const char* event_type, std::string device_id, int64_t ts_ms, json message) {
  store::EventRecord e;
  e.type = event_type;
  e.device_id = std::move(device_id);
  e.ts_ms = ts_ms;
  message["type"] = event_type;
  message["ts"] = ts_ms;
  e.message = message.dump();
  return e;
}

void AddCamera(json* message, const std::string& device_id, const ingest::DeviceView* device) {
  (*message)["device_id"] = device_id;
  (*message)["camera_name"] = device && !device->record.name.empty() ? device->record.name : device_id;
  (*message)["location"] = device ? device->record.location : "";
}

double Rounded(double distance) { return std::isfinite(distance) ? std::round(distance * 1e4) / 1e4 : -1.0; }

// A recognition event's message rebuilt from its columns, for rows logged before messages were kept.
json LegacyRecognitionJson(const store::EventRecord& e) {
  return json{{"type", e.type},
              {"ts", e.ts_ms},
              {"device_id", e.device_id},
              {"frame_id", e.frame_id},
              {"person_id", e.person_id ? json(*e.person_id) : json(nullptr)},
              {"name", e.type == type::kPersonRecognised ? json(e.name) : json(nullptr)},
              {"distance", e.distance},
              {"box", {{"x", e.box_x}, {"y", e.box_y}, {"w", e.box_w}, {"h", e.box_h}}}};
}

constexpr const char* kLoggedTypes[] = {
    type::kDeviceAdded,   type::kDeviceOnline,     type::kDeviceOffline, type::kDeviceUpdated, type::kDeviceRemoved,
    type::kPersonRecognised, type::kUnknownFace,   type::kPersonLeft,    type::kAppearanceEnded,
    type::kStoragePressure, type::kPersonAdded,    type::kPersonUpdated, type::kPersonRemoved};
}  // namespace

bool IsLoggedType(std::string_view t) {
  for (const char* k : kLoggedTypes) {
    if (t == k) return true;
  }
  return false;
}

std::string LoggedTypeList() {
  std::string out;
  for (const char* k : kLoggedTypes) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

json DeviceJson(const ingest::DeviceView& v) {
  const auto& r = v.record;
  return json{{"id", r.id},
              {"device_id", r.id},
              {"name", r.name.empty() ? r.id : r.name},
              {"location", r.location},
              {"first_seen", r.first_seen_ms},
              {"last_seen", r.last_seen_ms},
              {"online", v.online},
              {"status", v.online ? "online" : "offline"},
              {"fps", std::round(v.fps * 100) / 100},
              {"frames_received", r.frames_received},
              {"bytes_received", r.bytes_received},
              {"frames_rejected", r.frames_rejected},
              {"success_rate", std::round(v.success_rate * 10000) / 10000},
              {"last_frame_size", r.last_frame_bytes},
              {"resolution", {{"width", r.last_width}, {"height", r.last_height}}},
              {"sparse", v.sparse},
              {"sparse_marked", r.sparse},
              {"expected_interval_s", v.interval_ms > 0 ? json(static_cast<double>(v.interval_ms) / 1000.0) : json(nullptr)},
              {"interval_learned", v.interval_learned}};
}

json DeviceListJson(const std::vector<ingest::DeviceView>& devices) {
  json list = json::array();
  size_t online = 0;
  for (const auto& v : devices) {
    online += v.online ? 1 : 0;
    list.push_back(DeviceJson(v));
  }
  return json{{"devices", std::move(list)}, {"total", devices.size()}, {"online", online}};
}

std::string HelloMessage(const std::vector<ingest::DeviceView>& devices) {
  json hello = DeviceListJson(devices);
  hello["type"] = type::kHello;
  return hello.dump();
}

store::EventRecord DeviceEvent(const char* event_type, const std::string& device_id, int64_t ts_ms,
                               const ingest::DeviceView* device) {
  json message;
  AddCamera(&message, device_id, device);
  return Logged(event_type, device_id, ts_ms, std::move(message));
}

store::EventRecord DeviceUpdatedEvent(const ingest::DeviceView& device, int64_t ts_ms) {
  return Logged(type::kDeviceUpdated, device.record.id, ts_ms,
                json{{"device_id", device.record.id}, {"device", DeviceJson(device)}});
}

std::string FrameUrl(const std::string& device_id, uint64_t frame_id, const std::string& node) {
  std::string url = "/api/v1/devices/" + device_id + "/frames/" + std::to_string(frame_id);
  if (!node.empty()) url += "?node=" + node;
  return url;
}

void CompleteRecognitionEvent(store::EventRecord* e, const Frame::Meta& frame, const ingest::DeviceView* device,
                              const std::string& frame_node) {
  std::string frame_url = FrameUrl(e->device_id, e->frame_id, frame_node);
  if (e->type != type::kPersonRecognised) e->type = type::kUnknownFace;
  json message{{"frame_id", e->frame_id},
               {"person_id", e->person_id ? json(*e->person_id) : json(nullptr)},
               {"name", e->type == type::kPersonRecognised ? json(e->name) : json(nullptr)},
               {"distance", Rounded(e->distance)},
               {"box", {{"x", e->box_x}, {"y", e->box_y}, {"w", e->box_w}, {"h", e->box_h}}},
               {"frame_ts", frame.capture_ts_ms},
               {"frame_received_at", frame.received_ts_ms},
               {"latency_ms", e->ts_ms - frame.received_ts_ms},
               {"frame_url", std::move(frame_url)}};
  AddCamera(&message, e->device_id, device);
  message["type"] = e->type;
  message["ts"] = e->ts_ms;
  e->distance = Rounded(e->distance);
  e->message = message.dump();
}

store::EventRecord PersonLeftEvent(int64_t person_id, const std::string& name, const std::string& device_id,
                                   int64_t last_seen_ms, int64_t ts_ms) {
  store::EventRecord e = Logged(type::kPersonLeft, "", ts_ms,
                                json{{"person_id", person_id},
                                     {"name", name},
                                     {"device_id", device_id},
                                     {"last_seen", last_seen_ms}});
  e.person_id = person_id;
  e.name = name;
  return e;
}

store::EventRecord AppearanceEndedEvent(const std::string& device_id, const ingest::DeviceView* device,
                                        std::optional<int64_t> person_id, const std::string& name,
                                        int64_t first_seen_ms, int64_t last_seen_ms, int64_t ts_ms) {
  json message{{"person_id", person_id ? json(*person_id) : json(nullptr)},
               {"name", person_id ? json(name) : json(nullptr)},
               {"event_id", nullptr},
               {"first_seen", first_seen_ms},
               {"last_seen", last_seen_ms},
               {"duration_ms", last_seen_ms - first_seen_ms}};
  AddCamera(&message, device_id, device);
  store::EventRecord e = Logged(type::kAppearanceEnded, device_id, ts_ms, std::move(message));
  e.person_id = person_id;
  if (person_id) e.name = name;
  return e;
}

void SetAppearanceEvent(store::EventRecord* appearance_ended, int64_t event_id) {
  json message = json::parse(appearance_ended->message, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) return;  // not one AppearanceEndedEvent built
  message["event_id"] = event_id;
  appearance_ended->message = message.dump();
}

store::EventRecord PersonEvent(const char* event_type, int64_t person_id, const std::string& name,
                               const std::string& previous_name, int64_t ts_ms) {
  json message{{"person_id", person_id}, {"name", name}};
  if (std::string_view(event_type) == type::kPersonUpdated) message["previous_name"] = previous_name;
  store::EventRecord e = Logged(event_type, "", ts_ms, std::move(message));
  e.person_id = person_id;
  e.name = name;
  return e;
}

store::EventRecord StoragePressureEvent(const std::string& reason, uint64_t frames_dropped, uint64_t bytes,
                                        uint64_t budget_bytes, int64_t ts_ms) {
  return Logged(type::kStoragePressure, "", ts_ms,
                json{{"reason", reason}, {"frames_dropped", frames_dropped}, {"bytes", bytes},
                     {"budget_bytes", budget_bytes}});
}

json EventJson(const store::EventRecord& e) {
  json j = e.message.empty() ? LegacyRecognitionJson(e) : json::parse(e.message, nullptr, false);
  if (!j.is_object()) j = json{{"type", e.type}, {"ts", e.ts_ms}};
  j["id"] = e.id;
  if (e.type == type::kPersonRecognised || e.type == type::kUnknownFace) {
    j["thumbnail_url"] = e.has_thumbnail ? json("/api/v1/events/" + std::to_string(e.id) + "/thumbnail.jpg")
                                         : json(nullptr);
    j["feedback"] = e.feedback_correct ? json(*e.feedback_correct ? "correct" : "wrong") : json(nullptr);
  }
  return j;
}

EventPtr ToEvent(const store::EventRecord& event) {
  const json j = EventJson(event);
  const auto received = j.find("frame_received_at");
  const int64_t received_ms = received != j.end() && received->is_number_integer() ? received->get<int64_t>() : 0;
  return std::make_shared<const Event>(Event{event.type, event.device_id, j.dump(), received_ms});
}

}  // namespace iotstream::events
