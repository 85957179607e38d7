#include "events/schema.h"

#include <cmath>

namespace iotstream::events {

using nlohmann::json;

namespace {

EventPtr MakeEvent(const char* event_type, std::string device_id, const json& message) {
  return std::make_shared<const Event>(Event{event_type, std::move(device_id), message.dump()});
}

}  // namespace

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

json EventJson(const store::EventRecord& e) {
  return json{{"id", e.id},
              {"type", e.type},
              {"ts", e.ts_ms},
              {"device_id", e.device_id},
              {"frame_id", e.frame_id},
              {"person_id", e.person_id ? json(*e.person_id) : json(nullptr)},
              {"name", e.type == type::kPersonRecognised ? json(e.name) : json(nullptr)},
              {"distance", e.distance},
              {"box", {{"x", e.box_x}, {"y", e.box_y}, {"w", e.box_w}, {"h", e.box_h}}},
              {"thumbnail_url", e.has_thumbnail ? json("/api/v1/events/" + std::to_string(e.id) + "/thumbnail.jpg")
                                                : json(nullptr)},
              {"feedback", e.feedback_correct ? json(*e.feedback_correct ? "correct" : "wrong") : json(nullptr)}};
}

std::string HelloMessage(const std::vector<ingest::DeviceView>& devices) {
  json hello = DeviceListJson(devices);
  hello["type"] = type::kHello;
  return hello.dump();
}

EventPtr DeviceStateEvent(const std::string& device_id, bool online, int64_t ts_ms) {
  const char* t = online ? type::kDeviceOnline : type::kDeviceOffline;
  return MakeEvent(t, device_id, json{{"type", t}, {"device_id", device_id}, {"ts", ts_ms}});
}

EventPtr DeviceUpdatedEvent(const ingest::DeviceView& device) {
  return MakeEvent(type::kDeviceUpdated, device.record.id,
                   json{{"type", type::kDeviceUpdated}, {"device", DeviceJson(device)}});
}

EventPtr DeviceRemovedEvent(const std::string& device_id, int64_t ts_ms) {
  return MakeEvent(type::kDeviceRemoved, device_id,
                   json{{"type", type::kDeviceRemoved}, {"device_id", device_id}, {"ts", ts_ms}});
}

EventPtr RecognitionEvent(const store::EventRecord& event, int64_t frame_received_ms) {
  json message = EventJson(event);
  message["frame_received_at"] = frame_received_ms;
  const char* t = event.type == type::kPersonRecognised ? type::kPersonRecognised : type::kUnknownFace;
  return MakeEvent(t, event.device_id, message);
}

}  // namespace iotstream::events
