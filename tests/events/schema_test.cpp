// The event schema: each builder's message has its type and the fields the dashboard and API clients read.
#include "events/schema.h"

#include <gtest/gtest.h>

namespace iotstream::events {
namespace {

using nlohmann::json;

ingest::DeviceView Device(const std::string& id, bool online) {
  ingest::DeviceView v;
  v.record.id = id;
  v.record.last_width = 640;
  v.online = online;
  return v;
}

// What an output receives once the log has given the event an id.
json Sent(store::EventRecord e, int64_t id) {
  e.id = id;
  return json::parse(ToEvent(e)->json);
}

TEST(EventSchema, HelloIsTheDeviceListWithItsType) {
  const json hello = json::parse(HelloMessage({Device("a", true), Device("b", false)}));
  EXPECT_EQ(hello["type"], type::kHello);
  EXPECT_EQ(hello["total"], 2);
  EXPECT_EQ(hello["online"], 1);
  ASSERT_EQ(hello["devices"].size(), 2u);
  EXPECT_EQ(hello["devices"][0]["id"], "a");
  EXPECT_EQ(hello["devices"][0]["name"], "a");  // unnamed devices show their id
  EXPECT_EQ(hello["devices"][1]["status"], "offline");
  EXPECT_EQ(hello["devices"][0]["resolution"]["width"], 640);
}

TEST(EventSchema, DeviceEventsCarryTypeIdDeviceCameraAndTime) {
  ingest::DeviceView porch = Device("cam", true);
  porch.record.name = "Porch";
  porch.record.location = "front";
  for (const char* name : {type::kDeviceAdded, type::kDeviceOnline, type::kDeviceOffline}) {
    const store::EventRecord e = DeviceEvent(name, "cam", 5, &porch);
    EXPECT_EQ(e.type, name);
    EXPECT_EQ(e.device_id, "cam");
    const json j = Sent(e, 7);
    EXPECT_EQ(j["id"], 7);
    EXPECT_EQ(j["type"], name);
    EXPECT_EQ(j["device_id"], "cam");
    EXPECT_EQ(j["camera_name"], "Porch");
    EXPECT_EQ(j["location"], "front");
    EXPECT_EQ(j["ts"], 5);
  }
  EXPECT_EQ(Sent(DeviceEvent(type::kDeviceRemoved, "gone", 9, nullptr), 8)["camera_name"], "gone");
  const json updated = Sent(DeviceUpdatedEvent(porch, 6), 9);
  EXPECT_EQ(updated["type"], type::kDeviceUpdated);
  EXPECT_EQ(updated["device"]["name"], "Porch");
}

TEST(EventSchema, RecognitionEventsCarryCameraPersonFrameAndLatency) {
  store::EventRecord e;
  e.type = type::kPersonRecognised;
  e.ts_ms = 1'000'120;
  e.device_id = "cam";
  e.frame_id = 42;
  e.person_id = 3;
  e.name = "Ada";
  e.distance = 0.412345;
  e.box_w = 80;
  Frame::Meta frame;
  frame.capture_ts_ms = 999'990;
  frame.received_ts_ms = 1'000'000;
  ingest::DeviceView door = Device("cam", true);
  door.record.name = "Door";
  CompleteRecognitionEvent(&e, frame, &door, "");
  e.has_thumbnail = true;
  const json j = Sent(e, 12);
  EXPECT_EQ(j["id"], 12);
  EXPECT_EQ(j["type"], type::kPersonRecognised);
  EXPECT_EQ(j["camera_name"], "Door");
  EXPECT_EQ(j["name"], "Ada");
  EXPECT_EQ(j["person_id"], 3);
  EXPECT_DOUBLE_EQ(j["distance"].get<double>(), 0.4123);
  EXPECT_EQ(j["box"]["w"], 80);
  EXPECT_EQ(j["frame_id"], 42);
  EXPECT_EQ(j["frame_ts"], 999'990);
  EXPECT_EQ(j["latency_ms"], 120);
  EXPECT_EQ(j["frame_url"], "/api/v1/devices/cam/frames/42");
  EXPECT_EQ(j["thumbnail_url"], "/api/v1/events/12/thumbnail.jpg");
  EXPECT_EQ(j["feedback"], nullptr);

  store::EventRecord unknown;
  unknown.type = "anything else";
  unknown.person_id = 3;  // the nearest person, not a match
  unknown.name = "Ada";
  unknown.device_id = "cam";
  unknown.frame_id = 43;
  CompleteRecognitionEvent(&unknown, frame, nullptr, "n2");
  EXPECT_EQ(unknown.type, type::kUnknownFace);
  EXPECT_EQ(Sent(unknown, 13)["name"], nullptr);
  // In a cluster the frame's URL names the node that stores it.
  EXPECT_EQ(Sent(unknown, 13)["frame_url"], "/api/v1/devices/cam/frames/43?node=n2");
}

TEST(EventSchema, RowsLoggedBeforeMessagesWereKeptAreRebuilt) {
  store::EventRecord old;
  old.id = 4;
  old.type = type::kPersonRecognised;
  old.device_id = "cam";
  old.name = "Ada";
  old.feedback_correct = false;
  const json j = EventJson(old);
  EXPECT_EQ(j["id"], 4);
  EXPECT_EQ(j["name"], "Ada");
  EXPECT_EQ(j["feedback"], "wrong");
  EXPECT_EQ(j["thumbnail_url"], nullptr);
}

TEST(EventSchema, PresenceAndStoragePressure) {
  const json left = Sent(PersonLeftEvent(3, "Ada", "cam", 100, 700), 1);
  EXPECT_EQ(left["type"], type::kPersonLeft);
  EXPECT_EQ(left["name"], "Ada");
  EXPECT_EQ(left["device_id"], "cam");
  EXPECT_EQ(left["last_seen"], 100);
  const json pressure = Sent(StoragePressureEvent("queue_full", 5, 10, 20, 700), 2);
  EXPECT_EQ(pressure["type"], type::kStoragePressure);
  EXPECT_EQ(pressure["reason"], "queue_full");
  EXPECT_EQ(pressure["frames_dropped"], 5);
  EXPECT_FALSE(pressure.contains("thumbnail_url"));
}

}  // namespace
}  // namespace iotstream::events
