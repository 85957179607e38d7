#include "notify/home_assistant.h"

#include <cctype>

#include <nlohmann/json.hpp>

namespace iotstream::notify {
namespace {

using nlohmann::json;

// The (component, object) pairs of a camera's configs, in the order CameraDiscovery sends them.
constexpr std::pair<const char*, const char*> kCameraConfigs[] = {
    {"binary_sensor", "occupancy"}, {"binary_sensor", "connectivity"}, {"sensor", "person"}, {"camera", "image"}};

std::string ConfigTopic(const MqttOptions& o, const char* component, const std::string& node, const char* object) {
  return o.ha_prefix + "/" + component + "/" + node + "/" + object + "/config";
}

json Origin(const MqttOptions& o) { return json{{"name", "iotstream"}, {"sw_version", o.sw_version}}; }

json Device(const std::string& identifier, const std::string& name, const char* model) {
  return json{
      {"identifiers", json::array({identifier})}, {"name", name}, {"manufacturer", "iotstream"}, {"model", model}};
}

// The keys every config shares.
json Base(const MqttOptions& o, const std::string& unique_id, const char* name, const json& device) {
  return json{{"unique_id", unique_id},   {"object_id", unique_id}, {"name", name},
              {"availability_topic", o.prefix + "/available"}, {"device", device}, {"origin", Origin(o)}};
}

MqttMessage Retained(std::string topic, std::string payload) {
  return MqttMessage{std::move(topic), std::move(payload), /*retain=*/true};
}

}  // namespace

std::string PersonSlug(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "person" : out;
}

std::string NodeSlug(std::string_view id) {
  std::string out(id);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (!(u < 0x80 && (std::isalnum(u) || c == '_' || c == '-'))) c = '_';
  }
  return out;
}

std::vector<MqttMessage> CameraDiscovery(const MqttOptions& o, const CameraInfo& camera) {
  const std::string node = "iotstream_" + NodeSlug(camera.id);
  const std::string base = o.prefix + "/" + camera.id;
  const json device = Device(node, camera.name.empty() ? camera.id : camera.name, "camera");
  std::vector<MqttMessage> out;

  auto binary_sensor = [&](const char* object, const char* name, const char* leaf, const char* on, const char* off) {
    json config = Base(o, node + "_" + object, name, device);
    config["device_class"] = object;
    config["state_topic"] = base + "/" + leaf;
    config["payload_on"] = on;
    config["payload_off"] = off;
    return config;
  };
  out.push_back(Retained(ConfigTopic(o, "binary_sensor", node, "occupancy"),
                         binary_sensor("occupancy", "Occupancy", "occupancy", "ON", "OFF").dump()));
  json connectivity = binary_sensor("connectivity", "Online", "state", "online", "offline");
  connectivity["entity_category"] = "diagnostic";
  out.push_back(Retained(ConfigTopic(o, "binary_sensor", node, "connectivity"), connectivity.dump()));

  json person = Base(o, node + "_person", "Last person", device);
  person["state_topic"] = base + "/person";
  person["icon"] = "mdi:face-recognition";
  out.push_back(Retained(ConfigTopic(o, "sensor", node, "person"), person.dump()));

  json image = Base(o, node + "_image", "Last recognition", device);
  image["topic"] = base + "/image";
  image["json_attributes_topic"] = base + "/attributes";
  out.push_back(Retained(ConfigTopic(o, "camera", node, "image"), image.dump()));

  const std::string urls = o.http_base_url + "/api/v1/devices/" + camera.id;
  out.push_back(Retained(base + "/attributes", json{{"mjpeg_url", urls + "/mjpeg"},
                                                    {"snapshot_url", urls + "/snapshot.jpg"},
                                                    {"name", camera.name.empty() ? camera.id : camera.name},
                                                    {"location", camera.location}}
                                                   .dump()));
  return out;
}

std::vector<MqttMessage> CameraDiscoveryRemoval(const MqttOptions& o, const std::string& id) {
  const std::string node = "iotstream_" + NodeSlug(id);
  std::vector<MqttMessage> out;
  for (const auto& [component, object] : kCameraConfigs) {
    out.push_back(Retained(ConfigTopic(o, component, node, object), ""));
  }
  return out;
}

std::vector<MqttMessage> PersonDiscovery(const MqttOptions& o, const std::string& name) {
  const std::string slug = PersonSlug(name);
  const std::string node = "iotstream_person_" + slug;
  const std::string base = o.prefix + "/person/" + slug;
  const json device = Device(node, name, "person");
  std::vector<MqttMessage> out;

  json tracker = Base(o, "iotstream_" + slug, "Presence", device);
  tracker["state_topic"] = base + "/state";
  tracker["source_type"] = "router";
  tracker["payload_home"] = "home";
  tracker["payload_not_home"] = "not_home";
  tracker["icon"] = "mdi:account";
  out.push_back(Retained(ConfigTopic(o, "device_tracker", node, "presence"), tracker.dump()));

  json last_seen = Base(o, "iotstream_" + slug + "_last_seen", "Last seen", device);
  last_seen["state_topic"] = base + "/last_seen";
  last_seen["device_class"] = "timestamp";
  out.push_back(Retained(ConfigTopic(o, "sensor", node, "last_seen"), last_seen.dump()));
  return out;
}

std::vector<MqttMessage> PersonDiscoveryRemoval(const MqttOptions& o, const std::string& name) {
  const std::string node = "iotstream_person_" + PersonSlug(name);
  return {Retained(ConfigTopic(o, "device_tracker", node, "presence"), ""),
          Retained(ConfigTopic(o, "sensor", node, "last_seen"), "")};
}

MqttMessage RecognitionEventDiscovery(const MqttOptions& o) {
  json event = Base(o, "iotstream_recognition", "Recognition", Device("iotstream", "iotstream", "server"));
  event["state_topic"] = o.prefix + "/events/recognition";
  event["event_types"] = json::array({"person_recognised", "unknown_face"});
  event["icon"] = "mdi:face-recognition";
  return Retained(ConfigTopic(o, "event", "iotstream", "recognition"), event.dump());
}

}  // namespace iotstream::notify
