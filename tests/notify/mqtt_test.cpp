// MqttPublisher against a real broker (Debian's mosquitto, started here) and a real subscriber.
#include "notify/mqtt.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/metrics.h"
#include "notify/broker.h"
#include "notify/home_assistant.h"
#include "support/test_support.h"

namespace iotstream::notify {
namespace {

using nlohmann::json;
using testing::Broker;
using testing::Subscriber;
using testing::TempDir;
using testing::WaitFor;

EventPtr MakeEvent(const std::string& type, const std::string& device, json body) {
  body["type"] = type;
  if (!device.empty()) body["device_id"] = device;
  return std::make_shared<const Event>(Event{type, device, body.dump()});
}

EventPtr Recognition(const std::string& device, const std::string& name, uint64_t frame_id, int64_t id = 1) {
  const bool known = !name.empty();
  return MakeEvent(known ? "person_recognised" : "unknown_face", device,
                   json{{"id", id},
                        {"ts", NowMs()},
                        {"frame_id", frame_id},
                        {"person_id", 7},
                        {"name", known ? json(name) : json(nullptr)},
                        {"distance", 0.41},
                        {"box", {{"x", 1}, {"y", 2}, {"w", 30}, {"h", 30}}}});
}

class MqttTest : public ::testing::Test {
 protected:
  MqttOptions Options(const Broker& broker) const {
    MqttOptions o;
    o.url = ParseMqttUrl(broker.url()).value();
    o.prefix = "iot";
    o.http_base_url = "http://cams.lan:9003";
    o.sw_version = "test";
    o.reconnect_max_s = 1;
    return o;
  }
  std::unique_ptr<MqttPublisher> StartPublisher(MqttOptions o, MqttCallbacks callbacks = {},
                                                const Clock& clock = SystemClock()) {
    auto started = MqttPublisher::Start(std::move(o), std::move(callbacks), metrics_, clock);
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    return started.ok() ? std::move(started).value() : nullptr;
  }

  TempDir dir_;
  Metrics metrics_;
};

// With a broker and a subscriber to every topic on it.
class MqttSubscribedTest : public MqttTest {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<Broker>(dir_.path() / "broker");
    ASSERT_NE(broker_->port(), 0);
    sub_ = std::make_unique<Subscriber>(broker_->port());
    ASSERT_TRUE(WaitFor([this] { return sub_->subscribed(); }));
  }

  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Subscriber> sub_;
};

TEST_F(MqttSubscribedTest, DiscoveryConfigsHaveWhatHomeAssistantRequires) {
  const Broker& broker = *broker_;
  Subscriber& sub = *sub_;
  MqttCallbacks callbacks;
  callbacks.cameras = [] { return std::vector<CameraInfo>{{"front.door", "Front door", "Hall", true}}; };
  callbacks.people = [] { return std::vector<std::string>{"Alice Smith"}; };
  auto mqtt = StartPublisher(Options(broker), callbacks);
  ASSERT_NE(mqtt, nullptr);

  const std::vector<std::string> expected{
      "homeassistant/binary_sensor/iotstream_front_door/occupancy/config",
      "homeassistant/binary_sensor/iotstream_front_door/connectivity/config",
      "homeassistant/sensor/iotstream_front_door/person/config",
      "homeassistant/camera/iotstream_front_door/image/config",
      "homeassistant/device_tracker/iotstream_person_alice_smith/presence/config",
      "homeassistant/sensor/iotstream_person_alice_smith/last_seen/config",
      "homeassistant/event/iotstream/recognition/config"};
  ASSERT_TRUE(WaitFor([&] { return sub.Under("homeassistant/").size() == expected.size(); }))
      << sub.Under("homeassistant/").size();
  for (const auto& topic : expected) {
    const auto payload = sub.Last(topic);
    ASSERT_TRUE(payload) << topic;
    const json config = json::parse(*payload, nullptr, false);
    ASSERT_TRUE(config.is_object()) << topic << ": " << *payload;
    EXPECT_TRUE(config.contains("unique_id")) << topic;
    EXPECT_TRUE(config.contains("state_topic") || config.contains("topic")) << topic;
    EXPECT_EQ(config.value("availability_topic", ""), "iot/available") << topic;
    ASSERT_TRUE(config["device"]["identifiers"].is_array()) << topic;
    EXPECT_FALSE(config["device"]["identifiers"].empty()) << topic;
    EXPECT_EQ(config["device"]["manufacturer"], "iotstream") << topic;
    EXPECT_EQ(config["origin"]["name"], "iotstream") << topic;
  }
  const json tracker = json::parse(*sub.Last(expected[4]));
  EXPECT_EQ(tracker["state_topic"], "iot/person/alice_smith/state");
  EXPECT_EQ(tracker["source_type"], "router");
  const json event = json::parse(*sub.Last(expected[6]));
  EXPECT_EQ(event["event_types"], json::array({"person_recognised", "unknown_face"}));
  const json camera = json::parse(*sub.Last(expected[3]));
  EXPECT_EQ(camera["topic"], "iot/front.door/image");
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/front.door/attributes").has_value(); }));
  EXPECT_EQ(json::parse(*sub.Last("iot/front.door/attributes"))["mjpeg_url"],
            "http://cams.lan:9003/api/v1/devices/front.door/mjpeg");
  EXPECT_EQ(sub.Last("iot/available"), "online");
  EXPECT_TRUE(WaitFor([&] { return sub.Last("iot/front.door/state") == "online"; })) << "the snapshot's state";

  // Home Assistant coming back (its birth message) gets every config again.
  const size_t sent = sub.On(expected[0]).size();
  sub.Publish("homeassistant/status", "online");
  ASSERT_TRUE(WaitFor([&] { return sub.On(expected[0]).size() > sent && sub.On(expected[6]).size() > 1; }));

  // A removed camera's configs are emptied: Home Assistant removes its entities.
  mqtt->Publish(MakeEvent("device_removed", "front.door", json{{"ts", NowMs()}}));
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(WaitFor([&] { return sub.Last(expected[i]) == ""; })) << expected[i] << " not removed";
  }
  EXPECT_TRUE(WaitFor([&] { return sub.Last("iot/front.door/state") == ""; }));
  EXPECT_NE(sub.Last(expected[4]), "") << "people stay";
}

TEST_F(MqttSubscribedTest, ARecognitionReachesTheEventsThePersonTopicsAndTheCameraImage) {
  const Broker& broker = *broker_;
  Subscriber& sub = *sub_;
  MqttCallbacks callbacks;
  callbacks.frame = [](uint64_t frame_id) -> Result<std::string> {
    if (frame_id != 42) return Status::NotFound("no such frame");
    return std::string("\xff\xd8 the jpeg \xff\xd9");
  };
  auto mqtt = StartPublisher(Options(broker), callbacks);
  ASSERT_NE(mqtt, nullptr);
  mqtt->Publish(MakeEvent("device_updated", "cam1",
                          json{{"device", {{"id", "cam1"}, {"name", "Porch"}, {"location", "Porch"}}}}));
  mqtt->Publish(Recognition("cam1", "Alice", 42));

  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/person/alice/state").has_value(); }));
  EXPECT_EQ(sub.Last("iot/person/alice/state"), "Porch") << "the camera's location";
  EXPECT_EQ(sub.Last("iot/cam1/person"), "Alice");
  EXPECT_EQ(sub.Last("iot/cam1/occupancy"), "ON");
  ASSERT_TRUE(WaitFor([&] { return sub.On("iot/events").size() == 2; }));
  const json event = json::parse(sub.On("iot/events")[1]);
  EXPECT_EQ(event["type"], "person_recognised");
  EXPECT_EQ(event["name"], "Alice");
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/events/recognition").has_value(); }));
  const json ha_event = json::parse(*sub.Last("iot/events/recognition"));
  EXPECT_EQ(ha_event["event_type"], "person_recognised");
  EXPECT_EQ(ha_event["frame_id"], 42);
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/cam1/image").has_value(); }));
  EXPECT_EQ(sub.Last("iot/cam1/image"), "\xff\xd8 the jpeg \xff\xd9");
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/person/alice/last_seen").has_value(); }));
  EXPECT_EQ(sub.Last("iot/person/alice/last_seen")->size(), 20u) << *sub.Last("iot/person/alice/last_seen");

  // A stranger: the camera's person topic says unknown; nobody's presence changes.
  mqtt->Publish(Recognition("cam1", "", 43, 2));
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/cam1/person") == "unknown"; }));
  ASSERT_TRUE(WaitFor([&] { return sub.On("iot/events/recognition").size() == 2; }));
  EXPECT_EQ(json::parse(sub.On("iot/events/recognition")[1])["event_type"], "unknown_face");
  for (const auto& state : sub.On("iot/person/alice/state")) EXPECT_EQ(state, "Porch");
  // A device event sets the camera's state.
  mqtt->Publish(MakeEvent("device_online", "cam1", json{{"ts", NowMs()}}));
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/cam1/state") == "online"; }));
  EXPECT_EQ(mqtt->stats().dropped, 0u);
  EXPECT_TRUE(WaitFor([&] { return mqtt->stats().queued == 0; }));
}

TEST_F(MqttSubscribedTest, OccupancyGoesOffAndAPersonWhoLeftIsNotHome) {
  const Broker& broker = *broker_;
  Subscriber& sub = *sub_;
  ManualClock clock;
  MqttOptions o = Options(broker);
  auto mqtt = StartPublisher(o, {}, clock);
  ASSERT_NE(mqtt, nullptr);
  mqtt->Publish(Recognition("garage", "Bob", 1));
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/person/bob/state") == "garage"; }));
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/garage/occupancy") == "ON"; }));

  clock.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/garage/occupancy") == "OFF"; }));
  EXPECT_EQ(sub.Last("iot/person/bob/state"), "garage");

  mqtt->Publish(MakeEvent("person_left", "", json{{"person_id", 1}, {"name", "Bob"}, {"device_id", "garage"},
                                                   {"last_seen", NowMs()}}));
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/person/bob/state") == "not_home"; }));
  ASSERT_TRUE(WaitFor([&] { return sub.On("iot/events").size() == 2; }));
  const json left = json::parse(sub.On("iot/events")[1]);
  EXPECT_EQ(left["type"], "person_left");
  EXPECT_EQ(left["name"], "Bob");
  EXPECT_EQ(left["device_id"], "garage");
}

TEST_F(MqttTest, ABrokerRestartLosesNoEventAndKeepsTheOrder) {
  Broker broker(dir_.path() / "broker", /*persistent=*/true);
  ASSERT_NE(broker.port(), 0);
  // A persistent session: what is published while this subscriber reconnects is kept for it.
  Subscriber sub(broker.port(), "iot/events", "restart-test-subscriber");
  ASSERT_TRUE(WaitFor([&] { return sub.subscribed(); }));
  auto mqtt = StartPublisher(Options(broker));
  ASSERT_NE(mqtt, nullptr);
  ASSERT_TRUE(WaitFor([&] { return mqtt->stats().connected; }));
  auto numbered = [](int i) { return MakeEvent("device_online", "cam" + std::to_string(i), json{{"seq", i}}); };
  for (int i = 0; i < 20; ++i) mqtt->Publish(numbered(i));
  ASSERT_TRUE(WaitFor([&] { return sub.On("iot/events").size() >= 20; }));

  broker.Stop();
  ASSERT_TRUE(WaitFor([&] { return !mqtt->stats().connected; }));
  for (int i = 20; i < 60; ++i) mqtt->Publish(numbered(i));
  ASSERT_TRUE(WaitFor([&] { return mqtt->stats().queued > 0; }));
  ASSERT_TRUE(broker.Start());
  ASSERT_TRUE(WaitFor([&] { return mqtt->stats().connected; }, std::chrono::seconds(20)));
  for (int i = 60; i < 80; ++i) mqtt->Publish(numbered(i));

  // Every event once at least, first copies in order (QoS 1 may repeat one that was in flight).
  std::vector<int> firsts;
  ASSERT_TRUE(WaitFor(
      [&] {
        firsts.clear();
        std::set<int> seen;
        for (const auto& payload : sub.On("iot/events")) {
          const int seq = json::parse(payload)["seq"];
          if (seen.insert(seq).second) firsts.push_back(seq);
        }
        return firsts.size() == 80;
      },
      std::chrono::seconds(20)))
      << firsts.size() << " of 80 events arrived; broker log:\n" << broker.Log();
  for (int i = 0; i < 80; ++i) EXPECT_EQ(firsts[static_cast<size_t>(i)], i);
  EXPECT_EQ(mqtt->stats().dropped, 0u);
}

TEST_F(MqttTest, WithoutABrokerEventsWaitBoundedAndTheRestAreCountedAsDropped) {
  Broker broker(dir_.path() / "broker");
  ASSERT_NE(broker.port(), 0);
  broker.Stop();
  MqttOptions o = Options(broker);
  o.max_queued_messages = 5;
  o.ha_discovery = false;
  auto mqtt = StartPublisher(o);
  ASSERT_NE(mqtt, nullptr);
  for (int i = 0; i < 20; ++i) mqtt->Publish(MakeEvent("device_removed", "cam", json{{"seq", i}}));
  // Each device_removed makes an event message and clears five retained topics: 6 messages, 5 fit.
  ASSERT_TRUE(WaitFor([&] { return mqtt->stats().dropped >= 115; }));
  EXPECT_EQ(mqtt->stats().queued, 5u);
  EXPECT_EQ(metrics_.CounterValue("notify_mqtt_dropped_total").value(), mqtt->stats().dropped);
  EXPECT_EQ(metrics_.GaugeValue("notify_mqtt_queue_depth").value(), 5);
  EXPECT_FALSE(mqtt->stats().connected);
  mqtt->Stop();  // returns although nothing can be delivered
}

TEST_F(MqttSubscribedTest, StopDeliversWhatIsQueuedThenSaysOffline) {
  const Broker& broker = *broker_;
  Subscriber& sub = *sub_;
  auto mqtt = StartPublisher(Options(broker));
  ASSERT_NE(mqtt, nullptr);
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/available") == "online"; }));
  for (int i = 0; i < 50; ++i) mqtt->Publish(MakeEvent("device_online", "cam", json{{"seq", i}}));
  mqtt->Stop();
  EXPECT_EQ(mqtt->stats().published, 50u + 50u + 5u + 1u + 1u + 1u)
      << "50 events and 50 states, the camera's 4 configs and attributes, the event config, online, offline";
  ASSERT_TRUE(WaitFor([&] { return sub.Last("iot/available") == "offline"; }));
  EXPECT_EQ(sub.On("iot/events").size(), 50u);
  mqtt->Publish(MakeEvent("device_online", "cam", json{}));
  EXPECT_EQ(mqtt->stats().dropped, 1u) << "after Stop events are dropped";
}

TEST(HomeAssistant, SlugsKeepOnlyWhatTopicsAndNodeIdsAllow) {
  EXPECT_EQ(PersonSlug("Alice Smith"), "alice_smith");
  EXPECT_EQ(PersonSlug("  Zoë-O'Neil 2 "), "zo_o_neil_2");
  EXPECT_EQ(PersonSlug("???"), "person");
  EXPECT_EQ(NodeSlug("cam-1.front:a"), "cam-1_front_a");
}

TEST(HomeAssistant, RemovalCoversEveryCameraConfig) {
  MqttOptions o;
  std::set<std::string> configs, removed;
  CameraInfo camera;
  camera.id = "c:1";
  for (const auto& m : CameraDiscovery(o, camera)) {
    if (m.topic.rfind("homeassistant/", 0) == 0) configs.insert(m.topic);
  }
  for (const auto& m : CameraDiscoveryRemoval(o, "c:1")) {
    EXPECT_TRUE(m.payload.empty());
    EXPECT_TRUE(m.retain);
    removed.insert(m.topic);
  }
  EXPECT_EQ(configs, removed);
}

}  // namespace
}  // namespace iotstream::notify
