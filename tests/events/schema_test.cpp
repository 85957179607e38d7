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

json Parse(const EventPtr& e) { return json::parse(e->json); }

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

TEST(EventSchema, DeviceEventsCarryTypeDeviceAndTime) {
  for (const auto& [event, name] : {std::pair{DeviceStateEvent("cam", true, 5), type::kDeviceOnline},
                                    std::pair{DeviceStateEvent("cam", false, 5), type::kDeviceOffline},
                                    std::pair{DeviceRemovedEvent("cam", 5), type::kDeviceRemoved}}) {
    EXPECT_EQ(event->type, name);
    EXPECT_EQ(event->device_id, "cam");
    const json j = Parse(event);
    EXPECT_EQ(j["type"], name);
    EXPECT_EQ(j["device_id"], "cam");
    EXPECT_EQ(j["ts"], 5);
  }
  ingest::DeviceView renamed = Device("cam", true);
  renamed.record.name = "Front door";
  const EventPtr updated = DeviceUpdatedEvent(renamed);
  EXPECT_EQ(updated->type, type::kDeviceUpdated);
  EXPECT_EQ(Parse(updated)["device"]["name"], "Front door");
}

TEST(EventSchema, RecognitionEventsAsStoredAndAsPushed) {
  store::EventRecord e;
  e.id = 12;
  e.type = type::kUnknownFace;
  e.ts_ms = 100;
  e.device_id = "cam";
  e.person_id = 3;  // the nearest person, not a match
  e.name = "Ada";
  e.has_thumbnail = true;
  const json stored = EventJson(e);
  EXPECT_EQ(stored["name"], nullptr);
  EXPECT_EQ(stored["person_id"], 3);
  EXPECT_EQ(stored["thumbnail_url"], "/api/v1/events/12/thumbnail.jpg");
  EXPECT_EQ(stored["feedback"], nullptr);
  EXPECT_FALSE(stored.contains("frame_received_at"));

  e.type = type::kPersonRecognised;
  e.feedback_correct = false;
  const EventPtr pushed = RecognitionEvent(e, 90);
  EXPECT_EQ(pushed->type, type::kPersonRecognised);
  const json j = Parse(pushed);
  EXPECT_EQ(j["name"], "Ada");
  EXPECT_EQ(j["feedback"], "wrong");
  EXPECT_EQ(j["frame_received_at"], 90);
}

}  // namespace
}  // namespace iotstream::events
