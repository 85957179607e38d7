// The event schema: every event type iotstream sends and its JSON, defined once. /ws viewers, the events API and
// every other output (MQTT, webhooks) get the same message from these builders, and the event log keeps it.
// Stateless and thread-safe. Times are ms since the epoch; `device` is what GET /api/v1/devices/{id} answers.
//
//   hello              {type, devices:[device...], total, online}                first /ws message (not logged)
//   every logged event {id, type, ts, ...}; `id` increases (GET /api/v1/events?since_id=)
//   device_added       {device_id, camera_name, location}                       a camera's first frame ever
//   device_online      {device_id, camera_name, location}                       it started sending
//   device_offline     {device_id, camera_name, location}                       no frame for its offline time
//   device_updated     {device_id, device}                                      renamed, moved, marked sparse
//   device_removed     {device_id}                                              deleted with its footage
//   person_recognised  {device_id, camera_name, location, person_id, name, distance, box {x,y,w,h}, frame_id,
//                       frame_ts, frame_received_at, latency_ms, frame_url, thumbnail_url, feedback}
//   unknown_face       as person_recognised; name null, person_id the nearest person (not a match)
//   person_left        {person_id, name, device_id (where last seen), last_seen}  not seen for --presence-timeout-s
//   appearance_ended   {device_id, camera_name, location, person_id, name, event_id, first_seen, last_seen,
//                       duration_ms}  a tracked face left the camera's view (not seen for 2 s); person_id and name
//                       null for a stranger, event_id the appearance's recognition event (null: it was folded into
//                       an earlier one of the same person)
//   storage_pressure   {reason: "queue_full"|"write_failed"|"disk_budget", frames_dropped, bytes, budget_bytes}
//   person_added       {person_id, name}                                        enrolled with a first face
//   person_updated     {person_id, name, previous_name}                         renamed
//   person_removed     {person_id, name}                                        deleted with their faces
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event.h"
#include "core/frame.h"
#include "ingest/ingest.h"
#include "store/records.h"

namespace iotstream::events {

namespace type {
inline constexpr char kHello[] = "hello";
inline constexpr char kDeviceAdded[] = "device_added";
inline constexpr char kDeviceOnline[] = "device_online";
inline constexpr char kDeviceOffline[] = "device_offline";
inline constexpr char kDeviceUpdated[] = "device_updated";
inline constexpr char kDeviceRemoved[] = "device_removed";
inline constexpr char kPersonRecognised[] = "person_recognised";
inline constexpr char kUnknownFace[] = "unknown_face";
inline constexpr char kPersonLeft[] = "person_left";
inline constexpr char kAppearanceEnded[] = "appearance_ended";
inline constexpr char kStoragePressure[] = "storage_pressure";
inline constexpr char kPersonAdded[] = "person_added";
inline constexpr char kPersonUpdated[] = "person_updated";
inline constexpr char kPersonRemoved[] = "person_removed";
}  // namespace type

// Whether `t` names a kind of event the log keeps (every kind above but hello).
bool IsLoggedType(std::string_view t);
// Those kinds, comma-separated, for error messages.
std::string LoggedTypeList();

// A device as the devices API shows it.
nlohmann::json DeviceJson(const ingest::DeviceView& device);
// {"devices":[...],"total":n,"online":m}, as GET /api/v1/devices answers.
nlohmann::json DeviceListJson(const std::vector<ingest::DeviceView>& devices);
// The hello message's text.
std::string HelloMessage(const std::vector<ingest::DeviceView>& devices);

// The messages of logged events, without the id the log gives them: each builder returns the record to append,
// its `message` set. `device` is the camera's current view, when it is known.
store::EventRecord DeviceEvent(const char* event_type, const std::string& device_id, int64_t ts_ms,
                               const ingest::DeviceView* device);
store::EventRecord DeviceUpdatedEvent(const ingest::DeviceView& device, int64_t ts_ms);
// A stored frame's URL, as frame listings, footage timelines and events give it. `node`, when not empty, is the
// node that stores it (a cluster's: `?node=`), so that any node can fetch it from there after its camera has moved.
std::string FrameUrl(const std::string& device_id, uint64_t frame_id, const std::string& node);
// `e` holds the recognition's columns (type, device, person, distance, box, frame id); adds the message. `frame_node`
// (EventOptions::frame_node) is named in frame_url when not empty.
void CompleteRecognitionEvent(store::EventRecord* e, const Frame::Meta& frame, const ingest::DeviceView* device,
                              const std::string& frame_node);
store::EventRecord PersonLeftEvent(int64_t person_id, const std::string& name, const std::string& device_id,
                                   int64_t last_seen_ms, int64_t ts_ms);
// appearance_ended, its event_id null until SetAppearanceEvent gives it one.
store::EventRecord AppearanceEndedEvent(const std::string& device_id, const ingest::DeviceView* device,
                                        std::optional<int64_t> person_id, const std::string& name,
                                        int64_t first_seen_ms, int64_t last_seen_ms, int64_t ts_ms);
void SetAppearanceEvent(store::EventRecord* appearance_ended, int64_t event_id);
// person_added, person_updated (with `previous_name`) or person_removed.
store::EventRecord PersonEvent(const char* event_type, int64_t person_id, const std::string& name,
                               const std::string& previous_name, int64_t ts_ms);
store::EventRecord StoragePressureEvent(const std::string& reason, uint64_t frames_dropped, uint64_t bytes,
                                        uint64_t budget_bytes, int64_t ts_ms);

// A logged event as the events API shows it and every output sends it: its message with its id, feedback and
// thumbnail URL. Rows from before messages were kept are rebuilt from their columns.
nlohmann::json EventJson(const store::EventRecord& event);
// The same, ready for the bus.
EventPtr ToEvent(const store::EventRecord& event);

}  // namespace iotstream::events
