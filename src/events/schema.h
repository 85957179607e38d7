// The event schema: every event type iotstream sends and its JSON, defined once. /ws viewers, the events API and
// every later output (MQTT, webhooks) get the same message from these builders. Stateless and thread-safe.
//
//   hello              {"type","devices":[device...],"total","online"}      first /ws message (not an event)
//   device_online      {"type","device_id","ts"}                           a camera started sending
//   device_offline     {"type","device_id","ts"}                           no frame for --device-offline-s
//   device_updated     {"type","device":device}                            renamed or moved
//   device_removed     {"type","device_id","ts"}                           deleted with its footage
//   person_recognised  {"type","id","ts","device_id","frame_id","person_id","name","distance","box",
//                       "thumbnail_url","feedback","frame_received_at"}    an enrolled person was seen
//   unknown_face       as person_recognised, "name" null, "person_id" the nearest person (not a match)
// `device` is the object GET /api/v1/devices/{id} answers; times are ms since the epoch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "ingest/ingest.h"
#include "store/records.h"

namespace iotstream::events {

namespace type {
inline constexpr char kHello[] = "hello";
inline constexpr char kDeviceOnline[] = "device_online";
inline constexpr char kDeviceOffline[] = "device_offline";
inline constexpr char kDeviceUpdated[] = "device_updated";
inline constexpr char kDeviceRemoved[] = "device_removed";
inline constexpr char kPersonRecognised[] = "person_recognised";
inline constexpr char kUnknownFace[] = "unknown_face";
}  // namespace type

// A device as the devices API shows it.
nlohmann::json DeviceJson(const ingest::DeviceView& device);
// {"devices":[...],"total":n,"online":m}, as GET /api/v1/devices answers.
nlohmann::json DeviceListJson(const std::vector<ingest::DeviceView>& devices);
// A stored recognition event, as the events API shows it.
nlohmann::json EventJson(const store::EventRecord& event);

// The hello message's text.
std::string HelloMessage(const std::vector<ingest::DeviceView>& devices);

EventPtr DeviceStateEvent(const std::string& device_id, bool online, int64_t ts_ms);
EventPtr DeviceUpdatedEvent(const ingest::DeviceView& device);
EventPtr DeviceRemovedEvent(const std::string& device_id, int64_t ts_ms);
// A stored recognition event as it is pushed live: EventJson plus the frame's arrival time.
EventPtr RecognitionEvent(const store::EventRecord& event, int64_t frame_received_ms);

}  // namespace iotstream::events
